"""Serving frameworks: adapters that start a real server process, package the model its way, and stop it."""
