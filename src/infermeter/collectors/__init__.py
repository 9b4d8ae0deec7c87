"""Collectors: what is measured beside the timing (process resources, machine and package facts)."""
