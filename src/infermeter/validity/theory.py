"""Exact answers from queueing theory for the calibrated target (one FIFO queue, `workers` servers).

- Little's law, for any stable system: N = X x R (requests in the system = throughput x mean time in it).
  A closed loop of N users with no think time keeps exactly N requests in the system.
- Closed loop, deterministic service S, c workers: X = min(N, c) / S once N >= c (the servers never idle),
  and R = N / X.
- Open loop, Poisson arrivals at rate lambda, one worker (M/G/1, Pollaczek-Khinchine):
  R = E[S] + lambda E[S^2] / (2 (1 - rho)), rho = lambda E[S]. Deterministic service (M/D/1) has
  E[S^2] = E[S]^2; exponential service (M/M/1) has E[S^2] = 2 E[S]^2, and then R is itself exponential
  with rate mu - lambda, so its p-th percentile is -ln(1 - p) / (mu - lambda).
- Percentiles of M/D/1 (and any M/G/1) time in system: simulated with Lindley's recursion on the service
  times a target gave (single_server_response_quantile), and the highest rate whose percentile is within a
  bound found on that simulation (capacity_for_quantile): the capacity search's answer. Checked against
  the M/M/1 formula in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


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



def single_server_response_quantile(rate: float, service_s: Sequence[float], q: float, wake_s: Sequence[float] | None = None,
                                    n: int = 200_000, seed: int = 0) -> float:
    """The q-quantile (0 < q < 1) of time in a FIFO single-server queue with Poisson arrivals at `rate`,
    simulated (Lindley's recursion) over `n` arrivals, with service times drawn from the `service_s` given
    (M/G/1; deterministic service makes it M/D/1). `wake_s`: lateness drawn for an arrival that finds the
    server idle (the server starts it that late), as the in-process callers' wake-up. Seeded: the same
    arrivals, scaled, at every rate, so the quantile rises with the rate without noise between rates."""
    import numpy as np

    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0, n) / rate
    service = rng.choice(np.asarray(service_s, dtype=np.float64), n)
    wake = rng.choice(np.asarray(wake_s, dtype=np.float64), n) if wake_s is not None and len(wake_s) else np.zeros(n)
    arrival = np.cumsum(gaps).tolist()
    service_l, wake_l = service.tolist(), wake.tolist()
    response = np.empty(n)
    free = 0.0  # when the server finishes the previous arrival
    for i in range(n):
        a = arrival[i]
        start = a + wake_l[i] if a >= free else free
        free = start + service_l[i]
        response[i] = free - a
    return float(np.quantile(response, q))


def capacity_for_quantile(service_s: Sequence[float], q: float, bound_s: float, wake_s: Sequence[float] | None = None,
                          n: int = 200_000, seed: int = 0, tolerance: float = 0.002) -> float:
    """The highest Poisson rate at which the simulated q-quantile of time in the system is within `bound_s`
    (single_server_response_quantile; bisection to `tolerance`, relative). 0 when even an idle server's
    response is over the bound."""
    import numpy as np

    mean = float(np.mean(service_s))
    lo, hi = 1e-6 / mean, 1.0 / mean  # stable below 1 / E[S]
    if single_server_response_quantile(lo, service_s, q, wake_s, n, seed) > bound_s:
        return 0.0
    while hi / lo - 1 > tolerance:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if single_server_response_quantile(mid, service_s, q, wake_s, n, seed) <= bound_s else (lo, mid)
    return lo
