"""Work done in a child process: preparing artifacts, and measuring one cell.

Each cell runs in a fresh interpreter so that its memory high-water mark, thread settings and imported
runtimes belong to it alone. The child speaks JSON lines on a private copy of stdout; whatever the
runtimes print goes to stderr, which the parent keeps in a log file.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from infermeter.collectors import machine, process
from infermeter.collectors.energy import DEFAULT_CPU_WATTS_PER_CORE
from infermeter.collectors.window import engine_window
from infermeter.config import Cell
from infermeter.engines.base import Engine
from infermeter.lifeline import die_with_parent
from infermeter.workloads.base import Workload
from infermeter.results import histogram, stats
from infermeter.results.record import EngineInfo, EngineMetrics, EngineWindow, Parity, Sanity, Warmup, to_dict
from infermeter.results.slo import SLO, assess, parse_slo
from infermeter.results.warnings import warning
from infermeter.validity.sanity import engine_sanity

Emit = Callable[[dict[str, Any]], None]


def prepare(workload_name: str, formats: list[str], seed: int, cache_root: Path, emit: Emit) -> None:
    """Export `formats` of a workload (cached) and its reference outputs; emits one event per artifact."""
    from infermeter.export.artifacts import Exporter
    from infermeter.export.model_stats import model_stats
    from infermeter.export.parity import reference_outputs
    from infermeter.workloads.registry import get_workload

    workload = get_workload(workload_name, seed)
    exporter = Exporter(workload, cache_root)
    for fmt in formats:
        emit({"type": "phase", "phase": f"export {fmt}"})
        try:
            art = exporter.artifact(fmt)
            emit({"type": "artifact", "format": fmt, "artifact": art.record()})
        except Exception as exc:
            emit({"type": "artifact-error", "format": fmt, "error": _describe(exc)})
            traceback.print_exc()
    emit({"type": "phase", "phase": "reference outputs"})
    reference_outputs(exporter)
    emit({"type": "phase", "phase": "model statistics"})
    try:
        model_stats(exporter)
    except Exception:  # a figure for the report, never a reason to lose the run's measurements
        traceback.print_exc()


def _describe(exc: BaseException) -> str:
    from infermeter.errors import InfermeterError

    if isinstance(exc, InfermeterError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def make_engine(cls: type[Engine], settings: dict[str, Any], workload: Workload) -> Engine:
    """An engine for `workload`: for an ensemble, one member engine per model behind one predict()."""
    members = getattr(workload, "members", None)
    if members:
        from infermeter.engines.ensemble import EnsembleEngine

        return EnsembleEngine(lambda: cls(cls.Settings(**settings)), len(members), workload.combine)  # type: ignore[attr-defined]
    return cls(cls.Settings(**settings))


def job_slo(job: dict[str, Any]) -> SLO | None:
    """The suite's SLO a cell job carries (its text), or None."""
    return parse_slo(job["slo"], "the suite's slo") if job.get("slo") else None


def measure_cell(cell: Cell, cache_root: Path, run_id: str, emit: Emit, cpu_watts_per_core: float = DEFAULT_CPU_WATTS_PER_CORE,
                 slo: SLO | None = None) -> None:
    """Load, check parity, warm up, then measure `repeats` windows, emitting a record after each (judged
    against `slo` where one is set: per call, a batch of the cell's batch size)."""
    loaded = LoadedCell(cell, cache_root, run_id, emit, cpu_watts_per_core, slo)
    try:
        for r in range(cell.measure.repeats):
            emit({"type": "phase", "phase": f"repeat {r + 1}/{cell.measure.repeats}"})
            emit({"type": "record", "record": to_dict(loaded.window(cell, r))})
    finally:
        loaded.close()


class LoadedCell:
    """A cell's engine loaded, its parity checked and warmed up; then windows measured on it one at a time,
    for the cell itself or for variants of it that differ in load only (rate, callers, window length: a
    capacity search's probes), each a record of its own cell."""

    def __init__(self, cell: Cell, cache_root: Path, run_id: str, emit: Emit,
                 cpu_watts_per_core: float = DEFAULT_CPU_WATTS_PER_CORE, slo: SLO | None = None) -> None:
        from infermeter.engines.base import LOAD_CACHE
        from infermeter.engines.registry import engine_class
        from infermeter.export.artifacts import Exporter
        from infermeter.export.model_stats import workload_record
        from infermeter.export.parity import check_parity, reference_outputs
        from infermeter.loadgen.inprocess import warm_up
        from infermeter.loadgen.warmup import WarmupRule
        from infermeter.workloads.registry import get_workload

        self.cpu_watts_per_core, self.slo = cpu_watts_per_core, slo
        cls = engine_class(cell.engine)
        cls.check_installed()
        workload = get_workload(cell.workload, cell.seed)
        exporter = Exporter(workload, cache_root)
        artifact = self.artifact = exporter.artifact(cls.artifact_format)
        reference = reference_outputs(exporter)
        specs = workload.input_specs()
        self.batches = workload.batches(cell.batch_size, count=4)

        emit({"type": "phase", "phase": "import"})
        t = time.perf_counter()
        for mod in cls.requires:
            __import__(mod)
        self.import_s = time.perf_counter() - t
        self.rss_baseline = process.rss_mb()

        def new_engine() -> Engine:
            return make_engine(cls, cell.engine_settings, workload)

        self.engine = engine = new_engine()
        use_cache = LOAD_CACHE in engine.capabilities
        self.cache_dir = cache_dir = Path(tempfile.mkdtemp(prefix="infermeter-enginecache-")) if use_cache else None
        try:
            def timed_load() -> tuple[float, float]:
                """(load seconds, first inference seconds) of self.engine."""
                t = time.perf_counter()
                self.engine.load(artifact.path, specs, cache_dir)
                t1 = time.perf_counter()
                self.engine.predict(self.batches[0])
                return t1 - t, time.perf_counter() - t1

            emit({"type": "phase", "phase": "load"})
            self.load_s, self.first_s = timed_load()
            self.rss_loaded = process.rss_mb()
            self.load_cached_s = self.first_cached_s = None
            if use_cache and cell.cached_load:
                emit({"type": "phase", "phase": "load (cached)"})
                self.engine.close()
                self.engine = new_engine()
                self.load_cached_s, self.first_cached_s = timed_load()
            engine = self.engine

            emit({"type": "phase", "phase": "parity"})
            self.parity = check_parity(workload, engine, cell.batch_size, reference, workload.reference_engine)
            runtime = engine.runtime_info()
            engine_info = EngineInfo(
                name=cls.name, label=cell.engine_label, settings=engine.settings.model_dump(), versions=cls.versions(),
                runtime=runtime, capabilities=sorted(engine.capabilities),
            )
            self.common = dict(
                run_id=run_id, workload=workload_record(exporter), engine=engine_info, artifact=artifact.record(),
                parity=Parity(**self.parity), machine=machine.machine_info(), packages=machine.package_versions(),
                thread_env=machine.thread_env(),
            )
            # Last before the first window, so that nothing in between (collecting metadata) lets the engine cool.
            emit({"type": "phase", "phase": "warm-up"})
            self.warmup = warm_up(engine.predict, self.batches, WarmupRule(**cell.warmup.model_dump()))
        except BaseException:
            self.close()
            raise

    def window(self, cell: Cell, repeat: int, schedule_seed: int | None = None) -> EngineWindow:
        """One window of `cell` (this cell, or a variant of it in load only), as a record. An open loop's
        schedule is drawn with `schedule_seed` (default: the cell's seed plus the repeat, as the HTTP open
        loop's)."""
        from infermeter.export.parity import parity_warning
        from infermeter.loadgen.inprocess import Window, WindowRule, concurrent, sequential
        from infermeter.loadgen.openloop import OpenLoopWindow, open_loop, open_loop_warnings

        m = cell.measure
        rule = WindowRule(m.min_iterations, m.min_seconds, m.max_seconds)
        predict, batches = self.engine.predict, self.batches
        collected = engine_window(self.cpu_watts_per_core).start()
        window: Window | OpenLoopWindow
        if cell.rate is not None:
            seed = cell.seed + repeat if schedule_seed is None else schedule_seed
            window = open_loop(predict, batches, cell.rate, rule, cell.concurrency, seed=seed)
        elif cell.concurrency > 1:
            window = concurrent(predict, batches, rule, cell.concurrency)
        else:
            window = sequential(predict, batches, rule)
        collected.stop()
        wall_s = window.wall_ns / 1e9
        peak = process.peak_rss_mb()
        latencies = window.latencies_ns
        n = len(latencies)
        samples_per_s = n * cell.batch_size / wall_s if wall_s else None
        open_fields = window.fields() if isinstance(window, OpenLoopWindow) else {}
        metrics = EngineMetrics(
            latency_ms=stats.latency_summary_ms(latencies),
            latency_hdr=histogram.encode(histogram.from_ns(latencies)),
            requests=n,
            failures=len(window.errors),
            window_s=wall_s,
            batches_per_s=n / wall_s if wall_s else None,
            samples_per_s=samples_per_s,
            import_s=self.import_s,
            convert_s=self.artifact.convert_s,
            artifact_bytes=self.artifact.size_bytes,
            load_s=self.load_s,
            first_inference_s=self.first_s,
            load_cached_s=self.load_cached_s,
            first_inference_cached_s=self.first_cached_s,
            rss_baseline_mb=self.rss_baseline,
            rss_after_load_mb=self.rss_loaded,
            peak_rss_mb=peak,
            peak_rss_delta_mb=peak - self.rss_baseline,
            **collected.fields(samples_per_s),  # CPU, other processes' CPU, energy, the machine's speed
            **open_fields,  # open loop: offered, backlog, unsent, issue lag
        )
        warnings = []
        if mismatch := parity_warning(self.parity):
            warnings.append(mismatch)
        if isinstance(window, OpenLoopWindow):
            warnings += open_loop_warnings(window, cell.rate or 0.0, rule)
        elif window.capped:
            warnings.append(warning("window-capped", f"window hit max_seconds={m.max_seconds} with only {n} calls (< min_iterations)"))
        if window.errors:
            warnings.append(warning("calls-failed", f"{len(window.errors)} predict calls failed: {window.errors[0]}"))
        elif not n and isinstance(window, OpenLoopWindow):  # a schedule with no arrival in it (a low rate, a short window)
            warnings.append(warning("calls-failed", f"no arrival completed in the window ({window.offered} offered)",
                                    "raise measure.min_seconds or min_iterations: the window's schedule held no arrival"))
        warmup = self.warmup.record()
        return EngineWindow(
            **self.common,
            cell_id=cell.cell_id,
            cell=cell.model_dump(exclude={"skip_reason"}),
            warmup=Warmup(**warmup),
            status="ok" if n and not window.errors else "failed",
            error=warnings[-1].text if window.errors or not n else None,
            repeat=repeat,
            repeats=m.repeats,
            finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            metrics=metrics,
            slo=assess(self.slo, metrics),
            warnings=warnings,
            sanity=Sanity(**engine_sanity(n, cell.concurrency, metrics.batches_per_s, metrics.latency_ms.get("mean"),
                                          metrics.other_cpu_percent, warmup, cell.rate is not None, metrics.wakeup_lag_ms)),
        )

    def close(self) -> None:
        self.engine.close()
        if self.cache_dir is not None:
            shutil.rmtree(self.cache_dir, ignore_errors=True)


def serve_references(job: dict[str, Any], requests: Any, emit: Emit) -> None:
    """A session: build the deployment's pipeline once, then time it for each request line until the
    runner closes the pipe (servers/reference.py says why the pipeline is timed more than once)."""
    from infermeter.servers import reference

    pipeline = reference.Pipeline(job)
    emit({"type": "ready"})
    for line in requests:
        try:
            block = pipeline.measure(json.loads(line))
        except Exception as exc:  # this timing failed; the next may not, and the session goes on
            traceback.print_exc()
            block = reference.not_measured("failed", _describe(exc))
        emit({"type": "reference", "reference": block})


def serve_windows(job: dict[str, Any], requests: Any, emit: Emit) -> None:
    """A session: load the cell's engine once, then measure a window of the cell (or of a variant of it in
    load) for each request line, until the runner closes the pipe. A window that fails ends the session."""
    loaded = LoadedCell(Cell(**job["cell"]), Path(job["cache_root"]), job["run_id"], emit,
                        job.get("cpu_watts_per_core", DEFAULT_CPU_WATTS_PER_CORE), job_slo(job))
    try:
        emit({"type": "ready", "parity": loaded.parity})
        for line in requests:
            request = json.loads(line)
            record = loaded.window(Cell(**request["cell"]), request["repeat"], request.get("seed"))
            emit({"type": "record", "record": to_dict(record)})
    finally:
        loaded.close()


def main() -> None:
    """`python -m infermeter.worker` with one JSON job on the first line of stdin (a session, reference or
    cell, reads its requests from the lines after it)."""
    # Workers live in their own session (the runner, not the terminal, decides when to stop them), so the
    # process-group kill of a run misses them: they go when the runner goes, however it goes.
    die_with_parent()
    # Read (and cache) the machine's facts before any engine starts its threads: an OpenMP runtime told to
    # bind (OMP_PROC_BIND) pins the main thread, and the CPU affinity read after that says 1 of 2.
    machine.machine_info()
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # library chatter on stdout goes to the log, not into the protocol
    sys.stdout = sys.stderr

    def emit(event: dict[str, Any]) -> None:
        proto.write(json.dumps(event, default=str) + "\n")
        proto.flush()

    job = json.loads(sys.stdin.readline())
    try:
        if job["job"] == "prepare":
            prepare(job["workload"], job["formats"], job["seed"], Path(job["cache_root"]), emit)
        elif job["job"] == "reference":
            serve_references(job, sys.stdin, emit)
        elif job["job"] == "cell-session":
            serve_windows(job, sys.stdin, emit)
        else:
            measure_cell(Cell(**job["cell"]), Path(job["cache_root"]), job["run_id"], emit,
                         job.get("cpu_watts_per_core", DEFAULT_CPU_WATTS_PER_CORE), job_slo(job))
        emit({"type": "done"})
        code = 0
    except BaseException as exc:
        traceback.print_exc()
        emit({"type": "error", "error": _describe(exc), "error_type": type(exc).__name__})
        code = 1
    # Everything measured has gone to the runner. Leave without the interpreter's teardown: freeing
    # torch's, TensorFlow's and inductor's state at exit took 1.4-2.8 s per worker here (about 25 s of
    # the quickstart); the runner then stops whatever this process started (its process group).
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
