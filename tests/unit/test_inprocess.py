import threading
import time

import numpy as np

from infermeter.loadgen.inprocess import WindowRule, concurrent, sequential, warm_up
from infermeter.loadgen.warmup import WarmupRule

BATCHES = [{"x": np.zeros(1)}, {"x": np.ones(1)}]


def test_sequential_window_meets_both_minimums_and_times_every_call():
    calls = []
    w = sequential(lambda b: calls.append(b["x"][0]), BATCHES, WindowRule(min_iterations=50, min_seconds=0.0, max_seconds=10))
    assert len(calls) == 50 == len(w.latencies_ns)
    assert calls[:4] == [0.0, 1.0, 0.0, 1.0]  # cycles through the batches
    assert not w.capped


def test_sequential_window_lasts_min_seconds():
    w = sequential(lambda b: time.sleep(0.001), BATCHES, WindowRule(1, 0.2, 10))
    assert w.wall_ns >= 0.2e9 and len(w.latencies_ns) > 10
    assert np.all(w.latencies_ns >= 1_000_000)


def test_max_seconds_caps_a_slow_window_and_says_so():
    w = sequential(lambda b: time.sleep(0.05), BATCHES, WindowRule(1000, 0.0, 0.2))
    assert w.capped and len(w.latencies_ns) < 1000


def test_concurrent_runs_that_many_callers_at_once():
    active = [0]
    peak = [0]
    lock = threading.Lock()

    def predict(b):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.005)
        with lock:
            active[0] -= 1

    w = concurrent(predict, BATCHES, WindowRule(40, 0.05, 10), workers=4)
    assert peak[0] == 4
    assert len(w.latencies_ns) >= 40
    # 4 callers of a 5 ms call: about 800 calls/s, far above one caller's 200.
    assert len(w.latencies_ns) / (w.wall_ns / 1e9) > 400


def test_concurrent_records_a_failing_call():
    def predict(b):
        raise ValueError("boom")

    w = concurrent(predict, BATCHES, WindowRule(10, 0, 1), workers=2)
    assert w.errors and "boom" in w.errors[0]


def test_concurrent_failure_is_not_mistaken_for_a_capped_window():
    def predict(b):
        raise ValueError("boom")

    assert not concurrent(predict, BATCHES, WindowRule(10, 0, 1), workers=2).capped


def test_sequential_records_a_failing_call_and_ends_the_window():
    calls = []

    def predict(b):
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("boom on call 3")

    w = sequential(predict, BATCHES, WindowRule(min_iterations=50, min_seconds=0.0, max_seconds=10))
    assert len(calls) == 3  # stopped at the failure, like concurrent()
    assert len(w.errors) == 1 and "boom on call 3" in w.errors[0]
    assert len(w.latencies_ns) == 2 and w.wall_ns > 0
    assert not w.capped


def test_warm_up_meets_count_and_time_and_reports_what_it_did():
    r = warm_up(lambda b: time.sleep(0.001), BATCHES, WarmupRule(iterations=50, seconds=0.1, max_seconds=10))
    assert r.calls >= 50 and r.seconds >= 0.1
    assert r.steady and not r.hit_max
    assert r.early_ms >= 1.0 and r.late_ms >= 1.0
