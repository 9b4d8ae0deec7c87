"""Exact answers from queueing theory for the calibrated target (one FIFO queue, `workers` servers).

- Little's law, for any stable system: N = X x R (requests in the system = throughput x mean time in it).
  A closed loop of N users with no think time keeps exactly N requests in the system.
- Closed loop, deterministic service S, c workers: X = min(N, c) / S once N >= c (the servers never idle),
  and R = N / X.
- Open loop, Poisson arrivals at rate lambda, one worker (M/G/1, Pollaczek-Khinchine):
  R = E[S] + lambda E[S^2] / (2 (1 - rho)), rho = lambda E[S]. Deterministic service (M/D/1) has
  E[S^2] = E[S]^2; exponential service (M/M/1) has E[S^2] = 2 E[S]^2, and then R is itself exponential
  with rate mu - lambda, so its p-th percentile is -ln(1 - p) / (mu - lambda).
"""

from __future__ import annotations

import math


def littles_law_users(throughput_rps: float, mean_latency_s: float) -> float:
    """N = X x R."""
    return throughput_rps * mean_latency_s


def closed_loop_throughput(users: int, workers: int, service_s: float) -> float:
    """Requests per second of a closed loop without think time; exact once users >= workers, an upper
    bound below that (the client's own round trip adds to each request)."""
    return min(users, workers) / service_s


def mg1_mean_response(rate: float, mean_s: float, second_moment_s2: float) -> float:
    """Pollaczek-Khinchine: mean time in an M/G/1 system (wait + service), seconds."""
    rho = rate * mean_s
    if rho >= 1:
        return math.inf
    return mean_s + rate * second_moment_s2 / (2 * (1 - rho))


def md1_mean_response(rate: float, service_s: float) -> float:
    return mg1_mean_response(rate, service_s, service_s**2)


def mm1_mean_response(rate: float, mean_s: float) -> float:
    return mg1_mean_response(rate, mean_s, 2 * mean_s**2)


def mm1_response_percentile(rate: float, mean_s: float, p: float) -> float:
    """The p-th quantile (0 < p < 1) of M/M/1 time in system, seconds."""
    mu = 1 / mean_s
    if rate >= mu:
        return math.inf
    return -math.log(1 - p) / (mu - rate)

