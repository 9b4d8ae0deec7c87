"""Capacity of everything a suite names: each (workload, serving framework) deployed once from its adapter,
its answers checked, then searched over HTTP; each (workload, engine) loaded once in a worker and searched in
process. The suite gives the targets (and the SLO, unless the command gives one); the command gives the
search's settings, the same for every target, so that their capacities compare."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from infermeter.capacity.driver import run_capacity
from infermeter.capacity.engine import EngineTarget, session_log
from infermeter.capacity.search import Mode
from infermeter.capacity.server import ServerTarget
from infermeter.collectors.energy import DEFAULT_CPU_WATTS_PER_CORE
from infermeter.config import Suite, plan, plan_servers
from infermeter.export.artifacts import Exporter
from infermeter.loadgen.settings import LoadSettings
from infermeter.results.record import CapacityResult
from infermeter.results.slo import SLO
from infermeter.results.store import ResultStore
from infermeter.runner import CellSession
from infermeter.server_cells import deployment_common, deployment_dir
from infermeter.servers.registry import adapter_for
from infermeter.workloads.registry import get_workload


def run_suite_capacity(suite: Suite, store: ResultStore, run_id: str, slo: SLO, modes: list[Mode], requests: int,
                       settings: LoadSettings, cache_root: Path, *, callers: int = 1, resume: bool = False,
                       on_progress: Callable[[str], None] = lambda s: None, **search: object) -> tuple[list[CapacityResult], list[str]]:
    """Every target's searches; returns their answers and a line for each target that could not be searched
    (not installed here, failed to start), with the reason. `search`: run_capacity's keyword settings."""
    results: list[CapacityResult] = []
    skipped: list[str] = []
    watts = suite.energy.cpu_watts_per_core or DEFAULT_CPU_WATTS_PER_CORE
    for wname, entry, cells in plan_servers(suite):
        label = f"{wname} on {cells[0].server_label}"
        adapter = adapter_for(entry.name, entry.settings)
        why = adapter.missing() or adapter.cannot_place(wname)
        if why:
            skipped.append(f"{label}: {why}")
            continue
        on_progress(f"{label}: packaging and starting")
        workload = get_workload(wname, suite.seed)
        exporter = Exporter(workload, cache_root)
        deployment = adapter.deploy(workload, exporter, deployment_dir(store.out, entry.name, wname, cells[0].server_label))
        with deployment.process:
            adapter.on_ready(deployment)
            on_progress(f"{label}: checking answers")
            target = ServerTarget(adapter, deployment, wname, label, settings, slo, run_id,
                                  deployment_common(adapter, deployment, exporter), watts)
            cell = {"workload": wname, "server": cells[0].server_label, "label": label, "settings": settings.model_dump()}
            results += run_capacity(store, run_id, cell, target, slo, modes, requests, resume=resume,
                                    on_progress=lambda msg, at=label: on_progress(f"{at}: {msg}"), **search)  # type: ignore[arg-type]
    seen: set[tuple[str, str]] = set()
    for c in plan(suite):
        if (c.workload, c.engine_label) in seen:
            continue
        seen.add((c.workload, c.engine_label))
        label = f"{c.workload} on {c.engine_label}"
        if c.skip_reason:
            skipped.append(f"{label}: {c.skip_reason}")
            continue
        base = c.model_copy(update={"scenario": "single-stream", "concurrency": 1, "rate": None})
        on_progress(f"{label}: loading, checking its answers, warming up")
        with CellSession(base, cache_root, run_id, session_log(store.out, base), "process", watts, slo.text) as session:
            target = EngineTarget(base, session, slo, settings.min_seconds, settings.max_seconds, callers)
            cell = {"workload": c.workload, "engine": c.engine_label, "batch_size": c.batch_size, "callers": callers, "label": label,
                    "settings": settings.model_dump()}
            results += run_capacity(store, run_id, cell, target, slo, modes, requests, resume=resume,
                                    on_progress=lambda msg, at=label: on_progress(f"{at}: {msg}"), **search)  # type: ignore[arg-type]
    return results, skipped
