"""Warm-up until steady state: the test that says when the latency of the last calls stopped drifting,
and the stop rule around it (a minimum, a maximum). Pure functions of a latency sequence and its elapsed
time, so they are tested on synthetic sequences without sleeping; loadgen/inprocess.py drives them.

What was taken from where:
- pyperf (`_worker.py` calibrate_warmups / test_calibrate_warmups): split the latest values into two
  halves (20 + 20 there) and call the warm-up done when the halves agree (means, Q1/Q3, MAD within 5-10%);
  add one more warm-up value and test again otherwise, up to a maximum (300 values), then say it failed.
  Here: the medians of the halves within `tolerance` (a median, as pyperf's quartiles, ignores the odd
  slow call), checked after every few calls.
- A slow smooth decay moves each half only a little, so the halves can agree while the latency still
  falls (bert-base on PyTorch eager: repeat 1 at 467 ms after a fixed warm-up, repeats 2-3 at 232-253); a rank trend test over the whole window
  catches that: Kendall's tau of latency against call order (scipy.stats.kendalltau) must not be
  significant. Rank-based, so one slow call (a page fault, a scheduler hiccup) does not make a trend.
- MLPerf LoadGen (test_settings.h): a window ends when both min_duration and min_query_count are met, and
  earlier when either maximum is reached. Here: warm-up ends when warmup.iterations and warmup.seconds
  are met *and* the window is steady, or when warmup.max_seconds is reached (then it is "not steady").
  LoadGen itself leaves warm-up to the system under test; its 600 s runs dilute what is left of it.
- JMH (runner/Defaults.java): warm-up is a fixed number of timed iterations with no test of steadiness,
  and run-to-run variance is left to forks; the per-iteration scores are printed for a human to judge.
  infermeter's old warm-up was this; the test above makes the judgement and records it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


# Fewer calls than this can hardly show a trend (over 8 calls Kendall's tau must reach 0.43 for p < 0.2).
MIN_WINDOW = 8


@dataclass(frozen=True)
class WarmupRule:
    iterations: int = 5  # at least this many calls
    seconds: float = 1.0  # and at least this long
    max_seconds: float = 60.0  # at most this long: then the warm-up is reported "not steady"
    window: int = 40  # the last `window` calls are tested, in two halves (pyperf: 20 + 20)
    tolerance: float = 0.05  # the halves' medians may differ by this fraction of the later one
    # A Kendall trend with p below this counts as drift. Loose on purpose: the test looks for the absence
    # of drift, so a false alarm only costs a few more calls (on synthetic decays, 0.05 stopped with 2-3x
    # more of the transient left; flat noisy sequences still stop within about one window).
    alpha: float = 0.2

    @property
    def check_every(self) -> int:
        """Test every few calls, not every call: kendalltau on 40 values costs ~0.6 ms here, more than a
        fast model's call."""
        return max(1, self.window // 8)


@dataclass(frozen=True)
class SteadyCheck:
    """The test on one window of latencies."""

    steady: bool
    tau: float  # Kendall's tau of latency against call order: < 0 still speeding up, > 0 slowing down
    p_value: float
    early_ms: float  # median of the window's first half
    late_ms: float  # median of its second half

    @property
    def change(self) -> float:
        """(late - early) / late: the drift across the window as a fraction."""
        return (self.late_ms - self.early_ms) / self.late_ms if self.late_ms else math.nan


def steady_check(latencies_ns: Sequence[float] | np.ndarray, tolerance: float = WarmupRule.tolerance,
                 alpha: float = WarmupRule.alpha) -> SteadyCheck:
    """Is this window of consecutive call latencies free of drift? Needs at least 4 values."""
    from scipy.stats import kendalltau

    ms = np.asarray(latencies_ns, dtype=np.float64) / 1e6
    if ms.size < 4:
        raise ValueError(f"a steady-state test needs at least 4 latencies, got {ms.size}")
    half = ms.size // 2
    early, late = float(np.median(ms[:half])), float(np.median(ms[-half:]))
    if np.ptp(ms) == 0:  # constant: no trend (kendalltau would return nan)
        return SteadyCheck(True, 0.0, 1.0, early, late)
    tau, p = kendalltau(np.arange(ms.size), ms)
    tau, p = float(tau), float(p)
    agree = abs(late - early) <= tolerance * late
    return SteadyCheck(agree and not p < alpha, tau, p, early, late)


@dataclass(frozen=True)
class WarmupResult:
    """What the warm-up before a cell's windows did; stored as the record's `warmup` block."""

    calls: int
    seconds: float
    steady: bool  # the last window passed the test; False: warmup.max_seconds was reached first
    hit_max: bool  # stopped by warmup.max_seconds
    window: int  # calls in the tested window
    statistic: float | None  # Kendall's tau of the last tested window (None: too few calls to test)
    p_value: float | None
    early_ms: float | None  # median latency of the first half of the last window
    late_ms: float | None  # and of its second half
    max_seconds: float

    def record(self) -> dict[str, Any]:
        return asdict(self)


class WarmupTracker:
    """Fed one call at a time; says when warm-up may stop. The driver owns the clock."""

    def __init__(self, rule: WarmupRule) -> None:
        if rule.window < MIN_WINDOW:
            raise ValueError(f"warm-up window must hold at least {MIN_WINDOW} calls")
        self.rule = rule
        self.latencies: list[int] = []
        self.elapsed_ns = 0
        self.last: SteadyCheck | None = None
        self.hit_max = False
        self._next_check = 0
        self._tested = 0  # calls in the window of the last test

    def _window(self) -> int:
        """Calls to test now (0: too few yet). A model too slow to fill the window within half of
        max_seconds is tested on fewer calls (at least MIN_WINDOW), so that it can still be judged."""
        n, r = len(self.latencies), self.rule
        if n >= r.window:
            return r.window
        if n < MIN_WINDOW:
            return 0
        fits = int(r.max_seconds * 1e9 / 2 / max(1.0, float(np.median(self.latencies))))
        k = max(MIN_WINDOW, min(r.window, fits))
        return k if n >= k else 0

    def add(self, latency_ns: int, elapsed_ns: int) -> bool:
        """Record one call (its latency, and the time since warm-up began); True when warm-up is over."""
        r = self.rule
        self.latencies.append(int(latency_ns))
        self.elapsed_ns = elapsed_ns
        n = len(self.latencies)
        k = self._window()
        if elapsed_ns >= r.max_seconds * 1e9:
            self.hit_max = True
            if k:
                self._test(k)
            return True
        if not k or n < r.iterations or elapsed_ns < r.seconds * 1e9 or n < self._next_check:
            return False
        self._next_check = n + r.check_every
        return self._test(k).steady

    def _test(self, k: int) -> SteadyCheck:
        self.last = steady_check(self.latencies[-k:], self.rule.tolerance, self.rule.alpha)
        self._tested = k
        return self.last

    def result(self) -> WarmupResult:
        c = self.last
        n = len(self.latencies)
        early = late = None
        if c is not None:
            early, late = c.early_ms, c.late_ms
        elif n >= 2:  # too few calls for the test: the halves' medians still say something
            ms = np.asarray(self.latencies, dtype=np.float64) / 1e6
            early, late = float(np.median(ms[: n // 2])), float(np.median(ms[-(n // 2):]))
        return WarmupResult(
            calls=n, seconds=self.elapsed_ns / 1e9, steady=bool(c is not None and c.steady), hit_max=self.hit_max,
            window=self._tested or n, statistic=None if c is None else c.tau, p_value=None if c is None else c.p_value,
            early_ms=early, late_ms=late, max_seconds=self.rule.max_seconds,
        )


def simulate(latencies_ns: Sequence[int], rule: WarmupRule) -> WarmupResult:
    """The warm-up a sequence of latencies would get, the calls back to back (the clock is their sum)."""
    tracker = WarmupTracker(rule)
    elapsed = 0
    for lat in latencies_ns:
        elapsed += int(lat)
        if tracker.add(int(lat), elapsed):
            break
    return tracker.result()
