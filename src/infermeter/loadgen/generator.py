"""The load generator: closed loop (N virtual users) and open loop (scheduled arrivals) over HTTP.

A closed-loop window counts the requests that complete inside it (those in flight when it closes are
drained, not counted); an open-loop window counts the requests scheduled inside it, with latency from the
scheduled time. One generator process runs one asyncio loop. Several processes can share a load (users or arrivals
dealt between them); each returns mergeable histograms and counters, never percentiles. Every request's
outcome is kept by kind. Each process also reports how busy it was and how late it sent, so a run where
the generator, not the server, was the limit says so.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np

from infermeter.collectors.process import rss_mb
from infermeter.errors import InfermeterError
from infermeter.protocols.grpc_client import GrpcCaller, GrpcTarget, is_success
from infermeter.protocols.http import Connection, HttpTarget, ProtocolError
from infermeter.loadgen import series
from infermeter.loadgen.schedule import digest
from infermeter.results.warnings import RecordWarning, warning
from infermeter.results import histogram
from infermeter.validity.sanity import LAG_LIMIT_MS, SATURATED_CPU  # the limits the sanity verdict judges by

Mode = Literal["closed", "open"]


@dataclass(frozen=True)
class LoadPlan:
    """What one generator process does. Times in seconds."""

    target: HttpTarget | GrpcTarget
    mode: Mode
    users: int = 1  # closed loop: connections, each sending back to back
    schedule_ns: tuple[int, ...] = ()  # open loop: send times from the window start
    warmup_s: float = 1.0
    min_seconds: float = 5.0
    min_requests: int = 1
    max_seconds: float = 60.0
    timeout_s: float = 10.0
    max_connections: int = 256  # open loop: connections it may open to keep the schedule
    start_at: float = 0.0  # time.time() at which to start (aligns processes); 0 = now
    keep_samples: bool = False  # tests: return every recorded latency too, to check merged percentiles against
    # Load shapes (issue 16): closed loop, when each user runs (loadgen/shapes.py: spans of seconds from the
    # start of the warm-up; none: every user all along) and its pause between requests ((kind, a, b) as
    # settings.parse_think_time gives, drawn from `seed` and the user's index over all shares,
    # `first_user + u * user_stride`: users are dealt round-robin); open loop, which request body each
    # arrival sends (a trace's).
    user_spans: tuple[tuple[tuple[float, float], ...], ...] = ()
    think: tuple[str, float, float] | None = None
    seed: int = 0
    first_user: int = 0
    user_stride: int = 1
    payloads: tuple[int, ...] = ()
    cpus: tuple[int, ...] = ()  # the cores this share runs on (always in a process of its own); () = any


@dataclass
class LoadResult:
    """What one generator process measured; `merge` combines several."""

    latency_hdr: str  # every completed request, failed ones too
    lag_hdr: str | None
    outcomes: dict[str, int]
    window_s: float
    cpu_s: float
    wall_s: float
    unsent: int = 0
    rss_mb: float = 0.0  # the generator process's resident memory at the end of its run
    errors: list[str] = field(default_factory=list)
    failure_latency_hdr: str | None = None  # the failed requests alone (None: none failed)
    worker: str = ""  # who ran this share: "" in this machine's own processes, a Locust worker's name otherwise
    start_late_s: float = 0.0  # how long after the agreed start this share began
    schedule_digest: str = ""  # open loop: which send times it ran (schedule.digest)
    samples_us: list[int] | None = None  # every recorded latency, where the plan asked (keep_samples)
    series: dict[str, Any] | None = None  # per second, warm-up included (loadgen/series.py)
    cpus: list[int] = field(default_factory=list)  # the cores it could run on

    @property
    def completed(self) -> int:
        return sum(self.outcomes.values())

    @property
    def ok(self) -> int:
        return sum(v for k, v in self.outcomes.items() if is_success(k))


def outcome_of(status: int) -> str:
    return str(status)


class _Recorder:
    def __init__(self) -> None:
        self.latencies: list[int] = []
        self.done: list[int] = []  # when each of `latencies` completed (perf_counter_ns): the time series
        self.failed_latencies: list[int] = []  # also in `latencies`: kept apart so goodput counts OK requests only
        self.failed_done: list[int] = []
        self.warm_latencies: list[int] = []  # the warm-up's, for the time series alone
        self.warm_done: list[int] = []
        self.warm_failed_done: list[int] = []
        self.lags: list[int] = []
        self.outcomes: Counter[str] = Counter()
        self.errors: list[str] = []

    def note_error(self, kind: str, exc: BaseException) -> None:
        self.outcomes[kind] += 1
        if len(self.errors) < 5:
            self.errors.append(f"{kind}: {exc!r}")


async def _send(conn: Connection | None, plan: LoadPlan, raw: bytes) -> tuple[str, Connection | None]:
    """One request on `conn` (opened if None). Returns the outcome kind and the connection to reuse."""
    try:
        if conn is None or not conn.usable:
            conn = await Connection.open(plan.target.host, plan.target.port, plan.timeout_s)
        status, keep = await conn.request(raw, plan.timeout_s)
        if not keep:
            conn.close()
            conn = None
        return outcome_of(status), conn
    except (asyncio.TimeoutError, TimeoutError):  # the same class from Python 3.11; asyncio's own before
        if conn is not None:
            conn.close()  # a late answer must not be read as the next request's
        return "timeout", None
    except (ConnectionError, OSError) as exc:
        if conn is not None:
            conn.close()
        return "connection-error:" + type(exc).__name__, None
    except ProtocolError:
        if conn is not None:
            conn.close()
        return "protocol-error", None


class _HttpClient:
    """One virtual user's keep-alive connection (reopened after errors or Connection: close)."""

    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan
        self.conn: Connection | None = None

    async def request(self, raw: bytes) -> str:
        kind, self.conn = await _send(self.conn, self.plan, raw)
        return kind

    async def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


class _GrpcClient:
    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan
        self.caller = GrpcCaller(plan.target)  # type: ignore[arg-type]

    async def request(self, raw: bytes) -> str:
        return await self.caller.request(raw, self.plan.timeout_s)

    async def close(self) -> None:
        await self.caller.close()


def _client(plan: LoadPlan) -> _HttpClient | _GrpcClient:
    return _GrpcClient(plan) if isinstance(plan.target, GrpcTarget) else _HttpClient(plan)


def _thinker(plan: LoadPlan, user: int) -> Callable[[], float] | None:
    """The user's pause between requests (seconds), drawn from its own seeded stream."""
    if plan.think is None:
        return None
    import random

    kind, a, b = plan.think
    rng = random.Random(f"{plan.seed}:{plan.first_user + user * plan.user_stride}")
    if kind == "constant":
        return lambda: a
    if kind == "uniform":
        return lambda: rng.uniform(a, b)
    return lambda: rng.expovariate(1.0 / a) if a > 0 else 0.0


async def _closed_loop(plan: LoadPlan, rec: _Recorder, requests: list[bytes]) -> tuple[float, int]:
    clock = time.perf_counter_ns
    t_start = clock()
    measure_from = t_start + int(plan.warmup_s * 1e9)
    min_end = measure_from + int(plan.min_seconds * 1e9)
    max_end = measure_from + int(plan.max_seconds * 1e9)
    state = {"stop": False, "last": measure_from}

    spans = plan.user_spans or ((((0.0, math.inf),),) * plan.users)

    async def user(first: int) -> None:
        think = _thinker(plan, first)
        client = _client(plan)
        i = first
        for a, b in spans[first]:
            await asyncio.sleep(max(0.0, (t_start + a * 1e9 - clock()) / 1e9))
            until = t_start + b * 1e9
            while not state["stop"]:
                t0 = clock()
                if t0 >= until:  # a shape's span ends: this user rests (its request in flight was let finish)
                    break
                raw = requests[i % len(requests)]
                i += 1
                kind = await client.request(raw)
                t1 = clock()
                # A closed-loop window counts the requests that complete inside it: with long latencies,
                # counting only those sent inside it would leave the window's first seconds empty and
                # under-report throughput (seen here: -50% at 100 users against 10 s latencies).
                if t1 >= measure_from and not state["stop"]:
                    rec.outcomes[kind] += 1
                    rec.latencies.append(t1 - t0)
                    rec.done.append(t1)
                    if not is_success(kind):
                        rec.failed_latencies.append(t1 - t0)
                        rec.failed_done.append(t1)
                    state["last"] = t1
                    n = len(rec.latencies)
                    if (t1 >= min_end and n >= plan.min_requests) or t1 >= max_end:
                        state["stop"] = True
                elif t1 < measure_from:
                    rec.warm_latencies.append(t1 - t0)
                    rec.warm_done.append(t1)
                    if not is_success(kind):
                        rec.warm_failed_done.append(t1)
                if kind.startswith(("connection-error", "protocol-error", "grpc:UNAVAILABLE")):
                    await asyncio.sleep(0.001)  # a refused connection must not become a busy loop
                elif think is not None:
                    await asyncio.sleep(think())
        await client.close()

    await asyncio.gather(*(user(u) for u in range(plan.users)))
    return (state["last"] - measure_from) / 1e9, t_start


async def _open_loop(plan: LoadPlan, rec: _Recorder, requests: list[bytes]) -> tuple[float, int, int]:
    clock = time.perf_counter_ns
    idle: list[_HttpClient | _GrpcClient] = []
    slots = asyncio.Semaphore(plan.max_connections)
    warm_ns = int(plan.warmup_s * 1e9)
    t_start = clock()
    window_start = t_start + warm_ns
    schedule = np.asarray(plan.schedule_ns, dtype=np.int64) + window_start
    # Warm-up: the same rate before the window, not recorded.
    if warm_ns and len(schedule) > 1:
        gap = int((schedule[-1] - schedule[0]) / max(1, len(schedule) - 1))
        warm = np.arange(t_start, window_start, max(gap, 1), dtype=np.int64)
    else:
        warm = np.array([], dtype=np.int64)
    tasks: set[asyncio.Task[None]] = set()
    last_done = [window_start]

    async def one(scheduled: int, record: bool, raw: bytes) -> None:
        async with slots:
            client = idle.pop() if idle else _client(plan)
            sent = clock()
            kind = await client.request(raw)
            done = clock()
            idle.append(client)
        if record:
            rec.outcomes[kind] += 1
            rec.latencies.append(done - scheduled)  # from the scheduled time: no coordinated omission
            rec.done.append(done)
            if not is_success(kind):
                rec.failed_latencies.append(done - scheduled)
                rec.failed_done.append(done)
            rec.lags.append(sent - scheduled)
            last_done[0] = max(last_done[0], done)
        else:
            rec.warm_latencies.append(done - scheduled)
            rec.warm_done.append(done)
            if not is_success(kind):
                rec.warm_failed_done.append(done)

    n = 0
    payloads = plan.payloads
    for times, record in ((warm, False), (schedule, True)):
        for k, scheduled in enumerate(times.tolist()):
            delay = (scheduled - clock()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            raw = requests[payloads[k] % len(requests)] if record and payloads else requests[n % len(requests)]
            task = asyncio.ensure_future(one(scheduled, record, raw))
            n += 1
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    deadline = window_start + int(plan.max_seconds * 1e9)
    unsent = 0
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=max(0.0, (deadline - clock()) / 1e9) + plan.timeout_s)
        unsent = len(pending)
        for t in pending:
            t.cancel()
    for c in idle:
        await c.close()
    end = max(last_done[0], int(schedule[-1]) if len(schedule) else window_start)
    return (end - window_start) / 1e9, unsent, t_start


def run_plan(plan: LoadPlan) -> LoadResult:
    """Run one generator process's share of the load, in this process."""
    try:
        import uvloop  # type: ignore[import-not-found]

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    # Encoded before the start time, so that the warm-up, and the measured part after it, begin when the
    # plan says (the server's counters are read at that moment: measured_from).
    if plan.cpus:
        os.sched_setaffinity(0, plan.cpus)
    requests = plan.target.encode_all()
    late = 0.0
    if plan.start_at:
        time.sleep(max(0.0, plan.start_at - time.time()))
        late = max(0.0, time.time() - plan.start_at)
    rec = _Recorder()
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    unsent = 0
    if plan.mode == "closed":
        window, t_start = runner(_closed_loop(plan, rec, requests))
    else:
        window, unsent, t_start = runner(_open_loop(plan, rec, requests))
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    lat = np.asarray(rec.latencies, dtype=np.int64)
    lags = np.asarray(rec.lags, dtype=np.int64)
    return LoadResult(
        latency_hdr=histogram.encode(histogram.from_ns(lat)),
        lag_hdr=histogram.encode(histogram.from_ns(np.maximum(lags, 1000))) if plan.mode == "open" else None,
        outcomes=dict(rec.outcomes),
        window_s=window,
        cpu_s=cpu,
        wall_s=wall,
        unsent=unsent,
        errors=rec.errors,
        rss_mb=rss_mb(),
        failure_latency_hdr=histogram.encode(histogram.from_ns(np.asarray(rec.failed_latencies, dtype=np.int64)))
        if rec.failed_latencies else None,
        start_late_s=late,
        schedule_digest=digest(plan.schedule_ns) if plan.mode == "open" else "",
        samples_us=np.rint(lat / 1000).astype(np.int64).tolist() if plan.keep_samples else None,
        series=series.of_share(plan, rec, t_start),
        cpus=sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [],
    )


def _run_plan_in_child(plan: LoadPlan, queue: Any) -> None:
    try:
        queue.put(run_plan(plan))
    except BaseException as exc:  # reported to the parent, which records it
        queue.put(exc)


class GeneratorFailedError(InfermeterError):
    """A load generator process died or hung: the window measured the generator, not the server."""

    exit_code = 5


SPAWN_S = 1.5  # time for generator processes' interpreters to start


class Generators(Protocol):
    """Who runs a window's shares: this machine's processes (LocalProcesses) or Locust's workers
    (loadgen/distributed.py). `lead_s`: how long before the start time the shares must be handed out."""

    def lead_s(self, plans: list[LoadPlan]) -> float: ...

    def run(self, plans: list[LoadPlan]) -> list[LoadResult]: ...

    def window_fields(self) -> dict[str, Any]:
        """Its own figures of the window just run, for the metrics block (results/record.py)."""
        ...


class LocalProcesses:
    """Each share in its own process on this machine (one share: in this process)."""

    def lead_s(self, plans: list[LoadPlan]) -> float:
        return SPAWN_S if len(plans) > 1 or plans[0].cpus else 0.02

    def run(self, plans: list[LoadPlan]) -> list[LoadResult]:
        return run_processes(plans)

    def window_fields(self) -> dict[str, Any]:
        return {}


def scheduled(plans: list[LoadPlan], generators: Generators | None = None) -> list[LoadPlan]:
    """The plans with one start time (time.time()), leaving the processes time to start."""
    start_at = time.time() + (generators or LocalProcesses()).lead_s(plans)
    return [replace(p, start_at=start_at) for p in plans]


def measured_from(plans: list[LoadPlan]) -> float:
    """When (time.time()) the recorded part of scheduled plans begins: after their warm-up."""
    return plans[0].start_at + plans[0].warmup_s


def run_processes(plans: list[LoadPlan]) -> list[LoadResult]:
    """Run each plan in its own process (one plan: in this one). Processes start together, at their
    start time where `scheduled` set one. A process that dies or overruns is found within a second or so,
    not at the end of a long timeout."""
    if len(plans) == 1 and not plans[0].cpus:  # pinned: never this process (what it starts later would inherit the mask)
        return [run_plan(plans[0])]
    import multiprocessing as mp
    import queue as queues

    ctx = mp.get_context("spawn")  # no fork of a process that may hold threads
    results_q = ctx.Queue()
    if not plans[0].start_at:
        plans = scheduled(plans)
    procs = []
    for p in plans:
        proc = ctx.Process(target=_run_plan_in_child, args=(p, results_q), daemon=True)
        proc.start()
        procs.append(proc)
    results: list[LoadResult] = []
    deadline = time.monotonic() + max(p.warmup_s + p.max_seconds + p.timeout_s for p in plans) + 30
    try:
        while len(results) < len(procs):
            try:
                item = results_q.get(timeout=0.5)
            except queues.Empty:
                _check_alive(procs, results_q, deadline)
                continue
            if isinstance(item, BaseException):
                raise GeneratorFailedError(f"a load generator process failed: {type(item).__name__}: {item}")
            results.append(item)
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
    return results


def _check_alive(procs: list[Any], results_q: Any, deadline: float) -> None:
    """Raise if a generator process ended without a result (killed, out of memory) or the window overran."""
    dead = [(i, p.exitcode) for i, p in enumerate(procs) if p.exitcode not in (None, 0)]
    if dead and results_q.empty():
        i, code = dead[0]
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        raise GeneratorFailedError(
            f"load generator process {i + 1} of {len(procs)} died during the window ({how}); the window is not counted",
            "if it was killed for memory, use fewer --generator-processes or users per process",
        )
    if time.monotonic() > deadline:
        raise GeneratorFailedError("the load generator processes did not finish their window in time", "lower --max-duration or the load")


def merge(results: list[LoadResult]) -> dict[str, Any]:
    """Combine processes: histograms merged, counts added, the window is the longest one."""
    lat = histogram.merge(r.latency_hdr for r in results)
    lags = [r.lag_hdr for r in results if r.lag_hdr]
    failed_hdrs = [r.failure_latency_hdr for r in results if r.failure_latency_hdr]
    outcomes: Counter[str] = Counter()
    for r in results:
        outcomes.update(r.outcomes)
    window = max(r.window_s for r in results) or float("nan")
    completed = sum(outcomes.values())
    ok = sum(v for k, v in outcomes.items() if is_success(k))
    failures = completed - ok
    busiest = max(r.cpu_s / r.wall_s for r in results if r.wall_s > 0)
    client_cpu = sum(r.cpu_s for r in results)
    longest = max(r.wall_s for r in results)
    merged: dict[str, Any] = {
        "latency_ms": histogram.summary_ms(lat) if completed else {},
        "latency_hdr": histogram.encode(lat),
        "failure_latency_hdr": histogram.encode(histogram.merge(failed_hdrs)) if failed_hdrs else None,
        "requests": completed,
        "ok": ok,
        "failures": failures,
        "unsent": sum(r.unsent for r in results),
        "outcomes": dict(outcomes),
        "window_s": window,
        "throughput_rps": ok / window if window else None,
        "failures_per_s": failures / window if window else None,
        "failure_rate": failures / completed if completed else None,
        "generator_processes": len(results),
        "generator_cpu_max": busiest,
        # The client's own cost, beside the server's: CPU over the generators' run (warm-up and window),
        # and the resident memory of their processes.
        "client_cpu_s": client_cpu,
        "client_cpu_percent": 100 * client_cpu / longest if longest > 0 else None,
        "client_rss_mb": sum(r.rss_mb for r in results),
        "errors": [e for r in results for e in r.errors][:5],
        "generator_shares": [share_figures(i, r) for i, r in enumerate(results)] if len(results) > 1 else None,
        "series": series.merge([r.series for r in results if r.series]),
        "generator_cpus": sorted({c for r in results for c in r.cpus}),
    }
    if lags:
        lag = histogram.merge(lags)
        merged["issue_lag_ms"] = histogram.summary_ms(lag)
        merged["issue_lag_hdr"] = histogram.encode(lag)
    return merged


def share_figures(index: int, r: LoadResult) -> dict[str, Any]:
    """One share's own figures, kept beside the merged ones: which generator was slow or late is visible."""
    lag = histogram.summary_ms(histogram.decode(r.lag_hdr)).get("p99") if r.lag_hdr and r.completed else None
    return {"share": index, "worker": r.worker or f"process {index + 1}", "requests": r.completed, "ok": r.ok, "unsent": r.unsent,
            "window_s": r.window_s, "cpu_percent": 100 * r.cpu_s / r.wall_s if r.wall_s > 0 else None,
            "start_late_ms": 1000 * r.start_late_s, "issue_lag_p99_ms": lag, "schedule_digest": r.schedule_digest or None,
            "cpus": r.cpus}


def window_failure(merged: dict[str, Any]) -> str | None:
    """Why a window measured nothing usable (None when some request succeeded)."""
    if merged["ok"]:
        return None
    if not merged["requests"]:
        return "no request completed in the window" + (f": {merged['errors'][0]}" if merged["errors"] else "")
    worst = max(merged["outcomes"].items(), key=lambda kv: kv[1])
    return f"every request failed ({worst[1]} x {worst[0]})" + (f": {merged['errors'][0]}" if merged["errors"] else "")


def generator_warnings(merged: dict[str, Any]) -> list[RecordWarning]:
    """The self-check: was the generator itself the limit?"""
    out = []
    if merged["generator_cpu_max"] > SATURATED_CPU:
        out.append(warning(
            "generator-saturated",
            f"generator saturated: a generator process used {merged['generator_cpu_max']:.0%} of a core; "
            "the figures may show the generator's limit, not the server's",
        ))
    lag = (merged.get("issue_lag_ms") or {}).get("p99")
    if lag is not None and lag > LAG_LIMIT_MS:
        behind = [x for x in merged.get("generator_shares") or [] if (x["issue_lag_p99_ms"] or 0) > LAG_LIMIT_MS]
        who = f" (shares behind: {', '.join(x['worker'] + ' ' + format(x['issue_lag_p99_ms'], '.1f') + ' ms' for x in behind)})" if behind else ""
        out.append(warning(
            "schedule-not-kept",
            f"schedule not kept: p99 send lag {lag:.1f} ms > {LAG_LIMIT_MS} ms{who}; requests left late (latency still counts "
            "from the scheduled time)",
        ))
    late = [x for x in merged.get("generator_shares") or [] if x["start_late_ms"] > LAG_LIMIT_MS]
    if late:
        names = ", ".join(f"{x['worker']} ({x['start_late_ms']:.0f} ms)" for x in late)
        out.append(warning("share-started-late", f"generator shares started late: {names} after the agreed start "
                           f"(limit {LAG_LIMIT_MS} ms); their first requests left late"))
    if merged["unsent"]:
        out.append(warning("schedule-backlog", f"{merged['unsent']} scheduled requests were still waiting or in flight when the window ended"))
    return out


def default_processes() -> int:
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 4))
