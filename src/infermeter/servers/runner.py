"""Measure server cells: for each (workload, server), start the real server once, then drive every load
point `repeats` times; each repeat is stored the moment it is measured, with the server's own
queue/inference time and its process tree's CPU and memory over the window."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from infermeter import SCHEMA_VERSION
from infermeter.collectors import machine
from infermeter.config import CostSection, ServerCell, Suite, plan_servers
from infermeter.errors import InfermeterError
from infermeter.export.artifacts import Exporter
from infermeter.load.generator import generator_warnings, merge, run_processes, window_failure
from infermeter.load.runner import LoadSettings, build_plans, window_fields
from infermeter.results.cost import cost_record
from infermeter.results.store import ResultStore
from infermeter.servers.answers import check_answers
from infermeter.servers.base import Deployment, ServerAdapter
from infermeter.servers.registry import server_class
from infermeter.workloads.base import file_slug
from infermeter.workloads.registry import get_workload


def _tree_usage(procs: list[psutil.Process]) -> tuple[float, float]:
    """(CPU seconds, RSS MB) summed over a process tree."""
    cpu = rss = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss / 2**20
        except psutil.Error:
            pass
    return cpu, rss


def _settings(cell: ServerCell) -> LoadSettings:
    ld = cell.load
    return LoadSettings(ld.warmup_s, ld.min_seconds, ld.min_requests, ld.max_seconds, ld.timeout_s, ld.repeats,
                        ld.generator_processes, ld.arrival, cell.seed)


def _base_record(cell: ServerCell, run_id: str, adapter: ServerAdapter | None) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "server",
        "run_id": run_id,
        "cell_id": cell.cell_id,
        "cell": cell.model_dump(),
        "server": {"name": cell.server, "label": cell.server_label,
                   "settings": adapter.settings.model_dump() if adapter else cell.server_settings},
        "machine": machine.machine_info(),
        "packages": machine.package_versions(),
        "warnings": [],
    }


def _server_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    n = after.get("requests_total", 0) - before.get("requests_total", 0)
    out: dict[str, float] = {"server_requests": n}
    if n > 0:
        for key in ("queue_us_total", "inference_us_total"):
            if key in after:
                out[key.replace("_us_total", "_ms_mean")] = (after[key] - before.get(key, 0)) / n / 1000
    return out


def measure_server(
    adapter: ServerAdapter, deployment: Deployment, cells: list[ServerCell], run_id: str, store: ResultStore,
    on_progress: Callable[[str], None], common: dict[str, Any], cost: CostSection | None = None,
) -> None:
    """Every load point `repeats` times; stops early if the server dies (the rest count as failed)."""
    for cell in cells:
        settings = _settings(cell)
        for rep in range(settings.repeats):
            point = f"users {cell.users}" if cell.users is not None else f"rate {cell.rate}/s"
            on_progress(f"{cell.workload} on {cell.server_label}: {point}, repeat {rep + 1}/{settings.repeats}")
            tree = deployment.process.tree()
            cpu0, _ = _tree_usage(tree)
            srv0 = _safe_metrics(adapter, deployment)
            t0 = time.perf_counter()
            merged = merge(run_processes(build_plans(deployment.target, settings, cell.users, cell.rate, rep)))
            wall = time.perf_counter() - t0
            cpu1, rss = _tree_usage(tree)
            srv1 = _safe_metrics(adapter, deployment)
            merged.update(_server_delta(srv0, srv1))
            merged["server_cpu_percent"] = 100 * (cpu1 - cpu0) / wall if wall else None
            merged["server_rss_mb"] = rss
            warnings = generator_warnings(merged) + answer_warnings(common.get("answers") or {})
            alive = deployment.process.proc is not None and deployment.process.proc.poll() is None
            failure = window_failure(merged)
            if not alive:
                failure = f"the server exited during the window; see {deployment.process.log_path}"
            record = _base_record(cell, run_id, adapter) | common | window_fields(rep, settings.repeats, merged, failure, warnings, cell.users)
            if cost is not None and cost.price_per_hour is not None:
                record["cost"] = cost_record(cost.price_per_hour, cost.currency, merged.get("throughput_rps"))
            store.append(record)
            if not alive:
                return


def answer_warnings(answers: dict[str, Any]) -> list[str]:
    if answers.get("verdict") != "mismatch":
        return []
    return [f"the server's answers differ from {answers['reference_engine']}'s on {answers['checked'] - answers['matching']} of "
            f"{answers['checked']} payloads (first: {answers.get('first_mismatch')}); its speed is not comparable"]


def cells_failed(store: ResultStore, cells: list[ServerCell]) -> int:
    """Cells of this server with no successful repeat."""
    ids = {c.cell_id for c in cells}
    ok = {r["cell_id"] for r in store.records() if r.get("cell_id") in ids and r.get("status") == "ok"}
    return len(ids - ok)


def _safe_metrics(adapter: ServerAdapter, deployment: Deployment) -> dict[str, float]:
    try:
        return adapter.server_metrics(deployment)
    except Exception:
        return {}


def run_server_cells(
    suite: Suite, out: Path, store: ResultStore, run_id: str, finished: set[str], cache_root: Path,
    on_progress: Callable[[str], None],
) -> tuple[int, int, int]:
    """Returns (measured, skipped, failed) cell counts."""
    measured = skipped = failed = 0
    for wname, entry, cells in plan_servers(suite):
        todo = [c for c in cells if c.cell_id not in finished]
        if not todo:
            continue
        cls = server_class(entry.name)
        adapter = cls(cls.Settings(**entry.settings))
        why = adapter.missing()
        if why:
            for c in todo:
                store.append(_base_record(c, run_id, adapter) | {"status": "skipped", "error": f"{entry.name}: {why}"})
            skipped += len(todo)
            continue
        workdir = out / "servers" / f"{file_slug(entry.name)}-{file_slug(wname)}"
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        try:
            on_progress(f"{wname} on {entry.name}: packaging and starting")
            workload = get_workload(wname, suite.seed)
            exporter = Exporter(workload, cache_root)
            deployment = adapter.deploy(workload, exporter, workdir)
            with deployment.process as proc:
                adapter.on_ready(deployment)
                on_progress(f"{wname} on {entry.name}: checking answers")
                common = {
                    "answers": check_answers(deployment, exporter),
                    "workload": workload.record(),
                    "deployment": {k: v for k, v in deployment.info.items() if not k.startswith("_")}
                    | {"cold_start_s": proc.ready_s, "url": deployment.target.url, "log": str(proc.log_path)},
                }
                measure_server(adapter, deployment, todo, run_id, store, on_progress, common, suite.cost)
                bad = cells_failed(store, todo)
                measured += len(todo) - bad
                failed += bad
        except InfermeterError as exc:
            for c in todo:
                store.append(_base_record(c, run_id, adapter) | {"status": "failed", "error": str(exc)})
            failed += len(todo)
    return measured, skipped, failed
