"""Capacity under an SLO: the highest arrival rate (open loop) and the most users (closed loop) a target
serves within a latency bound. search.py is the search (bracketing, then bisection), probes.py turns a
measured window into a decision, endpoint.py and engine.py measure windows on an HTTP endpoint and on an
engine in process."""
