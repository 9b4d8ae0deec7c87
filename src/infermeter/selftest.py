"""`infermeter selftest`: the harness measured against known answers on this machine.

Timer and histogram resolution, the harness's own overhead on a null target (in process and over
loopback HTTP), then closed- and open-loop sweeps against the calibrated target (loadgen/fake_server.py,
validity/calibrated.py), compared with queueing theory (validity/theory.py): throughput and Little's
law for closed loops, M/D/1 and M/M/1 mean (and M/M/1 percentile) response times for open loops (over
HTTP, and the engines' in-process open loop against M/D/1 and overload), a stall that an open loop must
see, the generator's capacity to keep a schedule, and the capacity search: the highest rate meeting a p99
bound against M/D/1 (simulated on the service times given), and a bound no rate can meet.

Tolerances are for a noisy 2-core machine where generator, target and everything else share the cores:
theory is applied to the service times the target actually gave (sleeps overshoot), and the loopback
round trip measured on the null target is added to every expected latency. Throughput and Little's law
checks allow 5%; mean response times 15%; M/M/1 percentiles 20% (their estimates converge slowly).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from infermeter.loadgen.endpoint import LoadSettings, build_plans
from infermeter.loadgen.fake_server import FakeHttpServer, FakeServerConfig
from infermeter.loadgen.generator import merge, run_processes
from infermeter.loadgen.inprocess import WindowRule, concurrent, sequential
from infermeter.loadgen.openloop import open_loop
from infermeter.protocols.http import HttpTarget
from infermeter.results import histogram
from infermeter.results.record import LoadMetrics, LoadWindow
from infermeter.results.slo import assess, parse_slo
from infermeter.validity import theory
from infermeter.validity.calibrated import CalibratedCallable
from infermeter.validity.sanity import LAG_LIMIT_MS

THROUGHPUT_TOL = 0.05
MEAN_TOL = 0.15
PERCENTILE_TOL = 0.20


@dataclass(frozen=True)
class Check:
    name: str
    expected: float | None  # None: informational
    measured: float
    unit: str
    tolerance: float | None  # relative; None with an absolute `limit`
    passed: bool
    note: str = ""

    @property
    def error(self) -> float | None:
        if self.expected is None or not self.expected:
            return None
        return (self.measured - self.expected) / self.expected


def relative(name: str, expected: float, measured: float, unit: str, tol: float, note: str = "") -> Check:
    ok = math.isfinite(measured) and abs(measured - expected) <= tol * abs(expected)
    return Check(name, expected, measured, unit, tol, ok, note)


def at_most(name: str, limit: float, measured: float, unit: str, note: str = "") -> Check:
    return Check(name, limit, measured, unit, None, measured <= limit, note or f"limit {limit:g} {unit}")


def at_least(name: str, floor: float, measured: float, unit: str, note: str = "") -> Check:
    return Check(name, floor, measured, unit, None, measured >= floor, note or f"at least {floor:g} {unit}")


def info(name: str, measured: float, unit: str, note: str = "") -> Check:
    return Check(name, None, measured, unit, None, True, note)


def _window(url: str, seconds: float, users: int | None = None, rate: float | None = None, warmup_s: float = 0.5,
            arrival: str = "poisson", seed: int = 0) -> dict[str, Any]:
    s = LoadSettings(warmup_s=warmup_s, min_seconds=seconds, min_requests=1, max_seconds=seconds * 4 + 10, timeout_s=30,
                     repeats=1, generator_processes=1, arrival=arrival, seed=seed)  # type: ignore[arg-type]
    target = HttpTarget(url, "POST", body=b"{}", headers=(("Content-Type", "application/json"),))
    return merge(run_processes(build_plans(target, s, users, rate, 0)))


def _lag_p99(m: dict[str, Any]) -> float:
    return (m.get("issue_lag_ms") or {}).get("p99", 0.0)


def _inprocess_open_loop(seconds: float, service_ms: float, progress: Callable[[str], None]) -> list[Check]:
    """The engines' open loop (loadgen/openloop.py) against M/D/1 at rho about 0.5, one caller; then offered
    twice what one caller can serve: the completed rate is the service rate, and a backlog is reported."""
    out = []
    rate = 500.0 / service_ms  # rho = 0.5 on the nominal service time
    progress(f"in process, open loop M/D/1: Poisson {rate:g}/s, 1 caller, deterministic {service_ms:g} ms")
    target = CalibratedCallable(service_ms, workers=1)
    w = open_loop(target, [{}], rate, WindowRule(1, seconds / 2, seconds * 4), callers=1, seed=13)
    given = np.asarray(target.service_s)
    es, es2 = float(given.mean()), float((given**2).mean())
    # A caller that wakes late for an idle engine's arrival delays it and the busy period behind it: its
    # mean lateness is added, as the HTTP checks add the generator's send lag.
    wake = w.wakeup_lags_ns
    wake_s = float(wake.mean()) / 1e9 if wake.size else 0.0
    expected = theory.mg1_mean_response(rate, es, es2) + wake_s
    out.append(relative(f"in-process open loop M/D/1 rho={rate * es:.2f}: mean response", expected * 1000,
                        float(w.latencies_ns.mean()) / 1e6, "ms", MEAN_TOL,
                        "Pollaczek-Khinchine on the service times given + mean wake-up lateness"))
    out.append(relative("in-process open loop M/D/1: completed rate", w.offered_per_s, w.completed_per_s, "calls/s", THROUGHPUT_TOL,
                        "a stable engine completes what is offered"))
    out.append(at_most("in-process open loop: callers woke on time (p99 wake-up lateness)", LAG_LIMIT_MS,
                       float(np.percentile(wake, 99)) / 1e6 if wake.size else 0.0, "ms"))
    over = 2 * rate * 2  # twice what one caller of service_ms can serve
    progress(f"in process, open loop overloaded: Poisson {over:g}/s, 1 caller, deterministic {service_ms:g} ms")
    target = CalibratedCallable(service_ms, workers=1)
    w = open_loop(target, [{}], over, WindowRule(1, seconds / 8, seconds * 4), callers=1, seed=17)
    out.append(relative(f"in-process open loop at {over:g}/s offered: completed rate = service rate", 1 / target.mean_service_s(),
                        w.completed_per_s, "calls/s", THROUGHPUT_TOL, "a saturated engine completes 1 / E[S]"))
    out.append(at_least(f"in-process open loop at {over:g}/s offered: backlog when the schedule ended", 0.25 * w.offered,
                        float(w.backlog), "arrivals", f"about half of the {w.offered} offered are still waiting"))
    return out


class _CalibratedTarget:
    """The in-process calibrated callable (one server, a known service time) as a capacity target: each probe
    is a window of the engines' own loops (loadgen/inprocess.py, loadgen/openloop.py), kept as a load record
    in a throw-away store. The service times given and the callers' wake-up lateness are kept for theory."""

    def __init__(self, service_ms: float) -> None:
        self.callable = CalibratedCallable(service_ms, workers=1)
        self.wake_ns: list[int] = []
        self.service_ns: list[int] = []
        self.turnaround_ns: list[int] = []
        self._offered: dict[float, float] = {}

    def cell_id(self, mode: str, load: float, requests: int) -> str:
        return f"{mode}-{load!r}-{requests}"

    def offered_per_s(self, load: float, requests: int) -> float | None:
        return self._offered.get(load)

    def measure(self, mode: str, load: float, requests: int) -> LoadWindow:
        from infermeter.capacity.search import schedule_seed
        from infermeter.loadgen.openloop import open_loop_warnings

        warnings = []
        if mode == "users":
            w = sequential(self.callable, [{}], WindowRule(requests, 0.1, 120.0))
            latencies, unsent, lag = w.latencies_ns, 0, None
        else:
            rule = WindowRule(min(requests, max(1, int(load * 15))), 0.5, 60.0)  # at most ~15 s of arrivals per probe
            ow = open_loop(self.callable, [{}], load, rule, callers=1, seed=schedule_seed(0, load))
            self.wake_ns += ow.wakeup_lags_ns.tolist()
            # What the queue saw as service: each call as the caller timed it, plus the caller's own turn-around
            # between a call's end and the next start when that arrival was already waiting (one caller: in order).
            done = ow.completed
            self.service_ns += (ow.ended_ns - ow.started_ns)[done].tolist()
            busy = (ow.schedule_ns[1:] <= ow.ended_ns[:-1]) & done[1:] & done[:-1]
            self.turnaround_ns += (ow.started_ns[1:] - ow.ended_ns[:-1])[busy].tolist()
            self._offered[load] = ow.offered_per_s
            latencies, unsent, lag = ow.latencies_ns, ow.unsent, ow.fields().get("issue_lag_ms")
            warnings = open_loop_warnings(ow, load, rule)
            w = ow  # type: ignore[assignment]
        h = histogram.from_ns(latencies)
        window_s = w.wall_ns / 1e9
        metrics = LoadMetrics(latency_ms=histogram.summary_ms(h), latency_hdr=histogram.encode(h), requests=len(latencies),
                              ok=len(latencies), unsent=unsent, window_s=window_s, issue_lag_ms=lag,
                              throughput_rps=len(latencies) / window_s if window_s else None)
        return LoadWindow(run_id="selftest", cell_id=self.cell_id(mode, load, requests), cell={"mode": mode, "load": load}, status="ok",
                          repeat=0, repeats=1, metrics=metrics, slo=assess(self.slo, metrics), warnings=warnings)

    slo: Any = None


CAPACITY_BOUNDS = (("p99<=5ms,confidence=95%", True), ("p99<=0.5ms,confidence=95%", False))  # (SLO, can a rate meet it)


def _capacity_checks(progress: Callable[[str], None], bounds: tuple[tuple[str, bool], ...] = CAPACITY_BOUNDS) -> list[Check]:
    """The capacity search (capacity/driver.py, search.py, probes.py) on the calibrated target in process:
    the highest rate found for a p99 bound against M/D/1 simulated on the service times given (with the
    callers' wake-up lateness); and a bound below the service time, which no rate can meet."""
    import tempfile
    from pathlib import Path

    from infermeter.capacity.driver import run_capacity
    from infermeter.capacity.search import requests_to_pass
    from infermeter.results.store import ResultStore

    out = []
    service_ms = 1.0
    for text, possible in bounds:
        slo = parse_slo(text)
        progress(f"capacity search in process: {slo.latency_text} on deterministic {service_ms:g} ms, one server")
        target = _CalibratedTarget(service_ms)
        target.slo = slo
        # Sized by the SLO, not by --seconds: a p99 over fewer requests of a queue is too noisy for a search to land
        # within 5% (at the 298 a pass needs: 224 against 416/s in one run here).
        requests = max(requests_to_pass(slo), 600)
        with tempfile.TemporaryDirectory() as d:
            store = ResultStore(Path(d))
            store.create()
            [found] = run_capacity(store, "selftest", {"target": "calibrated"}, target, slo, ["rate"], requests, resolution=0.02,
                                   curve=False)
        if possible:
            wake = np.asarray(target.wake_ns, dtype=np.float64) / 1e9
            turnaround = float(np.mean(target.turnaround_ns)) / 1e9 if target.turnaround_ns else 0.0
            service = np.asarray(target.service_ns, dtype=np.float64) / 1e9 + turnaround
            expected = theory.capacity_for_quantile(service, 0.99, slo.bound_ms / 1000, wake)
            out.append(relative(f"capacity at {slo.latency_text} ({service_ms:g} ms deterministic): highest rate meeting it", expected,
                                found.capacity if found.capacity is not None else math.nan, "req/s", THROUGHPUT_TOL,
                                f"M/D/1 simulated on the calls as timed + the callers' turn-around ({turnaround * 1e6:.0f} us) and "
                                f"wake-up lateness; found in {len(found.probes)} probes, "
                                f"interval [{found.capacity or 0:.4g}, {found.upper or 0:.4g})"))
        else:
            out.append(Check(f"capacity at {slo.latency_text}, below the {service_ms:g} ms service: no rate meets it", 0.0,
                             found.capacity or 0.0, "req/s", None, found.capacity is None and found.stopped == "no load meets it",
                             f"the search said: {found.stopped}"))
    return out


def run_selftest(seconds: float = 8.0, capacity_rate: float = 1000.0, progress: Callable[[str], None] = lambda s: None,
                 capacity_search: bool = True) -> list[Check]:
    """Every check in order; `capacity_search` off leaves out the capacity search's (about a minute here, however
    short `seconds` is: its probes are sized by the SLO)."""
    checks: list[Check] = []
    add = checks.append

    progress("timer and histogram resolution")
    res_ns = time.get_clock_info("perf_counter").resolution * 1e9
    deltas = []
    for _ in range(20000):
        a = time.perf_counter_ns()
        b = time.perf_counter_ns()
        if b > a:
            deltas.append(b - a)
    add(at_most("timer resolution", 1000.0, res_ns, "ns", "perf_counter; latencies are kept in microseconds"))
    add(info("smallest timer step seen", float(min(deltas)) if deltas else math.nan, "ns"))
    h = histogram.from_ns(np.array([150_000, 420_000, 880_000], dtype=np.int64))
    kept = histogram.summary_ms(h)
    add(relative("sub-millisecond latency kept (p50 of 0.15/0.42/0.88 ms)", 0.42, kept["p50"], "ms", 0.01,
                 "HDR histogram in microseconds: nothing rounded to 0 or 1 ms"))

    progress("harness overhead, in process")
    w = sequential(lambda b: None, [{}], WindowRule(10_000, 0.5, 5.0))
    add(at_most("in-process overhead per call (p50, null target)", 5.0, float(np.median(w.latencies_ns)) / 1000, "µs"))

    with FakeHttpServer(FakeServerConfig(service_ms=0.0)) as null:
        progress("harness overhead, loopback HTTP")
        m = _window(null.url, seconds / 2, users=1)
        rtt_ms = m["latency_ms"]["p50"]
        add(at_most("loopback HTTP round trip (p50, null target, 1 user)", 2.0, rtt_ms, "ms"))
        m = _window(null.url, seconds / 2, users=8)
        add(info("generator + null server throughput (8 users, 1 process)", m["throughput_rps"], "req/s"))
        progress(f"generator capacity: open loop at {capacity_rate:g}/s on the null target")
        m = _window(null.url, seconds / 2, rate=capacity_rate, arrival="constant")
        add(at_most(f"generator keeps a {capacity_rate:g}/s schedule (p99 send lag)", LAG_LIMIT_MS, _lag_p99(m), "ms",
                    "if this fails, the generator (not the target) limits open-loop results: fewer other programs, "
                    "more generator processes, or its own cores"))
        add(relative(f"throughput at {capacity_rate:g}/s offered", capacity_rate, m["throughput_rps"] or 0.0, "req/s", THROUGHPUT_TOL))
    rtt_s = rtt_ms / 1000

    service_ms = 5.0
    for workers, users in ((1, 1), (1, 4), (2, 4)):
        progress(f"closed loop: {users} users, {workers} worker(s), deterministic {service_ms:g} ms")
        with FakeHttpServer(FakeServerConfig(service_ms=service_ms, workers=workers)) as srv:
            m = _window(srv.url, seconds, users=users)
            es, _, _ = srv.service_moments()
        x = (m["requests"] / m["window_s"]) if m["window_s"] else 0.0
        mean_s = m["latency_ms"]["mean"] / 1000
        if users <= workers:
            expected_x = users / (es + rtt_s)
            note = "users / (service + loopback round trip)"
        else:
            expected_x = theory.closed_loop_throughput(users, workers, es)
            note = "workers / service time (servers never idle)"
        add(relative(f"closed loop {users}u/{workers}w: throughput", expected_x, x, "req/s", THROUGHPUT_TOL, note))
        add(relative(f"closed loop {users}u/{workers}w: Little's law N = X x R", float(users),
                     theory.littles_law_users(x, mean_s), "users", THROUGHPUT_TOL))

    progress(f"in process: 4 threads, 2 workers, deterministic {service_ms:g} ms")
    target = CalibratedCallable(service_ms, workers=2)
    w = concurrent(target, [{}], WindowRule(50, seconds / 2, seconds * 4), workers=4)
    x = len(w.latencies_ns) / (w.wall_ns / 1e9)
    add(relative("in-process 4 threads/2 workers: throughput", 2 / target.mean_service_s(), x, "calls/s", THROUGHPUT_TOL))
    add(relative("in-process 4 threads/2 workers: Little's law", 4.0,
                 theory.littles_law_users(x, float(np.mean(w.latencies_ns)) / 1e9), "threads", THROUGHPUT_TOL))

    checks += _inprocess_open_loop(seconds, service_ms, progress)
    if capacity_search:
        checks += _capacity_checks(progress)
    else:
        progress("capacity search: skipped (--skip-capacity)")

    for dist, rate, label in (("deterministic", 100.0, "M/D/1"), ("exponential", 60.0, "M/M/1")):
        progress(f"open loop {label}: Poisson {rate:g}/s, {dist} {service_ms:g} ms")
        with FakeHttpServer(FakeServerConfig(service_ms=service_ms, workers=1, distribution=dist, seed=7)) as srv:
            m = _window(srv.url, seconds * 2, rate=rate, seed=11)
            es, es2, _ = srv.service_moments()
        rho = rate * es
        # Open-loop latency counts from each request's scheduled time, so the generator's own send lag
        # (asyncio timers wake up to a millisecond late) is part of it: it is measured and added here,
        # and bounded separately below.
        lag_s = (m.get("issue_lag_ms") or {}).get("mean", 0.0) / 1000
        if dist == "deterministic":
            expected = theory.mg1_mean_response(rate, es, es2) + rtt_s + lag_s
        else:
            expected = theory.mm1_mean_response(rate, es) + rtt_s + lag_s
        add(relative(f"{label} rho={rho:.2f}: mean response", expected * 1000, m["latency_ms"]["mean"], "ms", MEAN_TOL,
                     "Pollaczek-Khinchine on the service times given + loopback round trip + mean send lag"))
        if dist == "exponential":
            for p in (50, 90):
                want = theory.mm1_response_percentile(rate, es, p / 100) + rtt_s + lag_s
                add(relative(f"{label} rho={rho:.2f}: p{p}", want * 1000, m["latency_ms"][f"p{p}"], "ms", PERCENTILE_TOL,
                             "time in M/M/1 is exponential with rate mu - lambda"))
        add(at_most(f"{label}: generator kept the schedule (p99 send lag)", LAG_LIMIT_MS, _lag_p99(m), "ms"))

    stall = 1.0
    progress(f"coordinated omission: a {stall:g} s stall, open loop vs closed loop")
    with FakeHttpServer(FakeServerConfig(service_ms=1.0, workers=1, stall_after_s=1.0, stall_s=stall)) as srv:
        open_m = _window(srv.url, 4.0, rate=50.0, warmup_s=0.0, seed=3)
    with FakeHttpServer(FakeServerConfig(service_ms=1.0, workers=1, stall_after_s=1.0, stall_s=stall)) as srv:
        closed_m = _window(srv.url, 4.0, users=1, warmup_s=0.0)
    add(at_least("open loop sees the stall (p90 latency)", 0.2 * stall * 1000, open_m["latency_ms"]["p90"], "ms",
                 f"~50 requests arrive during the {stall:g} s stall and wait for its end"))
    add(info("closed loop, 1 user, same stall (p90 latency)", closed_m["latency_ms"]["p90"], "ms",
             "a closed loop sends nothing while stalled: the stall is one slow sample (coordinated omission)"))
    return checks
