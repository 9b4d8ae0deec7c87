"""The in-process open loop (MLPerf LoadGen's "server" scenario): seeded Poisson arrivals into one FIFO
queue, served by `callers` threads that call the engine.

The schedule is drawn before the window (loadgen/schedule.py `arrivals`, the function the HTTP open loop
uses), so two runs with one seed offer the same arrivals. Each caller takes the next arrival in order,
sleeps until its scheduled time if that is still ahead, and calls predict. Latency counts from the
scheduled time (a slow engine cannot hide the arrivals it kept waiting: no coordinated omission); the
issue lag (start - scheduled) is the queueing wait plus the caller's own wake-up lateness, and the
wake-up lateness alone (arrivals a caller was already waiting for) is the harness's error, kept apart.

The schedule spans max(min_seconds, min_iterations / rate) as the HTTP open loop's does (at most
max_seconds); the window then runs until every arrival has been served, or until max_seconds from its
start: arrivals not started by then are counted as unsent, never dropped. How far behind the engine fell is read from the start times
after the window (nothing is counted while it runs): the backlog is the arrivals due by the schedule's
end that had not started then.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from infermeter.loadgen.inprocess import Predict, WindowRule
from infermeter.loadgen.schedule import arrivals
from infermeter.results import histogram, stats
from infermeter.results.warnings import RecordWarning, warning
from infermeter.validity.sanity import LAG_LIMIT_MS

NOT_STARTED = -1
# An engine that completed less than this fraction of the offered rate did not keep up (its queue grew
# over the window). A stable one completes about all of it: the window ends when its last arrival is served.
KEPT_UP = 0.95


@dataclass
class OpenLoopWindow:
    """One open-loop window. Times are perf_counter_ns offsets from the window's start."""

    schedule_ns: np.ndarray  # each arrival's scheduled time
    started_ns: np.ndarray  # when its predict call began (NOT_STARTED: never)
    ended_ns: np.ndarray  # when it returned (NOT_STARTED: never started, or it failed)
    waited: np.ndarray  # bool: the caller was idle and slept until the arrival was due
    span_s: float  # the schedule's planned length: the offered rate is arrivals / span
    callers: int = 1
    errors: list[str] = field(default_factory=list)

    @property
    def offered(self) -> int:
        return int(self.schedule_ns.size)

    @property
    def completed(self) -> np.ndarray:
        return self.ended_ns != NOT_STARTED

    @property
    def latencies_ns(self) -> np.ndarray:
        """Completion - scheduled time, of the arrivals served, in arrival order."""
        done = self.completed
        return self.ended_ns[done] - self.schedule_ns[done]

    @property
    def lags_ns(self) -> np.ndarray:
        """Start - scheduled time (queueing wait + wake-up lateness), of every arrival started."""
        started = self.started_ns != NOT_STARTED
        return self.started_ns[started] - self.schedule_ns[started]

    @property
    def wakeup_lags_ns(self) -> np.ndarray:
        """Start - scheduled time of the arrivals a caller was waiting for: the harness's own lateness."""
        mask = self.waited & (self.started_ns != NOT_STARTED)
        return self.started_ns[mask] - self.schedule_ns[mask]

    @property
    def unsent(self) -> int:
        """Arrivals never started: the window reached max_seconds (or a call failed) first."""
        return int(np.count_nonzero(self.started_ns == NOT_STARTED))

    @property
    def backlog(self) -> int:
        """Arrivals due by the end of the schedule's span that had not started by then."""
        end = int(self.span_s * 1e9)
        due = self.schedule_ns <= end
        waiting = (self.started_ns == NOT_STARTED) | (self.started_ns > end)
        return int(np.count_nonzero(due & waiting))

    @property
    def wall_ns(self) -> int:
        """From the window's start to the last completion (the schedule's span if that is later)."""
        last = int(self.ended_ns.max()) if self.ended_ns.size else 0
        return max(last, int(self.span_s * 1e9))

    @property
    def offered_per_s(self) -> float:
        return self.offered / self.span_s if self.span_s else 0.0

    @property
    def completed_per_s(self) -> float:
        wall = self.wall_ns
        return int(np.count_nonzero(self.completed)) / (wall / 1e9) if wall else 0.0

    @property
    def saturated(self) -> bool:
        """The engine did not keep up: it left arrivals unsent, or it completed less than KEPT_UP of the
        offered rate with more arrivals waiting at the schedule's end than it has callers (the rate alone
        would also flag a stable engine whose last call is long beside a short schedule)."""
        return self.unsent > 0 or (self.completed_per_s < KEPT_UP * self.offered_per_s and self.backlog > self.callers)

    def fields(self) -> dict[str, Any]:
        """The open loop's part of an engine window's metrics (results/record.py EngineMetrics): what was
        offered, how far behind the engine fell, and when the arrivals started."""
        lags = self.lags_ns
        out: dict[str, Any] = {
            "offered": self.offered,
            "offered_per_s": self.offered_per_s,
            "backlog": self.backlog,
            "unsent": self.unsent,
            "wakeup_lag_ms": stats.latency_summary_ms(self.wakeup_lags_ns) or None,
        }
        if lags.size:
            out["issue_lag_ms"] = stats.latency_summary_ms(lags)
            # The histogram's floor is 1 µs; a lag of 0 (started on time to the ns) is kept as 1 µs.
            out["issue_lag_hdr"] = histogram.encode(histogram.from_ns(np.maximum(lags, 1000)))
        return out


def window_span_s(rate: float, rule: WindowRule) -> float:
    """The schedule's length: at least min_seconds and min_iterations arrivals' worth at `rate`, at most
    max_seconds (a rate too low for min_iterations within max_seconds: `capped`)."""
    return min(max(rule.min_seconds, rule.min_iterations / rate), rule.max_seconds)


def capped(rate: float, rule: WindowRule) -> bool:
    """The schedule was cut at max_seconds short of min_iterations arrivals' worth."""
    return rule.min_iterations / rate > rule.max_seconds


def open_loop(predict: Predict, batches: list[dict[str, np.ndarray]], rate: float, rule: WindowRule, callers: int = 1,
              seed: int = 0) -> OpenLoopWindow:
    """One window of Poisson arrivals at `rate` per second (seeded) served by `callers` threads; the
    schedule spans `window_span_s`, and arrivals not started by rule.max_seconds are unsent."""
    span = window_span_s(rate, rule)
    return serve(predict, batches, arrivals(rate, span, "poisson", seed), span, rule.max_seconds, callers)


def serve(predict: Predict, batches: list[dict[str, np.ndarray]], schedule_ns: np.ndarray, span_s: float, max_seconds: float,
          callers: int = 1, clock: Callable[[], int] = time.perf_counter_ns) -> OpenLoopWindow:
    """Serve a given schedule (ns offsets, sorted) with `callers` threads taking arrivals in order. An arrival
    not started by `max_seconds` after the start is left unsent, and so is every one after it; a failing
    call ends the window (the arrivals not yet started are unsent)."""
    schedule = [int(x) for x in schedule_ns]
    n = len(schedule)
    started = [NOT_STARTED] * n
    ended = [NOT_STARTED] * n
    waited = [False] * n
    errors: list[str] = []
    k = len(batches)
    lock = threading.Lock()
    state = {"next": 0, "stop": False}
    barrier = threading.Barrier(callers + 1)
    origin = [0]
    deadline_offset = int(max_seconds * 1e9)

    def take() -> int | None:
        """The next arrival in order, or None when there is none left or the window is over."""
        with lock:
            i = state["next"]
            if state["stop"] or i >= n:
                return None
            if max(clock() - origin[0], schedule[i]) >= deadline_offset:
                state["stop"] = True  # this arrival and every later one would start after max_seconds
                return None
            state["next"] = i + 1
            return i

    def caller() -> None:
        barrier.wait()
        t_origin = origin[0]
        while (i := take()) is not None:
            due = t_origin + schedule[i]
            ahead = due - clock()
            if ahead > 0:
                waited[i] = True
                time.sleep(ahead / 1e9)  # a sleep, not a spin: the caller leaves the cores to the engine
            t0 = clock()
            try:
                predict(batches[i % k])
            except Exception as exc:  # recorded; the window ends, as in the closed loops
                started[i] = t0 - t_origin
                with lock:
                    errors.append(repr(exc))
                    state["stop"] = True
                return
            t1 = clock()
            started[i] = t0 - t_origin
            ended[i] = t1 - t_origin

    threads = [threading.Thread(target=caller, daemon=True) for _ in range(callers)]
    for t in threads:
        t.start()
    origin[0] = clock()
    barrier.wait()
    for t in threads:
        t.join()
    return OpenLoopWindow(
        schedule_ns=np.asarray(schedule, dtype=np.int64), started_ns=np.asarray(started, dtype=np.int64),
        ended_ns=np.asarray(ended, dtype=np.int64), waited=np.asarray(waited, dtype=bool), span_s=span_s, callers=callers,
        errors=errors,
    )


def open_loop_warnings(window: OpenLoopWindow, rate: float, rule: WindowRule) -> list[RecordWarning]:
    """What a reader of an open-loop window must know: it was cut short, the engine did not keep up, or the
    harness itself woke late."""
    out = []
    if capped(rate, rule):
        out.append(warning("window-capped", f"window hit max_seconds={rule.max_seconds:g}: {rule.min_iterations} arrivals at "
                           f"{rate:g}/s need {rule.min_iterations / rate:.3g} s; {window.offered} were offered"))
    if window.unsent and not window.errors:
        out.append(warning("schedule-backlog", f"{window.unsent} of {window.offered} scheduled arrivals were never started by "
                           f"max_seconds={rule.max_seconds:g} (counted as unsent, not served)"))
    if window.saturated:
        out.append(warning("open-loop-saturated", f"did not keep up: completed {window.completed_per_s:.4g}/s of "
                           f"{window.offered_per_s:.4g}/s offered, {window.backlog} arrivals waiting when the schedule ended"))
    late = window.wakeup_lags_ns
    if late.size and (p99 := float(np.percentile(late, 99)) / 1e6) > LAG_LIMIT_MS:
        out.append(warning("schedule-not-kept", f"schedule not kept: p99 wake-up lateness of idle callers {p99:.1f} ms > "
                           f"{LAG_LIMIT_MS} ms (latency still counts from the scheduled time)",
                           "quiet the machine (other processes delayed the callers' threads), then measure the cell again"))
    return out
