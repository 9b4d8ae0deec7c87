"""How fast the machine itself is right now: a fixed reference computation timed before and after each
measurement window.

On a virtual machine the CPU a process gets changes with what the host's other tenants do, and nothing
inside the machine shows it (no other process is busy, steal time stays near zero): here, with the
machine idle, the same 384x384 matrix product took 1.5 to 4.0 ms over one minute. When a cell's repeats
disagree, the probe says whether the machine slowed down with them, so a warning that blames the machine
has its evidence.

The probe is a sort on one thread, not a matrix product: BLAS spreads a product over a thread pool whose
start-up and whose competition with an engine's own (spinning) threads made a 256x256 product read 0.6 to
1.2 ms in one process within seconds, where the sort read 2.6 to 3.1 ms.
"""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np

SIZE = 200_000
CALLS = 7  # the median of these: one call caught by a context switch does not move it


@lru_cache(maxsize=1)
def _values() -> np.ndarray:
    return np.random.default_rng(0).random(SIZE)


def probe_ms() -> float:
    """Median time of sorting SIZE random float64 values on one thread, in ms (about 3 ms each here,
    about 25 ms per probe with its first, untimed call)."""
    values = _values()
    np.sort(values)
    times = []
    for _ in range(CALLS):
        t = time.perf_counter()
        np.sort(values)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)
