"""How fast the machine itself is right now: a fixed reference computation timed before and after each
measurement window.

On a virtual machine the CPU a process gets changes with what the host's other tenants do, and nothing
inside the machine shows it (no other process is busy, steal time stays near zero): here, with the
machine idle, the same 384x384 matrix product took 1.5 to 4.0 ms over one minute. When a cell's repeats
disagree, the probe says whether the machine slowed down with them, so a warning that blames the machine
has its evidence.
"""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np

SIZE = 256
CALLS = 9  # the median of these: one call caught by a context switch does not move it


@lru_cache(maxsize=1)
def _operands() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((SIZE, SIZE)), rng.random((SIZE, SIZE))


def probe_ms() -> float:
    """Median time of one SIZE x SIZE float64 matrix product, in ms (about 10 ms in all on this machine)."""
    a, b = _operands()
    times = []
    for _ in range(CALLS):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)
