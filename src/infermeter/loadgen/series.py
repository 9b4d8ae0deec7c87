"""A window over time, second by second: completions, failures, users (closed loop) or requests in the
system (open loop), and the latency percentiles of each second, the warm-up included, so that warm-up
tails, stalls, ramp-ups and bursts show (what Locust's charts show, from infermeter's own samples).

Each generator share keeps one histogram a second (encoded, as the window's own); the shares' seconds are
aligned on the agreed start of the window, so merging adds counts and histograms, never percentiles.
The record keeps the merged counts and each second's p50/p99 only: small enough for every window.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from infermeter.results import histogram

if TYPE_CHECKING:
    from infermeter.loadgen.generator import LoadPlan, _Recorder

MAX_SECONDS = 3600  # a longer window keeps its first hour


def of_share(plan: LoadPlan, rec: _Recorder, t_start_ns: int) -> dict[str, Any] | None:
    """One share's seconds; index 0 is the first second of the measured window (the warm-up's are negative)."""
    done = np.asarray(rec.warm_done + rec.done, dtype=np.int64)
    if not len(done):
        return None
    lat = np.asarray(rec.warm_latencies + rec.latencies, dtype=np.int64)
    failed = np.asarray(rec.warm_failed_done + rec.failed_done, dtype=np.int64)
    origin = t_start_ns + int(plan.warmup_s * 1e9)
    first = -math.ceil(plan.warmup_s)
    second = np.floor_divide(done - origin, 1_000_000_000)
    last = min(int(second.max()), first + MAX_SECONDS - 1)
    keep = second <= last
    second, lat, done = second[keep], lat[keep], done[keep]
    n = last - first + 1
    edges = origin + np.arange(first, last + 2, dtype=np.int64) * 1_000_000_000  # n + 1 second boundaries
    completed = np.bincount(second - first, minlength=n)[:n]
    failures = np.histogram(failed, bins=edges)[0] if len(failed) else np.zeros(n, dtype=np.int64)
    if plan.mode == "closed":  # users running at the end of each second
        spans = [x for user in plan.user_spans for x in user] or [(0.0, math.inf)] * plan.users
        starts = np.sort(t_start_ns + np.asarray([a for a, _ in spans]) * 1e9)
        stops = np.sort(t_start_ns + np.asarray([b for _, b in spans]) * 1e9)
        active = np.searchsorted(starts, edges[1:], side="left") - np.searchsorted(stops, edges[1:], side="left")
    else:  # requests scheduled by the end of a second that had not completed by its start (the unfinished are missing)
        sent = np.sort(done - lat)
        active = np.searchsorted(sent, edges[1:]) - np.searchsorted(np.sort(done), edges[:-1])
    order = np.argsort(second, kind="stable")
    bounds = np.searchsorted(second[order], np.arange(first, last + 2))
    hdrs = [histogram.encode(histogram.from_ns(lat[order[a:b]])) if b > a else "" for a, b in zip(bounds[:-1], bounds[1:])]
    return {"first_s": first, "completed": completed.tolist(), "failures": failures.tolist(), "active": active.tolist(), "hdr": hdrs}


def merge(shares: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The shares' seconds added up: the window's time series as the record keeps it."""
    if not shares:
        return None
    first = min(s["first_s"] for s in shares)
    n = max(s["first_s"] + len(s["completed"]) for s in shares) - first
    completed, failures, active = (np.zeros(n, dtype=np.int64) for _ in range(3))
    hdrs: list[list[str]] = [[] for _ in range(n)]
    for s in shares:
        at = s["first_s"] - first
        span = slice(at, at + len(s["completed"]))
        completed[span] += s["completed"]
        failures[span] += s["failures"]
        active[span] += s["active"]
        for k, h in enumerate(s["hdr"]):
            if h:
                hdrs[at + k].append(h)
    p50, p99 = [], []
    for parts in hdrs:
        if parts:
            at = histogram.values_at_percentiles(histogram.merge(parts), (50.0, 99.0))
            p50.append(at[50.0] / 1000)
            p99.append(at[99.0] / 1000)
        else:
            p50.append(None)
            p99.append(None)
    return {"interval_s": 1.0, "first_s": first, "completed": completed.tolist(), "failures": failures.tolist(),
            "active": active.tolist(), "p50_ms": p50, "p99_ms": p99}
