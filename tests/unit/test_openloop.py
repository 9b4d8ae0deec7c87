"""The engines' open loop (loadgen/openloop.py): arrivals served in order from their scheduled times,
latency and lag counted from them, a slow engine's backlog and unsent arrivals reported, M/D/1 met."""

import threading
import time

import numpy as np
import pytest

from infermeter.loadgen.inprocess import WindowRule
from infermeter.loadgen.openloop import NOT_STARTED, open_loop, open_loop_warnings, serve
from infermeter.loadgen.schedule import arrivals
from infermeter.results import histogram
from infermeter.validity import theory
from infermeter.validity.calibrated import CalibratedCallable

MS = 1_000_000
BATCHES = [{"i": np.array([i])} for i in range(8)]


def test_arrivals_are_served_in_order_with_latency_and_lag_from_their_scheduled_time():
    order = []

    def predict(batch):
        order.append(int(batch["i"][0]))
        time.sleep(0.01)

    # 5, 50 and 100 ms are apart (the caller waits for each); 101 and 102 ms queue behind the one at 100 ms.
    schedule = np.array([5, 50, 100, 101, 102], dtype=np.int64) * MS
    w = serve(predict, BATCHES, schedule, span_s=0.11, max_seconds=5)
    assert order == [0, 1, 2, 3, 4]
    assert w.offered == 5 and w.unsent == 0 and w.errors == []
    assert (w.started_ns >= w.schedule_ns).all() and (w.ended_ns > w.started_ns).all()
    assert w.waited.tolist() == [True, True, True, False, False]
    lag = w.lags_ns / MS
    assert lag[:3].max() < 5  # on time, within the caller's wake-up lateness
    assert lag[3] == pytest.approx(9, abs=4) and lag[4] == pytest.approx(18, abs=6)  # waited for the calls before them
    lat = w.latencies_ns / MS
    assert lat[4] == pytest.approx(28, abs=8)  # two calls ahead of it and its own: from its scheduled time, not its start
    assert (w.latencies_ns == w.ended_ns - w.schedule_ns).all()
    assert w.wakeup_lags_ns.size == 3
    assert w.backlog == 2  # 101 and 102 ms were due at the span's end (110 ms) and had not started


def test_an_engine_too_slow_for_the_rate_reports_completed_below_offered_and_a_backlog():
    w = open_loop(lambda b: time.sleep(0.01), BATCHES, 200.0, WindowRule(1, 1.0, 30), callers=1, seed=1)
    assert w.unsent == 0 and w.completed.all()  # served to the end: nothing dropped
    assert w.offered_per_s == pytest.approx(200, rel=0.2)
    assert w.completed_per_s < 0.6 * w.offered_per_s and w.completed_per_s == pytest.approx(100, rel=0.15)
    assert w.backlog > 0.3 * w.offered and w.saturated
    assert np.median(w.lags_ns) > 100 * MS  # the queue's wait shows in the issue lag
    codes = [x.code for x in open_loop_warnings(w, 200.0, WindowRule(1, 1.0, 30))]
    assert codes == ["open-loop-saturated"]


def test_arrivals_not_started_by_max_seconds_are_counted_unsent():
    rule = WindowRule(1, 1.0, 1.3)
    w = open_loop(lambda b: time.sleep(0.01), BATCHES, 200.0, rule, callers=1, seed=1)
    done = int(w.completed.sum())
    assert w.unsent > 0.2 * w.offered and done + w.unsent == w.offered
    assert (w.started_ns[w.started_ns != NOT_STARTED] < 1.3e9).all()
    assert done == pytest.approx(130, rel=0.15)  # about 1.3 s of 10 ms calls
    assert [x.code for x in open_loop_warnings(w, 200.0, rule)] == ["schedule-backlog", "open-loop-saturated"]


def test_more_callers_keep_up_where_one_cannot():
    one = open_loop(lambda b: time.sleep(0.01), BATCHES, 150.0, WindowRule(1, 0.6, 30), callers=1, seed=2)
    three = open_loop(lambda b: time.sleep(0.01), BATCHES, 150.0, WindowRule(1, 0.6, 30), callers=3, seed=2)
    assert one.saturated and not three.saturated
    assert three.completed_per_s == pytest.approx(three.offered_per_s, rel=0.05)
    assert np.mean(three.latencies_ns) < 0.2 * np.mean(one.latencies_ns)


def test_the_schedule_is_the_seeded_one_and_at_least_min_iterations_worth():
    seen = []
    lock = threading.Lock()

    def predict(b):
        with lock:
            seen.append(1)

    w = open_loop(predict, BATCHES, 400.0, WindowRule(100, 0.1, 5), callers=2, seed=5)
    assert (w.schedule_ns == arrivals(400.0, 0.25, "poisson", seed=5)).all()  # 100 arrivals' worth at 400/s: 0.25 s
    assert len(seen) == w.offered
    other = open_loop(predict, BATCHES, 400.0, WindowRule(100, 0.1, 5), callers=2, seed=6)
    assert not np.array_equal(other.schedule_ns, w.schedule_ns)


def test_a_failing_call_ends_the_window_and_the_rest_are_unsent():
    calls = [0]

    def predict(b):
        calls[0] += 1
        if calls[0] == 5:
            raise RuntimeError("boom")

    w = open_loop(predict, BATCHES, 200.0, WindowRule(1, 0.5, 5), callers=1, seed=3)
    assert w.errors and "boom" in w.errors[0]
    assert int(w.completed.sum()) == 4 and w.unsent == w.offered - 5


def test_fields_encode_the_issue_lag_as_latency_is():
    # Three arrivals at once, 5 ms each: at the span's end (1 ms) two are waiting.
    w = serve(lambda b: time.sleep(0.005), BATCHES, np.array([0, 0, 0], dtype=np.int64), span_s=0.001, max_seconds=5)
    f = w.fields()
    assert f["offered"] == 3 and f["unsent"] == 0 and f["backlog"] == 2 and f["offered_per_s"] == pytest.approx(3000)
    h = histogram.decode(f["issue_lag_hdr"])
    assert h.get_total_count() == 3 and histogram.summary_ms(h)["max"] == pytest.approx(10, abs=4)
    assert f["issue_lag_ms"]["count"] == 3 and f["wakeup_lag_ms"] is None  # no caller had to wait for an arrival


def test_md1_mean_response_and_the_sample_path():
    """One caller, a deterministic 5 ms service, Poisson 100/s (rho about 0.5): the mean latency is
    Pollaczek-Khinchine's on the service actually given; and each arrival's start is the queue's own
    recursion (start = max(due, previous end)) on the measured times, so no arrival jumped the queue or
    lost its place."""
    target = CalibratedCallable(5.0)
    w = open_loop(target, BATCHES, 100.0, WindowRule(1, 3.0, 20), callers=1, seed=11)
    given = np.asarray(target.service_s)
    assert len(given) == w.offered > 200
    expected_ms = (theory.mg1_mean_response(100.0, given.mean(), (given**2).mean()) + w.wakeup_lags_ns.mean() / 1e9) * 1000
    assert float(w.latencies_ns.mean()) / MS == pytest.approx(expected_ms, rel=0.15)
    starts = w.started_ns
    queue_start = np.maximum(w.schedule_ns[1:], w.ended_ns[:-1])
    late = (starts[1:] - queue_start) / MS
    assert late.min() >= 0 and np.median(late) < 0.5


def test_a_stable_engine_whose_last_call_outlasts_a_short_schedule_is_not_called_saturated():
    # Three arrivals in 0.2 s, each served in 60 ms: the last ends at 0.24 s, so completed / window is 3 / 0.24
    # = 83% of the 15/s offered, yet nothing ever waited.
    w = serve(lambda b: time.sleep(0.06), BATCHES, np.array([0, 60, 180], dtype=np.int64) * MS, span_s=0.2, max_seconds=5)
    assert w.completed_per_s < 0.9 * w.offered_per_s and w.backlog == 0
    assert not w.saturated
