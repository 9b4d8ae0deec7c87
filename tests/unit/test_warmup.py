"""Steady-state warm-up on synthetic latency sequences: a pure function of the sequence, so no sleeping.

Latencies are in ns, like the measurement loop's. A BERT-like call takes 250 ms, so a minute of warm-up
holds about 240 calls."""

import math

import numpy as np
import pytest

from infermeter.loadgen.inprocess import warm_up
from infermeter.loadgen.warmup import WarmupRule, simulate, steady_check

MS = 1_000_000
RULE = WarmupRule(iterations=5, seconds=1.0, max_seconds=60.0)


def decaying(seed, n=2000, base_ms=250.0, tau=20.0, noise=0.02):
    """467 -> 232 ms, as bert-base on PyTorch eager did: twice as slow at first, decaying over `tau` calls."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    return (base_ms * (1 + np.exp(-i / tau)) * (1 + rng.normal(0, noise, n)) * MS).astype(np.int64)


@pytest.mark.parametrize("seed", range(10))
def test_a_decaying_sequence_is_not_called_steady_while_it_still_falls(seed):
    r = simulate(decaying(seed), RULE)
    assert r.steady and not r.hit_max
    left = math.exp(-r.calls / 20.0)  # the transient still in the latency when warm-up stopped
    assert left < 0.03, f"stopped after {r.calls} calls with {left:.0%} of the transient left"
    # The old rule (5 calls and 1 s) stopped after 5 calls, with 78% of it left.
    assert r.calls >= 60
    assert r.early_ms == pytest.approx(250, rel=0.04) and r.late_ms == pytest.approx(250, rel=0.04)


def test_a_step_down_is_waited_out():
    """The slow phase ends abruptly at call 30 (e.g. a lazily built kernel cache): not steady until the
    tested window has left the step behind."""
    rng = np.random.default_rng(1)
    lat = np.where(np.arange(400) < 30, 467.0, 232.0) * (1 + rng.normal(0, 0.02, 400)) * MS
    r = simulate(lat.astype(np.int64), RULE)
    assert r.steady and r.calls >= 30 + RULE.window // 2
    assert r.late_ms == pytest.approx(232, rel=0.03)


@pytest.mark.parametrize("seed", range(10))
def test_a_flat_noisy_sequence_stops_soon(seed):
    rng = np.random.default_rng(seed)
    lat = (rng.gamma(25, 250 / 25, 2000) * MS).astype(np.int64)  # 20% spread, right-skewed like real latencies
    r = simulate(lat, RULE)
    assert r.steady and not r.hit_max
    assert r.calls <= 2 * RULE.window
    assert r.seconds < 25  # BERT-sized calls: well within the minute


def test_a_sequence_that_never_settles_hits_the_maximum_and_says_so():
    rng = np.random.default_rng(2)
    i = np.arange(1000)
    lat = (250 * (1 + 0.004 * i) * (1 + rng.normal(0, 0.02, 1000)) * MS).astype(np.int64)  # slows 0.4% per call
    r = simulate(lat, RULE)
    assert r.hit_max and not r.steady
    assert r.seconds == pytest.approx(60, abs=1.0)
    assert r.late_ms > r.early_ms and r.statistic > 0.3 and r.p_value < 0.05


def test_the_minimums_still_hold():
    flat = [2 * MS] * 5000
    r = simulate(flat, WarmupRule(iterations=300, seconds=0.0))
    assert r.steady and 300 <= r.calls < 300 + RULE.check_every
    r = simulate(flat, WarmupRule(iterations=1, seconds=1.0))
    assert r.steady and r.seconds >= 1.0 and r.calls == 500


def test_a_model_too_slow_for_the_window_is_judged_on_fewer_calls():
    rng = np.random.default_rng(3)
    lat = (6700 * (1 + rng.normal(0, 0.02, 100)) * MS).astype(np.int64)  # BART-large: 6.7 s a call
    r = simulate(lat, RULE)
    assert r.steady and r.window == 8 and r.calls == 8 and r.seconds < 60


def test_steady_check_reads_the_direction_and_size_of_a_drift():
    falling = steady_check(np.linspace(300, 200, 40) * MS)
    assert not falling.steady and falling.tau == pytest.approx(-1.0) and falling.change < -0.2
    assert falling.early_ms > falling.late_ms
    constant = steady_check([5 * MS] * 10)
    assert constant.steady and constant.tau == 0.0
    with pytest.raises(ValueError):
        steady_check([MS, MS])


def test_warm_up_drives_the_engine_on_the_clock_it_is_given():
    """The driver: real predict calls, an injected clock that each call advances by a scripted latency."""
    script = iter(decaying(0))
    now = [0]
    calls = []

    def predict(batch):
        calls.append(batch["x"][0])
        now[0] += int(next(script))

    r = warm_up(predict, [{"x": np.zeros(1)}, {"x": np.ones(1)}], RULE, clock=lambda: now[0])
    assert r == simulate(decaying(0), RULE)
    assert len(calls) == r.calls and calls[:3] == [0.0, 1.0, 0.0]
    assert r.record()["calls"] == r.calls and r.record()["steady"] is True
