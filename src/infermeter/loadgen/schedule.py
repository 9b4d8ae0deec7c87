"""Open-loop arrival schedules, generated from a seed before the run (as MLPerf LoadGen does).

Offsets are nanoseconds from the start of the window. Latency in an open loop is measured from each
request's scheduled time, so a server that stalls cannot hide the requests it delayed.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import numpy as np

Arrival = Literal["poisson", "constant"]


def arrivals(rate: float, duration_s: float, kind: Arrival = "poisson", seed: int = 0) -> np.ndarray:
    """Scheduled send times (ns offsets, sorted) for `rate` requests/s over `duration_s` seconds."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    if duration_s <= 0:
        raise ValueError("duration must be positive")
    horizon = duration_s * 1e9
    if kind == "constant":
        n = int(np.floor(rate * duration_s))
        return (np.arange(n, dtype=np.float64) * (1e9 / rate)).astype(np.int64)
    rng = np.random.default_rng(seed)
    # Draw a little more than expected, then cut at the horizon.
    n = int(rate * duration_s + 6 * np.sqrt(rate * duration_s) + 10)
    t = np.cumsum(rng.exponential(1e9 / rate, n))
    while t[-1] < horizon:  # astronomically rare: extend
        t = np.concatenate([t, t[-1] + np.cumsum(rng.exponential(1e9 / rate, n))])
    return t[t < horizon].astype(np.int64)


def split(offsets: np.ndarray, parts: int) -> list[np.ndarray]:
    """Deal a schedule round-robin to `parts` generator processes: each keeps the same time span."""
    return [offsets[i::parts] for i in range(parts)]


def schedule_bytes(offsets: tuple[int, ...] | np.ndarray) -> bytes:
    return np.asarray(offsets, dtype="<i8").tobytes()


def digest(offsets: tuple[int, ...] | np.ndarray) -> str:
    """What identifies a share's send times: a generator reports it with its figures, so that the shares
    run can be checked against the schedule drawn."""
    return hashlib.sha256(schedule_bytes(offsets)).hexdigest()[:16]
