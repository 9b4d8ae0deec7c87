"""Run a suite: prepare artifacts, measure each cell in its own process, store every repeat at once."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from infermeter.collectors import machine
from infermeter.config import Cell, Suite, plan, plan_servers
from infermeter.engines.registry import engine_class
from infermeter.errors import ConfigError
from infermeter.export.artifacts import usable_cache_root
from infermeter.lifeline import child_env
from infermeter.results.files import open_nofollow, private_dir, replace_atomically
from infermeter.results.record import EngineInfo, EngineWindow, NotMeasured
from infermeter.results.store import ResultStore
from infermeter.servers.registry import adapter_for
from infermeter.server_cells import run_server_cells
from infermeter.workloads.base import file_slug

Isolation = Literal["process", "none"]


@dataclass
class RunSummary:
    run_id: str
    out: Path
    measured: int = 0
    skipped: int = 0
    failed: int = 0
    resumed: int = 0


def _worker_env() -> dict[str, str]:
    env = child_env()  # the worker dies with us (lifeline)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("HF_HUB_OFFLINE", "1")  # no hub download exists here; never attempt one
    env.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    return env


def run_job(job: dict[str, Any], log_path: Path, on_event: Callable[[dict[str, Any]], None], isolation: Isolation) -> None:
    """Run a worker job in a child process (or in this one, for harness tests) and pass on its events."""
    if isolation == "none":
        from infermeter import worker

        try:
            if job["job"] == "prepare":
                worker.prepare(job["workload"], job["formats"], job["seed"], Path(job["cache_root"]), on_event)
            else:
                worker.measure_cell(Cell(**job["cell"]), Path(job["cache_root"]), job["run_id"], on_event, job["cpu_watts_per_core"],
                                    worker.job_slo(job))
        except Exception as exc:
            on_event({"type": "error", "error": worker._describe(exc), "error_type": type(exc).__name__})
        return
    proc = _spawn_worker(log_path)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(job).encode())
        proc.stdin.close()
        got_end = False
        for line in proc.stdout:
            event = json.loads(line)
            got_end = got_end or event["type"] in ("done", "error")
            on_event(event)
        code = proc.wait()
        _stop_group(proc.pid)  # what the worker started and left (inductor's compile workers)
        if not got_end:
            on_event({"type": "error", "error": f"worker process died (exit code {code}); see {log_path}", "error_type": "WorkerDied"})
    finally:
        if proc.poll() is None:  # interrupted: stop the worker and whatever it started
            os.killpg(proc.pid, 15)
            proc.wait()


class _Session:
    """A worker process that answers requests one at a time (JSON lines both ways) until its stdin closes."""

    def __init__(self, job: dict[str, Any], log_path: Path) -> None:
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = _spawn_worker(log_path)
        self._send(job)

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write((json.dumps(message) + "\n").encode())
            self._proc.stdin.flush()
        except OSError:  # the worker is gone; _wait_for says how
            pass

    def _wait_for(self, kind: str) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            event = json.loads(line)
            if event["type"] in (kind, "error"):
                return event
        code = self._proc.wait()
        return {"type": "error", "error": f"worker process died (exit code {code})"}

    def close(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        try:
            assert proc.stdin is not None
            proc.stdin.close()  # the worker's end of the session
        except OSError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        _stop_group(proc.pid)  # the worker and whatever it started

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WorkerSession(_Session):
    """A worker that keeps what it built between requests: a deployment's pipeline (servers/reference.py),
    timed before its server starts and again between the server's windows. One request at a time; each
    answer is a reference block, a failed one (with the cause and the log) where the worker could not
    time it or died. Isolation "none" runs the pipeline in this process (harness tests)."""

    def __init__(self, job: dict[str, Any], log_path: Path, isolation: Isolation) -> None:
        self._log_path = log_path
        self._proc = None
        self._local: Any = None
        self._failure: str | None = None
        if isolation == "none":
            from infermeter import worker
            from infermeter.servers.reference import Pipeline

            try:
                self._local = Pipeline(job)
            except Exception as exc:
                self._failure = worker._describe(exc)
            return
        super().__init__(job, log_path)
        self._failure = self._wait_for("ready").get("error")

    def measure(self, request: dict[str, Any]) -> dict[str, Any]:
        from infermeter.servers.reference import not_measured

        if self._failure is not None:
            return not_measured("failed", f"{self._failure}; see {self._log_path}")
        if self._local is not None:
            try:
                return self._local.measure(request)
            except Exception as exc:
                from infermeter import worker

                return not_measured("failed", worker._describe(exc))
        self._send(request)
        event = self._wait_for("reference")
        if event["type"] == "error":
            self._failure = event["error"]
            return not_measured("failed", f"{self._failure}; see {self._log_path}")
        return event["reference"]


class CellSession(_Session):
    """A worker holding one engine cell loaded, parity checked and warmed up (worker.LoadedCell), measuring
    a window of the cell or of a variant of it in load on each request: a capacity search's probes on one
    loaded engine. A failure raises InfermeterError with the cause and the log. Isolation "none" loads the
    engine in this process (harness tests)."""

    def __init__(self, cell: Cell, cache_root: Path, run_id: str, log_path: Path, isolation: Isolation,
                 cpu_watts_per_core: float, slo: str | None) -> None:
        from infermeter import worker

        self._log_path = log_path
        self._proc = None
        self._local: Any = None
        if isolation == "none":
            self._local = worker.LoadedCell(cell, cache_root, run_id, lambda e: None, cpu_watts_per_core, worker.job_slo({"slo": slo}))
            return
        super().__init__({"job": "cell-session", "cell": cell.model_dump(), "cache_root": str(cache_root), "run_id": run_id,
                          "cpu_watts_per_core": cpu_watts_per_core, "slo": slo}, log_path)
        try:
            self._parity: dict[str, Any] = self._check(self._wait_for("ready")).get("parity") or {}
        except BaseException:  # Ctrl-C or SIGTERM while the engine loads: no `with` owns the worker yet
            self.close()
            raise

    @property
    def parity(self) -> dict[str, Any]:
        """The loaded engine's answers against the reference engine (export/parity.py's block)."""
        return dict(self._local.parity) if self._local is not None else self._parity

    def _check(self, event: dict[str, Any]) -> dict[str, Any]:
        from infermeter.errors import InfermeterError

        if event["type"] == "error":
            self.close()
            raise InfermeterError(f"{event['error']}; see {self._log_path}", "read the log; the engine's own message is in it")
        return event

    def window(self, cell: Cell, repeat: int, schedule_seed: int | None = None) -> EngineWindow:
        if self._local is not None:
            return self._local.window(cell, repeat, schedule_seed)
        self._send({"cell": cell.model_dump(), "repeat": repeat, "seed": schedule_seed})
        return EngineWindow.model_validate(self._check(self._wait_for("record"))["record"])

    def close(self) -> None:
        if self._local is not None:
            self._local.close()
            self._local = None
        super().close()


def _spawn_worker(log_path: Path) -> subprocess.Popen[bytes]:
    """A worker process in a session of its own (so its group can be stopped whole), its stderr to the log."""
    with os.fdopen(open_nofollow(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644), "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "infermeter.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=log, env=_worker_env(), start_new_session=True,
        )


def _stop_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # nothing left in it
        pass


def _status_record(cell: Cell, run_id: str, status: Literal["skipped", "failed"], error: str) -> NotMeasured:
    return NotMeasured(
        kind="engine", run_id=run_id, cell_id=cell.cell_id, cell=cell.model_dump(exclude={"skip_reason"}),
        engine=EngineInfo(name=cell.engine, label=cell.engine_label), status=status, error=error,
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        machine=machine.machine_info(), packages=machine.package_versions(),
    )


def run_suite(
    suite: Suite,
    out: Path,
    *,
    resume: bool = False,
    cache_root: Path | None = None,
    isolation: Isolation = "process",
    console: Console | None = None,
    force_suite: bool = False,
) -> RunSummary:
    """Measure every cell of `suite` into OUT, which is locked for the whole run."""
    store = ResultStore(out)
    with store.lock():
        return _run_locked(suite, out, store, resume, cache_root, isolation, console or Console(stderr=True, markup=False, emoji=False), force_suite)


RUN_META = "run.json"  # the run's own metadata: the digest of the suite it measures


def suite_digest(suite: Suite) -> str:
    """What identifies a suite: its settings after parsing (comments, order of keys and defaults spelt out
    or not make no difference). A suite without an SLO keeps the digest it had before suites had one; the
    user's usability scores are no setting of a measurement and never part of it."""
    fields = suite.model_dump(mode="json", exclude={"usability"} | ({"slo"} if suite.slo is None else set()))
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def check_same_suite(out: Path, suite: Suite, force: bool) -> None:
    """--resume adds to a run of the same suite only: cells of another suite would be mixed into its
    results, and its suite.json overwritten."""
    try:
        meta = json.loads((out / RUN_META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # a run from before digests were stored (or none): nothing to compare with
    old = meta.get("suite_digest") if isinstance(meta, dict) else None
    if old and old != suite_digest(suite) and not force:
        raise ConfigError(
            f"{out} holds a run of a different suite ({meta.get('suite_name')!r}, digest {str(old)[:12]}; this one is "
            f"{suite.name!r}, digest {suite_digest(suite)[:12]}); --resume would mix the two",
            "give this suite another --out, or add --force-suite to resume with the changed suite anyway",
        )


def _run_locked(suite: Suite, out: Path, store: ResultStore, resume: bool, cache_root: Path | None, isolation: Isolation,
                console: Console, force_suite: bool) -> RunSummary:
    cache_root = usable_cache_root(cache_root)
    if store.has_results() and not resume:
        raise ConfigError(f"{out} already holds results", "add --resume to finish that run, or choose another --out")
    if resume:
        check_same_suite(out, suite, force_suite)
        store.refuse_damage()
    torn = store.create()
    if torn:
        console.print(Text.assemble(("note:", "yellow"), f" removed a partial last record ({torn} bytes) left by a run killed mid-write"))
    private_dir(out / "logs")
    replace_atomically(out / "suite.json", suite.model_dump_json(indent=1))
    replace_atomically(out / RUN_META, json.dumps({"suite_name": suite.name, "suite_digest": suite_digest(suite)}, indent=1))
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    summary = RunSummary(run_id, out)
    cells = plan(suite)
    finished = store.finished_cells() if resume else set()
    todo = []
    for cell in cells:
        if cell.cell_id in finished:
            summary.resumed += 1
        elif cell.skip_reason:
            rec = _status_record(cell, run_id, "skipped", cell.skip_reason)
            store.append(rec)
            summary.skipped += 1
        else:
            todo.append(cell)

    # Export every (workload, format) the remaining cells need, once, before measuring anything.
    needed: dict[str, list[str]] = {}
    wanted = [(cell.workload, engine_class(cell.engine).artifact_format) for cell in todo]
    for wname, entry, cells in plan_servers(suite):
        if any(c.cell_id not in finished for c in cells):
            wanted.append((wname, adapter_for(entry.name, entry.settings).needed_format(wname)))
    for wname, fmt in wanted:
        fmts = needed.setdefault(wname, [])
        if fmt not in fmts:
            fmts.append(fmt)
    export_errors: dict[tuple[str, str], str] = {}
    prepare_errors: dict[str, str] = {}

    with Progress(
        # The phase names workloads and files ("file:m[/x].onnx"): shown as plain text, never read as markup.
        TextColumn("{task.description}", style="bold", markup=False), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[phase]}", markup=False), TimeElapsedColumn(), console=console, transient=False,
    ) as progress:
        prep = progress.add_task("export", total=len(needed), phase="")
        for wname, fmts in needed.items():
            def on_prepare(ev: dict[str, Any], wname: str = wname) -> None:
                if ev["type"] == "phase":
                    progress.update(prep, phase=f"{wname}: {ev['phase']}")
                elif ev["type"] == "artifact-error":
                    export_errors[(wname, ev["format"])] = ev["error"]
                elif ev["type"] == "error":
                    prepare_errors[wname] = ev["error"]

            job = {"job": "prepare", "workload": wname, "formats": fmts, "seed": suite.seed, "cache_root": str(cache_root)}
            run_job(job, out / "logs" / f"prepare-{file_slug(wname)}.log", on_prepare, isolation)
            progress.advance(prep)

        task = progress.add_task("measure", total=len(todo), phase="")
        for cell in todo:
            label = f"{cell.workload} {cell.engine_label} {cell.scenario} b={cell.batch_size} c={cell.concurrency}" + (
                f" r={cell.rate:g}/s" if cell.rate is not None else "")
            fmt = engine_class(cell.engine).artifact_format
            cause = export_errors.get((cell.workload, fmt)) or prepare_errors.get(cell.workload)
            if cause:
                store.append(_status_record(cell, run_id, "failed", f"export failed: {cause}"))
                summary.failed += 1
                progress.advance(task)
                continue
            state: dict[str, Any] = {"records": 0, "error": None}

            def on_event(ev: dict[str, Any], label: str = label, state: dict[str, Any] = state) -> None:
                if ev["type"] == "phase":
                    progress.update(task, phase=f"{label}: {ev['phase']}")
                elif ev["type"] == "record":
                    store.append(ev["record"])
                    state["records"] += 1
                elif ev["type"] == "error":
                    state["error"] = ev["error"]

            job = {"job": "cell", "cell": cell.model_dump(), "cache_root": str(cache_root), "run_id": run_id,
                   "cpu_watts_per_core": suite.energy.cpu_watts_per_core, "slo": suite.slo.text if suite.slo else None}
            run_job(job, out / "logs" / f"cell-{cell.cell_id}.log", on_event, isolation)
            if state["error"]:
                store.append(_status_record(cell, run_id, "failed", state["error"]))
                summary.failed += 1
            else:
                summary.measured += 1
            progress.advance(task)
        progress.update(task, phase="done")

        if suite.servers:
            serving = progress.add_task("serve", total=None, phase="")
            measured, skipped, failed = run_server_cells(
                suite, out, store, run_id, finished, cache_root, lambda msg: progress.update(serving, phase=msg),
                lambda job, log: WorkerSession(job, log, isolation),
            )
            summary.measured += measured
            summary.skipped += skipped
            summary.failed += failed
            progress.update(serving, phase="done", total=1, completed=1)
    return summary
