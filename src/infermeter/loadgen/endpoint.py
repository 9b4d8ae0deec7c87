"""Run a load test against an HTTP endpoint: a sweep of virtual users (closed loop) or of arrival rates
(open loop), each point repeated, every repeat stored the moment it is measured."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import socket
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from infermeter.collectors import machine
from infermeter.collectors.window import Window, endpoint_window
from infermeter.errors import ConfigError
from infermeter.loadgen.generator import (GeneratorFailedError, Generators, LoadPlan, LocalProcesses, generator_warnings,
                                          measured_from, merge, scheduled, window_failure)
from infermeter.loadgen.schedule import arrivals, split, trace_times
from infermeter.loadgen.shapes import parse_stages, peak, ramp_spans, stage_spans, total_s
from infermeter.loadgen.settings import LoadSettings, parse_cpus, parse_think_time
from infermeter.protocols.http import HttpTarget
from infermeter.results.record import LoadMetrics, LoadWindow, Sanity
from infermeter.results.redact import redact_url
from infermeter.results.slo import SLO, assess
from infermeter.results.store import ResultStore
from infermeter.results.warnings import RecordWarning
from infermeter.validity.sanity import load_sanity


def check_points(settings: LoadSettings, users: list[int] | None, rates: list[float] | None) -> None:
    """The load asked for makes sense (checked before anything is contacted; `settings` validated itself)."""
    if settings.stages:
        if users or rates:
            raise ConfigError("a shaped load (stages) gives its users over time; it takes no users or rates", "drop --users and --rate")
        return
    if bool(users) == bool(rates):
        raise ConfigError("give virtual users (closed loop) or arrival rates (open loop)", "--users 1,10,25 or --rate 50,100")
    if any(u < 1 for u in users or []) or any(r <= 0 for r in rates or []):
        raise ConfigError("users must be >= 1 and rates > 0", "e.g. --users 1,10,25 or --rate 20,50")


def check_loopback(target: HttpTarget, allow_remote: bool) -> None:
    """Refuse anything but this machine unless the user says otherwise: a load test is not a thing to
    aim at someone else's address by mistake."""
    try:
        addrs = {info[4][0] for info in socket.getaddrinfo(target.host, target.port)}
    except socket.gaierror as exc:
        raise ConfigError(f"cannot resolve {target.host!r}: {exc}", "check the URL") from None
    remote = [a for a in addrs if not ipaddress.ip_address(a.split("%")[0]).is_loopback]
    if remote and not allow_remote:
        raise ConfigError(
            f"{redact_url(target.url)} resolves to {', '.join(sorted(remote))}, not this machine",
            "load tests target 127.0.0.1 by default; add --allow-remote if you mean to load another host",
        )


def probe(target: HttpTarget, timeout: float = 5.0) -> None:
    """Fail fast, with the reason, when nothing answers at the URL."""
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout):
            pass
    except OSError as exc:
        raise ConfigError(f"nothing answers at {target.host}:{target.port} ({exc.strerror or exc})", "start the server first, or check the URL and port") from None


def build_plans(target: HttpTarget, s: LoadSettings, users: int | None, rate: float | None, repeat: int) -> list[LoadPlan]:
    """The generator processes' shares of one window: users or arrivals dealt between them. What is drawn
    (a ramp-up's start times, the arrival schedule) is drawn here, once, and dealt, so the shares' union is
    the load asked for however many processes or machines run it."""
    procs = s.generator_processes
    base = LoadPlan(target=target, mode="closed", warmup_s=s.warmup_s, min_seconds=s.min_seconds,
                    min_requests=math.ceil(s.min_requests / procs), max_seconds=s.max_seconds, timeout_s=s.timeout_s,
                    seed=s.seed + repeat, cpus=parse_cpus(s.generator_cpus) if s.generator_cpus else ())
    if users is not None or s.stages:
        think = parse_think_time(s.think_time) if s.think_time else None
        spans: list[tuple[tuple[float, float], ...]] = []
        if s.stages:  # one window over the whole shape (its first warmup_s seconds not counted)
            stages = parse_stages(s.stages)
            spans, users = stage_spans(stages), peak(stages)
            measured = max(total_s(stages) - s.warmup_s, 0.1)
            base = replace(base, min_seconds=measured, max_seconds=measured, min_requests=1)
        elif s.spawn_rate:  # user k of all starts at k / spawn_rate; the warm-up covers the ramp
            spans = ramp_spans(users, s.spawn_rate)  # type: ignore[arg-type]
            base = replace(base, warmup_s=max(s.warmup_s, users / s.spawn_rate))  # type: ignore[operator]
        assert users is not None
        plans = []
        for i in range(min(procs, users)):  # users dealt round-robin, each with its spans
            mine = list(range(i, users, procs))
            plans.append(replace(base, users=len(mine), think=think, first_user=i, user_stride=procs,
                                 user_spans=tuple(spans[u] for u in mine) if spans else ()))
        return plans
    assert rate is not None
    # The window is at least min_seconds long and holds at least min_requests arrivals.
    duration = max(s.min_seconds, s.min_requests / rate)
    trace, payloads = trace_times(s.trace) if s.trace else (None, None)
    schedule = arrivals(rate, duration, s.arrival, seed=s.seed + repeat, burstiness=s.burstiness, trace=trace)
    ids = payloads[np.arange(len(schedule)) % len(payloads)] if payloads is not None else None
    return [replace(base, mode="open", schedule_ns=tuple(part.tolist()),
                    payloads=tuple(ids[i::procs].tolist()) if ids is not None else ())
            for i, part in enumerate(split(schedule, procs))]


def measure_window(plans: list[LoadPlan], collected: Window | None = None,
                   generators: Generators | None = None) -> tuple[LoadMetrics | None, str | None, list[RecordWarning]]:
    """One window: (merged metrics, why it is not usable or None, the generator's self-check warnings).
    A generator process that died makes a failed window with its cause (and no metrics), not a crash of
    the run. `collected` (collectors/window.py) is opened so that its counters cover the recorded part
    (after the warm-up) and closed at the end; with metrics, its fields are in them. `generators`: who
    runs the shares (default: this machine's processes; loadgen/distributed.py: Locust's workers)."""
    generators = generators or LocalProcesses()
    plans = scheduled(plans, generators)
    if collected is not None:
        collected.start_at(measured_from(plans))
    try:
        merged = merge(generators.run(plans)) | generators.window_fields()
    except GeneratorFailedError as exc:
        return None, str(exc), []
    finally:
        if collected is not None:
            collected.stop()
    metrics = LoadMetrics(**merged)
    if collected is not None:
        metrics = LoadMetrics.model_validate(metrics.model_dump() | collected.fields(metrics.throughput_rps))
    return metrics, window_failure(merged), generator_warnings(merged)


def window_fields(repeat: int, repeats: int, metrics: LoadMetrics | None, failure: str | None,
                  warnings: list[RecordWarning], users: int | None, slo: SLO | None = None) -> dict[str, Any]:
    """The part of a load window's record that one measured window fills in (load tests and server
    cells alike): keyword arguments of LoadWindow / ServerWindow. With an SLO, the window's verdict and
    goodput (results/slo.py)."""
    return dict(
        slo=assess(slo, metrics),
        sanity=Sanity(**load_sanity(metrics.model_dump() if metrics else {}, users)),
        status="failed" if failure else "ok",
        error=failure,
        repeat=repeat,
        repeats=repeats,
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        metrics=metrics,
        warnings=warnings,
    )


def cell_of(target: HttpTarget, s: LoadSettings, users: int | None, rate: float | None, label: str) -> dict[str, Any]:
    return {
        "target": redact_url(target.url), "method": target.method, "body_bytes": len(target.body), "label": label,
        "scenario": "shaped" if s.stages else "closed-loop" if users is not None else "open-loop",
        "users": users, "rate": rate, "settings": _settings_fields(s),
    }


def _settings_fields(s: LoadSettings) -> dict[str, Any]:
    # The keys the settings had before they were one pydantic model with the suite's `load:` ("workers",
    # not "generator_processes"): a cell's id hashes them, and --resume and compare match cells by it.
    fields = s.model_dump()
    fields["workers"] = fields.pop("generator_processes")
    return fields


def run_load(
    target: HttpTarget,
    out: Path,
    settings: LoadSettings,
    users: list[int] | None = None,
    rates: list[float] | None = None,
    label: str = "",
    resume: bool = False,
    on_progress: Callable[[str], None] | None = None,
    slo: SLO | None = None,
    generators: Generators | None = None,
) -> list[LoadWindow]:
    """Measure every point `repeats` times; returns the records (also appended to OUT). With an SLO, each
    window's record carries its verdict and goodput; the SLO is no part of a point's identity (cell_id).
    `generators`: who runs each window's `settings.generator_processes` shares (measure_window)."""
    check_points(settings, users, rates)
    store = ResultStore(out)
    with store.lock():
        return _run_load_locked(target, store, settings, users, rates, label, resume, on_progress, slo, generators)


def _run_load_locked(target: HttpTarget, store: ResultStore, settings: LoadSettings, users: list[int] | None,
                     rates: list[float] | None, label: str, resume: bool, on_progress: Callable[[str], None] | None,
                     slo: SLO | None, generators: Generators | None) -> list[LoadWindow]:
    out = store.out
    if store.has_results() and not resume:
        raise ConfigError(f"{out} already holds results", "add --resume to finish that run, or choose another --out")
    if resume:
        store.refuse_damage()
    store.create()
    finished = store.finished_cells() if resume else set()
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    points: list[tuple[int | None, float | None]] = [(u, None) for u in users or []] + [(None, r) for r in rates or []] \
        if not settings.stages else [(None, None)]  # a shape is one point
    records = []
    for u, r in points:
        cell = cell_of(target, settings, u, r, label)
        cell_id = hashlib.sha256(json.dumps(cell, sort_keys=True).encode()).hexdigest()[:16]
        if cell_id in finished:
            continue
        for rep in range(settings.repeats):
            if on_progress:
                on_progress(f"{'users ' + str(u) if u is not None else 'rate ' + str(r) + '/s' if r is not None else 'shape'}: "
                            f"repeat {rep + 1}/{settings.repeats}")
            # The target's processes are not ours: energy measured (RAPL) or n/a, never a guess.
            metrics, failure, warnings = measure_window(build_plans(target, settings, u, r, rep), endpoint_window(), generators)
            record = LoadWindow(
                run_id=run_id, cell_id=cell_id, cell=cell, machine=machine.machine_info(), packages=machine.package_versions(),
                **window_fields(rep, settings.repeats, metrics, failure, warnings, u, slo),
            )
            store.append(record)
            records.append(record)
    return records
