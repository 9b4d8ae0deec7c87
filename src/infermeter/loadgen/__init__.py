"""Load generation: scenarios that drive a target and time every request."""
