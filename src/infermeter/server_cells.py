"""Measure server cells: for each (workload, server), start the real server once, then drive every load
point `repeats` times; each repeat is stored the moment it is measured, with the server's own
queue/inference time and its process tree's CPU and memory over the window.

This sits above config.py (it runs a suite's server cells, with the suite's settings), as runner.py does
for engine cells; servers/ holds the adapters, their registry and the in-process reference, below config."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import time
from contextlib import closing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from infermeter.collectors import machine
from infermeter.collectors.energy import DEFAULT_CPU_WATTS_PER_CORE
from infermeter.collectors.window import server_window
from infermeter.config import CostSection, OverheadSection, ServerCell, Suite, plan_servers
from infermeter.errors import InfermeterError
from infermeter.export.artifacts import Exporter
from infermeter.export.model_stats import workload_record
from infermeter.loadgen.endpoint import LoadSettings, build_plans, measure_window, window_fields
from infermeter.loadgen.generator import Generators
from infermeter.results.cost import cost_record
from infermeter.results.record import Cost, LoadMetrics, NotMeasured, Sanity, ServerInfo, ServerWindow
from infermeter.results.slo import SLO
from infermeter.validity import overhead
from infermeter.validity.sanity import verdict
from infermeter.results.store import ResultStore
from infermeter.results.warnings import RecordWarning, warning
from infermeter.servers import reference
from infermeter.servers.answers import check_answers
from infermeter.servers.base import Deployment, ServerAdapter
from infermeter.servers.common.process import describe_exit, log_tail
from infermeter.servers.registry import adapter_for
from infermeter.workloads.base import file_slug
from infermeter.workloads.registry import get_workload


def _settings(cell: ServerCell) -> LoadSettings:
    return LoadSettings.of(cell.load, cell.seed)


def _identity(cell: ServerCell, run_id: str, adapter: ServerAdapter | None) -> dict[str, Any]:
    """What every record of a server cell says about the cell: keyword arguments of ServerWindow and
    NotMeasured."""
    return dict(
        run_id=run_id, cell_id=cell.cell_id, cell=cell.model_dump(),
        server=ServerInfo(name=cell.server, label=cell.server_label,
                          settings=adapter.settings.model_dump() if adapter else cell.server_settings),
        machine=machine.machine_info(), packages=machine.package_versions(),
    )


def _not_measured(cell: ServerCell, run_id: str, adapter: ServerAdapter | None, status: Literal["skipped", "failed"],
                  error: str, **common: Any) -> NotMeasured:
    return NotMeasured(kind="server", status=status, error=error, **_identity(cell, run_id, adapter), **common)


class DeploymentReference:
    """The in-process reference of one deployment: `initial`, the block timed before the server starts
    (every batch size it uses; None when the suite turned the reference off or no worker runs here), and,
    while the worker session lives, `now()`: batch 1 timed again, for the windows at one user."""

    def __init__(self, initial: dict[str, Any] | None, session: reference.Session | None = None,
                 request: dict[str, Any] | None = None) -> None:
        self.initial, self._session, self._request = initial, session, request or {}

    @property
    def pairs(self) -> bool:
        return self._session is not None

    def now(self) -> dict[str, Any]:
        assert self._session is not None
        return self._session.measure(self._request | {"batch_sizes": [1]})

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def start_reference(start_session: reference.StartSession | None, section: OverheadSection, adapter: Any, workload: Any,
                    exporter: Any, directory: Path, log_path: Path) -> DeploymentReference:
    """Build the deployment's pipeline in a worker and time it once, before the server starts. Where it
    cannot be, `initial` says why ("not applicable" or "failed") and there is no session."""
    if start_session is None or not section.reference:
        return DeploymentReference(None)
    if adapter.runtime(workload.name) is None:
        return DeploymentReference(reference.not_measured(
            "not applicable", f"{adapter.name} runs the model itself (the client sends tensors); there is no infermeter "
            "pipeline inside it to time in process"))
    if getattr(workload, "members", None):
        return DeploymentReference(reference.not_measured("not applicable", "ensembles are not served through one ServingModel"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        adapter.serving_config(workload, exporter, directory)
    except Exception as exc:  # the deployment itself will fail with this cause and say so
        return DeploymentReference(reference.not_measured("failed", f"{type(exc).__name__}: {exc}"))
    batch = adapter.settings.max_batch_size
    request = {"batch_sizes": [1] + ([batch] if batch > 1 else []), "min_seconds": section.reference_seconds,
               "min_calls": section.reference_calls}
    session = start_session({"job": reference.JOB, "serving_config": str(directory)}, log_path)
    initial = session.measure(request)
    if initial.get("status") != "ok":
        session.close()
        return DeploymentReference(initial)
    return DeploymentReference(initial, session, request)


def assess_window(metrics: LoadMetrics | None, measured: bool, inprocess: Mapping[str, Any] | None, settings: Any,
                  users: int | None, budgets: OverheadSection | None) -> overhead.Assessment:
    """The decomposition and the overhead check of one server window. Server-side batching at 1 user waits
    up to its configured delay for a batch that never fills: that wait is allowed on top of the serving
    budget."""
    b = budgets or OverheadSection()
    wait = settings.max_batch_delay_ms if settings.max_batch_size > 1 else 0.0
    return overhead.assess(metrics.model_dump() if metrics else None, measured, inprocess, users=users,
                           serving_budget_ms=b.serving_budget_ms, preprocess_budget_ms=b.preprocess_budget_ms, batch_wait_ms=wait)


def measure_server(
    adapter: ServerAdapter, deployment: Deployment, cells: list[ServerCell], run_id: str, store: ResultStore,
    on_progress: Callable[[str], None], common: dict[str, Any], cost: CostSection | None = None,
    cpu_watts_per_core: float = DEFAULT_CPU_WATTS_PER_CORE, budgets: OverheadSection | None = None,
    ref: DeploymentReference | None = None, slo: SLO | None = None, generators: Generators | None = None,
) -> None:
    """Every load point `repeats` times, each window judged against `slo` where one is set. If the server
    dies, or stops answering, mid-run, the window says so and every load point not yet measured is
    recorded as failed with that cause; the run goes on.

    A window at one user (the ones the overhead check judges) is set beside its own reference: the
    pipeline timed in process just before and just after it, with the server up (reference.bracket);
    windows at more users carry the reference timed before the server started."""
    ref = ref or DeploymentReference(common.get("inprocess"))
    for i, cell in enumerate(cells):
        settings = _settings(cell)
        paired = ref.pairs and cell.users == 1
        if paired:
            on_progress(f"{cell.workload} on {cell.server_label}: timing its pipeline in process")
            before = ref.now()
        for rep in range(settings.repeats):
            point = f"users {cell.users}" if cell.users is not None else f"rate {cell.rate}/s"
            on_progress(f"{cell.workload} on {cell.server_label}: {point}, repeat {rep + 1}/{settings.repeats}")
            # With the server's CPU, memory, own counters and energy per request; the machine's CPU and speed.
            collected = server_window(deployment.process.tree, lambda: adapter.server_metrics(deployment), cpu_watts_per_core)
            metrics, failure, warnings = measure_window(build_plans(deployment.target, settings, cell.users, cell.rate, rep), collected,
                                                        generators)
            warnings += answer_warnings(common.get("answers") or {})
            gone = _server_gone(deployment, metrics)
            if gone:
                failure = f"{failure}; {gone}" if failure else gone
            record_cost = None
            if cost is not None and cost.price_per_hour is not None and metrics:
                record_cost = Cost(**cost_record(cost.price_per_hour, cost.currency, metrics.throughput_rps))
            inprocess = ref.initial
            if paired and not gone:
                after = ref.now()
                inprocess, before = reference.bracket(before, after), after
            fields = window_fields(rep, settings.repeats, metrics, failure, warnings, cell.users, slo)
            assessed = assess_window(metrics, failure is None, inprocess, adapter.settings, cell.users, budgets)
            if assessed.check is not None:
                fields["sanity"] = Sanity(**verdict([c.model_dump() for c in fields["sanity"].checks] + [assessed.check]))
            if assessed.warning is not None:
                fields["warnings"].append(assessed.warning)
            store.append(ServerWindow(**_identity(cell, run_id, adapter), **(common | {"inprocess": inprocess}), **fields,
                                      cost=record_cost, decomposition=assessed.decomposition))
            if gone:
                cause = f"not measured: during an earlier window ({point}, repeat {rep + 1}) {gone}"
                for later in cells[i + 1:]:
                    store.append(_not_measured(later, run_id, adapter, "failed", cause, **common))
                return


def _server_gone(deployment: Deployment, metrics: LoadMetrics | None) -> str | None:
    """Why measuring this server cannot go on: it exited, or every request of the window failed and it no
    longer passes its readiness check (hung). None while it runs and answers."""
    proc = deployment.process
    code = proc.exit_code()
    if code is not None:
        return f"the server {describe_exit(code)}; last lines of {proc.log_path}:\n{log_tail(proc.log_path, 8)}"
    if metrics and metrics.ok:
        return None
    for _ in range(3):  # a server shedding an overload may need a moment
        try:
            if proc.ready():
                return None
        except Exception:
            pass
        time.sleep(1.0)
    return "the server stopped answering (every request failed and its readiness check fails); it is stopped"


def answer_warnings(answers: dict[str, Any]) -> list[RecordWarning]:
    if answers.get("verdict") != "mismatch":
        return []
    return [warning("answers-differ",
                    f"the server's answers differ from {answers['reference_engine']}'s on {answers['checked'] - answers['matching']} of "
                    f"{answers['checked']} payloads (first: {answers.get('first_mismatch')}); its speed is not comparable",
                    applies_to="cell")]


def cannot_serve(adapter: ServerAdapter, wname: str) -> str | None:
    """Why this server cannot serve `wname` here (None: it can): its framework is not installed, batching
    of samples that cannot be stacked, a device or precision it cannot place. The run skips with it, the
    dry run (plan_estimate.py) counts with it."""
    return adapter.missing() or _cannot_batch(wname, adapter) or adapter.cannot_place(wname)


def _cannot_batch(wname: str, adapter: ServerAdapter) -> str | None:
    """Server-side batching of a workload whose samples cannot be stacked: the reason it is skipped."""
    from infermeter.workloads.registry import workload_unbatchable

    why = workload_unbatchable(wname)
    if why and adapter.settings.max_batch_size > 1:
        return f"server-side batching (max_batch_size {adapter.settings.max_batch_size}) of {wname}: {why}"
    return None


def deployment_common(adapter: ServerAdapter, deployment: Deployment, exporter: Exporter) -> dict[str, Any]:
    """What every window of a running deployment records about it: its answers checked against the reference
    engine, the workload, and the deployment (cold start, URL, log; its device and precision)."""
    proc = deployment.process
    return {
        "answers": check_answers(deployment, exporter),
        "workload": workload_record(exporter),
        "deployment": {k: v for k, v in deployment.info.items() if not k.startswith("_")}
        | {"cold_start_s": proc.ready_s, "url": deployment.target.url, "log": str(proc.log_path)} | adapter.placement(),
    }


def deployment_dir(out: Path, server: str, workload: str, label: str) -> Path:
    """A (server with its settings, workload)'s own directory under OUT/servers, emptied: two entries of one
    framework must not share one, or the second would overwrite the first's log that its records point to.
    Absolute: servers run with it as their working directory, and a relative --out would name a path that
    does not exist there (MLServer, not finding its settings, fell back to 0.0.0.0:8080)."""
    settings_key = hashlib.sha256(label.encode()).hexdigest()[:6]
    workdir = (out / "servers" / f"{file_slug(server)}-{file_slug(workload)}-{settings_key}").absolute()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    return workdir


def cells_failed(store: ResultStore, cells: list[ServerCell]) -> int:
    """Cells of this server not fully measured: some repeat failed (the definition --resume uses)."""
    return len({c.cell_id for c in cells} - store.finished_cells())


def run_server_cells(
    suite: Suite, out: Path, store: ResultStore, run_id: str, finished: set[str], cache_root: Path,
    on_progress: Callable[[str], None], start_session: reference.StartSession | None = None,
) -> tuple[int, int, int]:
    """Returns (measured, skipped, failed) cell counts. With `load.distributed`, one Locust master and its
    workers serve every server's windows, started before the first and stopped after the last."""
    with contextlib.ExitStack() as stack:
        pool = suite.load.generators()
        if pool is not None and any(c.cell_id not in finished for _, _, cells in plan_servers(suite) for c in cells):
            on_progress(f"starting a Locust master and {pool.local} workers" + (f"; waiting for {pool.remote} remote workers "
                        f"(infermeter worker --master HOST:{pool.port})" if pool.remote else ""))
            stack.enter_context(pool)
        return _run_server_cells(suite, out, store, run_id, finished, cache_root, on_progress, start_session, pool)


def _run_server_cells(suite: Suite, out: Path, store: ResultStore, run_id: str, finished: set[str], cache_root: Path,
                      on_progress: Callable[[str], None], start_session: reference.StartSession | None,
                      pool: Generators | None) -> tuple[int, int, int]:
    measured = skipped = failed = 0
    for wname, entry, cells in plan_servers(suite):
        todo = [c for c in cells if c.cell_id not in finished]
        if not todo:
            continue
        adapter = adapter_for(entry.name, entry.settings)
        why = cannot_serve(adapter, wname)
        if why:
            for c in todo:
                store.append(_not_measured(c, run_id, adapter, "skipped", f"{entry.name}: {why}"))
            skipped += len(todo)
            continue
        workdir = deployment_dir(out, entry.name, wname, todo[0].server_label)
        try:
            on_progress(f"{wname} on {entry.name}: packaging and starting")
            workload = get_workload(wname, suite.seed)
            exporter = Exporter(workload, cache_root)
            on_progress(f"{wname} on {entry.name}: timing its pipeline in process")
            ref = start_reference(start_session, suite.overhead, adapter, workload, exporter, workdir / "inprocess",
                                  out / "logs" / f"reference-{workdir.name}.log")
            with closing(ref):  # the reference's worker lives as long as the server
                deployment = adapter.deploy(workload, exporter, workdir)
                with deployment.process:
                    adapter.on_ready(deployment)
                    on_progress(f"{wname} on {entry.name}: checking answers")
                    common = deployment_common(adapter, deployment, exporter) | {"inprocess": ref.initial}
                    measure_server(adapter, deployment, todo, run_id, store, on_progress, common, suite.cost,
                                   suite.energy.cpu_watts_per_core, suite.overhead, ref, suite.slo, pool)
                    bad = cells_failed(store, todo)
                    measured += len(todo) - bad
                    failed += bad
        except InfermeterError as exc:
            for c in todo:
                store.append(_not_measured(c, run_id, adapter, "failed", str(exc)))
            failed += len(todo)
    return measured, skipped, failed
