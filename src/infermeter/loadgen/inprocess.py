"""In-process scenarios: single-stream / offline (one caller, back to back) and concurrent (N threads).

The timed region is exactly one predict() call: numpy in, numpy out. Timestamps come from
perf_counter_ns; nothing else happens between them. A window lasts until both a minimum duration and a
minimum number of calls are reached (or the maximum duration, which is then flagged), or until a call
fails: the error is recorded and the window ends. Warm-up before the first window lasts until the
latency no longer drifts (loadgen/warmup.py).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from infermeter.loadgen.warmup import WarmupResult, WarmupRule, WarmupTracker

Predict = Callable[[dict[str, np.ndarray]], object]


@dataclass(frozen=True)
class WindowRule:
    min_iterations: int
    min_seconds: float
    max_seconds: float


@dataclass
class Window:
    latencies_ns: np.ndarray
    wall_ns: int
    capped: bool  # stopped by max_seconds before the minimum count was reached (not by a failing call)
    errors: list[str] = field(default_factory=list)


def warm_up(predict: Predict, batches: list[dict[str, np.ndarray]], rule: WarmupRule,
            clock: Callable[[], int] = time.perf_counter_ns) -> WarmupResult:
    """Call predict, back to back, until the latency of the last calls no longer drifts (loadgen/warmup.py),
    with rule's minimums and maximum. A failing call ends the warm-up by raising: the cell fails."""
    tracker = WarmupTracker(rule)
    k = len(batches)
    n = 0
    start = clock()
    while True:
        t0 = clock()
        predict(batches[n % k])
        t1 = clock()
        n += 1
        if tracker.add(t1 - t0, t1 - start):
            return tracker.result()


def sequential(predict: Predict, batches: list[dict[str, np.ndarray]], rule: WindowRule) -> Window:
    """One caller, each call right after the previous returns."""
    clock = time.perf_counter_ns
    min_end = rule.min_seconds * 1e9
    max_end = rule.max_seconds * 1e9
    k = len(batches)
    lat: list[int] = []
    errors: list[str] = []
    append = lat.append
    i = 0
    start = t1 = clock()
    while True:
        batch = batches[i % k]
        t0 = clock()
        try:
            predict(batch)
        except Exception as exc:  # recorded and the window ends, as in concurrent(): the worker counts it
            t1 = clock()
            errors.append(repr(exc))
            break
        t1 = clock()
        append(t1 - t0)
        i += 1
        elapsed = t1 - start
        if (i >= rule.min_iterations and elapsed >= min_end) or elapsed >= max_end:
            break
    return Window(np.asarray(lat, dtype=np.int64), t1 - start, capped=not errors and i < rule.min_iterations, errors=errors)


def concurrent(predict: Predict, batches: list[dict[str, np.ndarray]], rule: WindowRule, workers: int) -> Window:
    """`workers` threads in a closed loop, each sending its next call as soon as its previous returns."""
    clock = time.perf_counter_ns
    per_thread: list[list[int]] = [[] for _ in range(workers)]
    errors: list[str] = []
    done = threading.Event()
    count = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(workers + 1)
    start_box = [0]

    def loop(idx: int) -> None:
        lat = per_thread[idx]
        k = len(batches)
        i = idx
        barrier.wait()
        start = start_box[0]
        while not done.is_set():
            t0 = clock()
            try:
                predict(batches[i % k])
            except Exception as exc:  # recorded, the window goes on
                errors.append(repr(exc))
                done.set()
                break
            t1 = clock()
            lat.append(t1 - t0)
            i += workers
            with lock:
                count[0] += 1
                n = count[0]
            elapsed = t1 - start
            if (n >= rule.min_iterations and elapsed >= rule.min_seconds * 1e9) or elapsed >= rule.max_seconds * 1e9:
                done.set()

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(workers)]
    for t in threads:
        t.start()
    start_box[0] = clock()
    barrier.wait()
    for t in threads:
        t.join()
    wall = clock() - start_box[0]
    lat = np.concatenate([np.asarray(x, dtype=np.int64) for x in per_thread])
    return Window(lat, wall, capped=not errors and len(lat) < rule.min_iterations, errors=errors)
