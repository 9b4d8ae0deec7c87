"""The capacity search: the highest load that meets an SLO, found by bracketing and then bisection.

`measure(load)` measures one window at a load (arrivals per second, or users) and says whether it met the
SLO (capacity/probes.py decides). From a start that met it the load doubles until a probe misses; from one
that missed it halves until a probe meets. Between the highest load that met it (lo) and the lowest above
that did not (hi) the search bisects (geometrically for rates, by whole users for users) until hi / lo - 1
is within the resolution (users: until they are one user apart, or the resolution's share of lo). The answer is lo with the interval [lo, hi).
Halving stops at a rate whose probe, even stretched (probe_window), holds too few requests for a verdict:
lower rates hold fewer still, so the search says "too few requests", not that no load meets the SLO.

A probe the generator could not offer (vetoed: its own checks fired while the target kept up and the
window missed, capacity/probes.py) is no evidence about the target: the search treats it as a ceiling,
never as a capacity, and says the answer was limited by the generator when the interval's top is such a
probe, or when no load met the SLO and the lowest one probed was vetoed. A stop rule (tuning's pruner)
never sees a veto as a miss. The search assumes latency grows
with load; noise near the boundary can break that, which is why the interval, not one number, is the
answer, and every probe is kept as evidence.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from infermeter.results.record import CapacityProbe
from infermeter.results.slo import SLO, min_requests

Mode = Literal["rate", "users"]
Stopped = Literal["resolution", "no load meets it", "too few requests", "generator limit", "ceiling", "probe limit", "pruned"]
# Asked after every probe with the interval so far (the highest load met, the lowest above it missed): True
# ends the search there, "pruned" (a tuning trial that can no longer beat the best one so far).
StopRule = Callable[[float | None, float | None], bool]

DEFAULT_RESOLUTION = 0.05
KNEE_FACTOR = 2.0  # the knee: the highest load whose median stayed within this factor of the unloaded median


def schedule_seed(seed: int, load: float, schedule: int = 0) -> int:
    """Each rate's own open-loop seed, the same on every run (so --resume finds the same schedule): with one
    seed, every probe's Poisson schedule would be one draw scaled, its count off the rate the same way at
    every rate. `schedule` > 0: another draw (a search measured again)."""
    return seed + round(load * 1000) % 1_000_003 + 1_000_003 * schedule


def schedule_tag(schedule: int) -> dict[str, int]:
    """A cell's mark of another draw of the schedules (none for the first, so earlier cells keep their ids)."""
    return {"schedule": schedule} if schedule else {}


FIT = 0.8  # of a window's max_seconds, the longest schedule an open-loop probe is given (the rest for arrivals still queued)
# A probe at a rate too low for the arrivals its verdict needs within max_seconds is stretched to hold them, up
# to this many times max_seconds: cut to what fits, a window at a low rate always misses ("too few samples"),
# and the search, halving the rate, only made it fewer (bert-base on ONNX Runtime: 21, 10, 1, 2 of the 29 a
# p90 pass needed, down to "no load meets it" under an SLO the unloaded window met).
STRETCH = 4


def requests_to_pass(slo: SLO) -> int:
    """The fewest requests with which a window could pass the SLO (none past any bound); 1 for bounds that
    allow nothing past them (max, errors<=0%), which are judged on the requests alone."""
    allowed = [a for a in ((100 - slo.percentile) / 100 if slo.percentile is not None else 0.0, slo.max_failure_rate or 0.0) if a]
    each = 1 - (1 - slo.confidence) / max(1, len(allowed))  # as results/slo.judge shares the confidence out
    return max([min_requests(a, each) or 1 for a in allowed] or [1])


def probe_window(mode: Mode, load: float, requests: int, slo: SLO, max_seconds: float) -> tuple[int, float]:
    """An open-loop probe's arrivals and its max_seconds: `requests` in max_seconds if they fit in FIT of it;
    at a lower rate, the arrivals that fit but never fewer than the SLO needs for a pass, max_seconds
    stretched for them up to STRETCH times; below even that, what fits in the longest window (its verdict is
    then "too few samples", and the search stops there, search's "too few requests"). Never a schedule the
    window cuts short. Closed loop: `requests` in max_seconds."""
    if mode != "rate" or requests / load <= FIT * max_seconds:
        return requests, max_seconds
    fits, needed = int(load * FIT * max_seconds), requests_to_pass(slo)
    if fits >= needed:
        return fits, max_seconds
    longest = STRETCH * max_seconds
    if needed / load <= FIT * longest:
        return needed, needed / load / FIT
    return max(1, int(load * FIT * longest)), longest


@dataclass
class SearchOutcome:
    mode: Mode
    capacity: float | None  # the highest load that met the SLO; None: none did
    upper: float | None  # the lowest load above it that did not (None: none was found below the ceiling)
    stopped: Stopped
    resolution: float
    probes: list[CapacityProbe] = field(default_factory=list)

    def knee(self, unloaded_p50_ms: float | None) -> float | None:
        """The highest load probed whose median latency was at most KNEE_FACTOR x the unloaded median: past
        it, queueing dominates. (The median, not the SLO's percentile: a tail estimate is too noisy to draw
        a curve's bend from.) None without an unloaded median or a probe that stayed under it."""
        if not unloaded_p50_ms:
            return None
        under = [p.load for p in self.probes if p.decision != "vetoed" and p.p50_ms is not None
                 and p.p50_ms <= KNEE_FACTOR * unloaded_p50_ms]
        return max(under) if under else None


def search(measure: Callable[[float, int], CapacityProbe], *, mode: Mode, start: float, resolution: float = DEFAULT_RESOLUTION,
           floor: float, ceiling: float, max_probes: int = 24, stop: StopRule | None = None) -> SearchOutcome:
    """Bracket, then bisect (see the module's docstring). `floor` and `ceiling` bound the loads probed (below
    the floor: no load meets it; above the ceiling: the capacity is at least the last load that met it)."""
    try:
        return _search(measure, mode, start, resolution, floor, ceiling, max_probes, stop)
    except _Pruned as pruned:
        return pruned.outcome


class _Pruned(Exception):
    def __init__(self, outcome: SearchOutcome) -> None:
        self.outcome = outcome


def _search(measure: Callable[[float, int], CapacityProbe], mode: Mode, start: float, resolution: float, floor: float,
            ceiling: float, max_probes: int, stop: StopRule | None) -> SearchOutcome:
    integer = mode == "users"
    probes: list[CapacityProbe] = []
    seen: dict[float, CapacityProbe] = {}

    def at(load: float, step: int = 0) -> CapacityProbe:
        load = float(round(load)) if integer else load
        if load not in seen:
            seen[load] = measure(load, step)
            probes.append(seen[load])
            if stop is not None:
                # A veto is no miss: the target may serve more than a load its generator could not offer.
                met = max((x for x, p in seen.items() if p.decision == "meets"), default=None)
                missed = min((x for x, p in seen.items() if p.decision == "misses" and x > (met or 0.0)), default=None)
                if stop(met, missed):
                    raise _Pruned(SearchOutcome(mode, met, missed, "pruned", resolution, probes))
        return seen[load]

    def outcome(capacity: float | None, upper: float | None, stopped: Stopped) -> SearchOutcome:
        if stopped == "resolution" and upper is not None and seen[upper].decision == "vetoed":
            stopped = "generator limit"
        return SearchOutcome(mode, capacity, upper, stopped, resolution, probes)

    def up(x: float) -> float:
        return max(x + 1, 2 * x) if integer else 2 * x

    def down(x: float) -> float:
        return float(math.floor(x / 2)) if integer else x / 2

    start = min(max(float(round(start)) if integer else start, floor), ceiling)
    lo: float | None = None
    hi: float | None = None
    if at(start).decision == "meets":
        lo = start
        while hi is None:
            if len(probes) >= max_probes:
                return outcome(lo, None, "probe limit")
            nxt = up(lo)
            if nxt > ceiling:
                if lo >= ceiling:
                    return outcome(lo, None, "ceiling")
                nxt = ceiling
            if at(nxt).decision == "meets":
                lo = nxt
            else:
                hi = nxt
    else:
        hi = start
        while lo is None:
            if len(probes) >= max_probes:
                return outcome(None, hi, "probe limit")
            nxt = down(hi)
            if nxt < floor:  # the lowest load probed decides why: the target missed it, or it was vetoed
                return outcome(None, hi, "generator limit" if seen[hi].decision == "vetoed" else "no load meets it")
            if at(nxt).decision == "meets":
                lo = nxt
            elif seen[nxt].verdict == "too few samples":  # lower rates hold fewer still: no verdict below here
                return outcome(None, hi, "too few requests")
            else:
                hi = nxt
    step = 0
    while not _within(lo, hi, resolution, integer):
        if len(probes) >= max_probes:
            return outcome(lo, hi, "probe limit")
        mid = float((lo + hi) // 2) if integer else math.sqrt(lo * hi)
        step += 1
        if at(mid, step).decision == "meets":
            lo = mid
        else:
            hi = mid
    return outcome(lo, hi, "resolution")


def _within(lo: float, hi: float, resolution: float, integer: bool) -> bool:
    if integer:  # whole users: a step of one, or the resolution once that is more than one user
        return hi - lo <= max(1.0, math.floor(resolution * lo))
    return hi / lo - 1 <= resolution
