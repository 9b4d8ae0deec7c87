"""The in-process calibrated target: a callable with a known service time and `workers` parallel servers
(a semaphore), recording the service it actually gave, for checking in-process windows against theory."""

from __future__ import annotations

import random
import threading
import time
from typing import Any


class CalibratedCallable:
    def __init__(self, service_ms: float, workers: int = 1, distribution: str = "deterministic", seed: int = 0) -> None:
        self.service_ms = service_ms
        self.distribution = distribution
        self._slots = threading.Semaphore(workers)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.service_s: list[float] = []

    def _draw(self) -> float:
        if self.distribution == "exponential":
            with self._lock:
                return self._rng.expovariate(1000.0 / self.service_ms)
        return self.service_ms / 1000.0

    def __call__(self, batch: Any) -> None:
        with self._slots:
            t0 = time.perf_counter()
            time.sleep(self._draw())
            given = time.perf_counter() - t0
        with self._lock:
            self.service_s.append(given)

    def mean_service_s(self) -> float:
        with self._lock:
            return sum(self.service_s) / len(self.service_s) if self.service_s else 0.0
