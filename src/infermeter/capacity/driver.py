"""A capacity run on any target: the unloaded window first, then a search per mode, every probe's window
stored the moment it is measured and each search's answer stored as a `capacity` record.

The target (`Target`) measures one window at a load (capacity/endpoint.py over HTTP,
capacity/engine.py in process): users (closed loop) or arrivals per second (open loop), judged against
the SLO. One user, closed loop, is the unloaded window: the reference the knee is measured from and the
start of both searches. If even it misses the SLO, no load can meet it, and both searches say so
without probing further (an open loop at a vanishing rate is that same unloaded request).

Interrupted, the windows measured so far are in results.jsonl; a run with --resume finds each probe's
window by its cell id and measures only what is missing (the search is deterministic given its windows).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Protocol

from infermeter import limits
from infermeter.capacity.probes import Window, decide, slo_latency_ms
from infermeter.capacity.search import DEFAULT_RESOLUTION, Mode, SearchOutcome, StopRule, requests_to_pass, search
from infermeter.collectors import machine
from infermeter.results.record import CapacityProbe, CapacityResult, NotMeasured, TuningTrial
from infermeter.results.slo import SLO
from infermeter.results.store import ResultStore

# A probe holds this many times the requests a pass needs with none past the bound (459 for p99 at 99%),
# so that a window can pass with a few past it, and fail where it should.
PROBE_REQUEST_FACTOR = 2
# The bisection's probes grow, doubling at each step up to this factor: a p99 over a few hundred requests of
# a queue is noisy (M/D/1 at rho 0.55, 600 requests: p99 within 16% (1 sd) of its value), and a probe near the
# capacity decides the answer. Simulated (S 2 ms, p99<=10ms, 20 searches): found within 5% of the true capacity
# 35% of the time with 600 requests per probe, 75% growing to 8 x 600, for about 4 x the time.
GROWTH_CAP = 8
CURVE_FRACTIONS = (0.25, 0.5, 0.75)
FLOOR_HALVINGS = 6  # below start / 2^6 the search says no rate meets the SLO (the unloaded window met it)


class Target(Protocol):
    """What a capacity run measures: one window at a load, named by its cell id before it is measured (so
    that --resume can find it)."""

    def cell_id(self, mode: Mode, load: float, requests: int) -> str: ...

    def measure(self, mode: Mode, load: float, requests: int) -> Window: ...

    def offered_per_s(self, load: float, requests: int) -> float | None:
        """Open loop: the rate the window's schedule offers (its arrivals over its span)."""
        ...


def probe_requests(slo: SLO) -> int:
    """Requests per probe window: enough for the SLO's verdict to be a pass with a few over the bound (and
    at least 100, for the curve's median)."""
    return max(100, PROBE_REQUEST_FACTOR * requests_to_pass(slo))


def search_id(cell: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(cell, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_capacity(store: ResultStore, run_id: str, search_cell: dict[str, Any], target: Target, slo: SLO, modes: list[Mode],
                 requests: int, *, resolution: float = DEFAULT_RESOLUTION, start_rate: float | None = None, max_rate: float | None = None,
                 max_users: int | None = None, resume: bool = False, curve: bool = True, stop: StopRule | None = None,
                 tuning: TuningTrial | None = None, growth_cap: int = GROWTH_CAP,
                 on_progress: Callable[[str], None] = lambda s: None) -> list[CapacityResult]:
    """Measure the unloaded window, then search each mode (and, for rates, the curve below the capacity
    unless `curve` is off); returns the capacity records (also stored). Probes hold `requests` each while
    the search brackets, and twice as many at each bisection step, up to `growth_cap` times as many. `stop`
    may end a search early (search.StopRule); `tuning` names the tuning trial the records belong to."""
    known: dict[str, Window] = {}
    if resume:
        known = {r.cell_id: r for r in store.read() if not isinstance(r, NotMeasured) and r.status == "ok"}  # type: ignore[misc]
    probes: dict[tuple[Mode, float], tuple[CapacityProbe, Window]] = {}

    def probe(mode: Mode, load: float, step: int = 0) -> CapacityProbe:
        if (mode, load) not in probes:
            n = requests * min(2**step, growth_cap)
            cell_id = target.cell_id(mode, load, n)
            record = known.get(cell_id)
            if record is None:
                on_progress(f"{_load_text(mode, load)}: measuring ({n} requests)")
                record = target.measure(mode, load, n)
                store.append(record)
            decided = decide(record, slo, mode, load, target.offered_per_s(load, n) if mode == "rate" else None)
            on_progress(f"{_load_text(mode, load)}: {decided.decision}")
            probes[mode, load] = (decided, record)
        return probes[mode, load][0]

    unloaded = probe("users", 1.0)
    unloaded_ms = slo_latency_ms(probes["users", 1.0][1], slo)
    out = []
    for mode in modes:
        cell = dict(search_cell, mode=mode, slo=slo.text, resolution=resolution)
        if unloaded.decision != "meets":
            why = "generator limit" if unloaded.decision == "vetoed" else "no load meets it"  # a veto says nothing of the target
            found = SearchOutcome(mode, None, 1.0 if mode == "users" else None, why, resolution, [unloaded])
        elif mode == "users":
            found = search(lambda u, step: probe("users", u, step), mode="users", start=1, resolution=resolution, floor=1,
                           ceiling=float(max_users or limits.limit("users")), stop=stop)
        else:
            start = start_rate or (unloaded.completed_per_s or 1.0) / 2  # half what one user was served
            found = search(lambda r, step: probe("rate", r, step), mode="rate", start=start, resolution=resolution,
                           floor=start / 2**FLOOR_HALVINGS, ceiling=float(max_rate or limits.limit("rate")), stop=stop)
            if curve and found.stopped != "pruned":
                found.probes += _curve(found, lambda r: probe("rate", r))
        result = CapacityResult(
            run_id=run_id, cell_id=search_id(cell), cell=cell, status="ok", mode=mode, slo=slo.text,
            capacity=found.capacity, upper=found.upper, resolution=resolution, stopped=found.stopped,
            knee=found.knee(unloaded.p50_ms) if mode == "rate" else None, unloaded_ms=unloaded_ms, unloaded_p50_ms=unloaded.p50_ms,
            probes=found.probes, tuning=tuning,
            finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), machine=machine.machine_info(),
            packages=machine.package_versions(),
        )
        store.append(result)
        out.append(result)
    return out


def _curve(found: SearchOutcome, probe: Callable[[float], CapacityProbe]) -> list[CapacityProbe]:
    """Rates below the capacity for the latency curve and its knee (the search's probes crowd the capacity):
    each CURVE_FRACTIONS share of it not already probed within 10%."""
    if found.capacity is None:
        return []
    out = []
    for f in CURVE_FRACTIONS:
        load = f * found.capacity
        if any(abs(p.load / load - 1) <= 0.1 for p in found.probes + out):
            continue
        out.append(probe(load).model_copy(update={"role": "curve"}))
    return out


def _load_text(mode: Mode, load: float) -> str:
    return f"{load:g} users" if mode == "users" else f"{load:.4g}/s"
