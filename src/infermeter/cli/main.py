"""`infermeter` commands. User errors become one clear message and a distinct exit code."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer
from rich.console import Console
from rich.text import Text

from infermeter.errors import CellsFailedError, ConfigError, InfermeterError
from infermeter.reports.console import Screen, styled

# Exit codes (errors.py; README "Exit codes"). Shown under --help so scripts and CI can rely on them.
EXIT_CODES = ("Exit codes: 0 done; 1 a bug in infermeter (please report it, with the traceback); 2 bad input "
              "(a flag, suite, path or URL that cannot be used: the message names it and the fix); 3 not installed "
              "here; 4 not supported here; 5 some cells or load points failed (results kept); 6 a server failed; "
              "7 selftest failed; 8 results directory not writable; 9 compare --fail-on found a regression; "
              "130 interrupted (results kept; --resume finishes). Bounds that guard against typos (users, rate, "
              "repeats, batch size, seconds...) are listed in the README; raise one with INFERMETER_MAX_<NAME>, "
              "e.g. INFERMETER_MAX_USERS=50000.")
app = typer.Typer(add_completion=False, no_args_is_help=True, help="Measure how fast a model runs, side by side, with numbers you can trust.",
                  epilog=EXIT_CODES)
# Piped output (CI logs, files) gets a wide console so tables are not squeezed to 80 columns. Neither
# console reads markup or emoji codes: every string printed is plain text, so a "[/x]" or "[link=...]" in a
# workload name, a path, a SQL error or a warning prints as itself (styles are given as Text: styled).
# What the commands print of their results is drawn in reports/console.py, on these two.
out_console = Console(width=None if sys.stdout.isatty() else 200, markup=False, emoji=False, highlight=False)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200, markup=False, emoji=False, highlight=False)
screen = Screen(out_console, err_console)


def _builtin_suite(name: str) -> Path:
    return Path(str(resources.files("infermeter").joinpath(f"suites/{name}.yaml")))


def _warn_leftovers() -> None:
    """Servers left running by a run that was killed outright: they take CPU and memory from this one."""
    from infermeter.servers.common import leftovers

    found = leftovers.find()
    if found:
        err_console.print(styled(("warning:", "bold yellow"), f" {len(found)} server(s) left running by an earlier "
                                 "infermeter run that was killed; they will disturb this measurement:"), soft_wrap=True)
        for item in found:
            err_console.print(f"  {item.describe()}", soft_wrap=True)
        err_console.print("  fix: infermeter cleanup", soft_wrap=True)


def _run(
    suite: Any, out: Path, resume: bool, cache: Optional[Path], only_installed: bool = False,
    write_report_too: bool = False, force_suite: bool = False,
) -> None:
    """A parsed suite (parsed before OUT is touched), run into OUT."""
    from infermeter.results.store import ResultStore

    with ResultStore(out).lock():  # the whole run, summary and report included: a second run on OUT is refused
        _run_locked(suite, out, resume, cache, only_installed, write_report_too, force_suite)


def _run_locked(suite: Any, out: Path, resume: bool, cache: Optional[Path], only_installed: bool, write_report_too: bool,
                force_suite: bool) -> None:
    from infermeter.engines.registry import engine_class
    from infermeter.reports.console import RunView, show_run
    from infermeter.reports.table import write_summary_csv
    from infermeter.results.store import ResultStore
    from infermeter.runner import run_suite

    _warn_leftovers()
    if only_installed:
        missing = [e.name for e in suite.engines if engine_class(e.name).missing()]
        if missing:
            err_console.print(styled(("not installed here, left out:", "yellow"), f" {', '.join(sorted(set(missing)))}"), soft_wrap=True)
        had_engines = bool(suite.engines)
        suite.engines = [e for e in suite.engines if not engine_class(e.name).missing()]
        if had_engines and not suite.engines and not suite.servers:  # a servers-only suite needs no engine
            raise InfermeterError("no engine of this suite is installed here", "pip install 'infermeter[engines]'")
    summary = run_suite(suite, out, resume=resume, cache_root=cache, console=err_console, force_suite=force_suite)
    records = ResultStore(out).read()
    view = RunView.of(records)
    write_summary_csv(view.engines, out / "summary.csv")
    show_run(screen, view, suite.name, out, summary)
    if records and write_report_too:
        from infermeter.reports.report import write_report

        with err_console.status("writing the report"):
            files = write_report([out], out)
        err_console.print(f"report: {files.html} (interactive), {files.markdown}, {len(files.figures)} PNG figures, "
                          f"{len(files.tables) // 2} tables as CSV and LaTeX", soft_wrap=True)
    elif records:
        err_console.print(f"for a report with figures: infermeter report {out}", soft_wrap=True)
    if summary.failed:
        raise CellsFailedError(f"{summary.failed} cells failed; their causes are in the table and in {out}/logs", "")
    if summary.skipped and not (summary.measured or summary.resumed):
        _nothing_measured(suite)


def _nothing_measured(suite: Any) -> NoReturn:
    """Every cell was skipped: say so with an exit code, since a run that measured nothing is not a success."""
    from infermeter.engines.registry import engine_class
    from infermeter.errors import NotInstalledError, UnsupportedError
    from infermeter.servers.registry import adapter_for

    missing = sorted({e.name for e in suite.engines if engine_class(e.name).missing()}
                     | {s.name for s in suite.servers if adapter_for(s.name, s.settings).missing()})
    if missing:
        raise NotInstalledError(f"nothing was measured: every cell was skipped, and {', '.join(missing)} cannot run here (reasons above)",
                                "install what the reasons name (see `infermeter engines` and `infermeter servers`), or choose ones that are installed")
    raise UnsupportedError("nothing was measured: every cell was skipped (reasons above)",
                           "choose engines and servers that support this workload")


@app.command()
def run(
    suite: Optional[Path] = typer.Argument(None, help="YAML suite file (see src/infermeter/suites/example.yaml)"),
    model: Optional[str] = typer.Option(
        None, "--model", help="your own model instead of a suite: PATH.onnx, a TorchScript PATH.pt, or a SavedModel "
        "directory; add ?name=3x224x224 for inputs whose shape the file does not fix"),
    engine: list[str] = typer.Option([], "--engine", "-e", help="with --model: engines to run it on (default: every installed one that can)"),
    batch_size: list[int] = typer.Option([], "--batch-size", "-b", help="with --model: batch sizes (default 1)"),
    repeats: Optional[int] = typer.Option(None, help="with --model: repeats per cell", show_default="5"),
    out: Path = typer.Option(Path("results/run"), "--out", "-o", help="results directory"),
    resume: bool = typer.Option(False, help="skip cells OUT already holds; run the rest"),
    cache: Optional[Path] = typer.Option(None, help="artifact cache (default ~/.cache/infermeter or $INFERMETER_CACHE)"),
    force_suite: bool = typer.Option(False, "--force-suite", help="with --resume: go on although the suite differs from the one OUT was run with"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would be measured and how long that takes; run and write nothing"),
) -> None:
    """Run a suite (every workload on every engine at every scenario point), or one model file with --model."""
    from infermeter.cli.inputs import RunInputs
    from infermeter.config import load_suite, parse_suite

    given = RunInputs.of(suite=suite, model=model, engine=engine, batch_size=batch_size, repeats=repeats, out=out, cache=cache)
    if given.model is not None:
        parsed = parse_suite(_model_suite(given.model, given.engine, given.batch_size, given.repeats or 5), "--model")
    else:
        parsed = load_suite(suite)
    if dry_run:
        _show_plan(parsed, out, resume)
        return
    _run(parsed, out, resume, cache, force_suite=force_suite)


def _show_plan(suite: Any, out: Path, resume: bool) -> None:
    """--dry-run: the plan and its time; with --resume, what OUT does not hold yet. Nothing is written."""
    from infermeter.plan_estimate import estimate
    from infermeter.reports.console import show_plan
    from infermeter.results.store import ResultStore

    finished = ResultStore(out).finished_cells() if resume and (out / "results.jsonl").exists() else set()
    show_plan(screen, estimate(suite, finished), suite.name)


def _model_suite(model: str, engines: list[str], batch_sizes: list[int], repeats: int) -> dict:
    from infermeter.engines.registry import ENGINES, is_test_double
    from infermeter.workloads.registry import workload_formats

    name = model if model.startswith("file:") else "file:" + model
    formats = workload_formats(name)
    if not engines:
        engines = [n for n, c in ENGINES.items() if not is_test_double(c) and c.artifact_format in formats and not c.missing()]
    return {
        "name": f"model {model}",
        "workloads": [name],
        "engines": engines,
        "scenarios": [{"kind": "offline", "batch_sizes": batch_sizes or [1]}],
        "measure": {"repeats": repeats},
    }


@app.command()
def quickstart(
    out: Path = typer.Option(Path("results/quickstart"), "--out", "-o"),
    resume: bool = typer.Option(False),
    cache: Optional[Path] = typer.Option(None),
    force_suite: bool = typer.Option(False, "--force-suite", help="with --resume: go on although the suite differs"),
) -> None:
    """ResNet-50 and a MiniLM sentiment model at batch 1 on every engine installed here (about 3 minutes on 2 cores), then the report."""
    from infermeter.cli.inputs import QuickstartInputs
    from infermeter.config import load_suite

    QuickstartInputs.of(out=out, cache=cache)
    _run(load_suite(_builtin_suite("quickstart")), out, resume, cache, only_installed=True, write_report_too=True, force_suite=force_suite)


@app.command()
def study(
    name: Optional[str] = typer.Argument(None, help="the study (infermeter study --list)"),
    list_studies: bool = typer.Option(False, "--list", help="list the studies: title, year, what each compares"),
    full: bool = typer.Option(False, "--full", help="the study's own settings (users, repeats, windows, models): hours on 2 cores"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="results directory (default results/study-NAME)"),
    resume: bool = typer.Option(False, help="skip cells OUT already holds; run the rest"),
    cache: Optional[Path] = typer.Option(None),
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would be measured and how long that takes; run and write nothing"),
) -> None:
    """Reproduce a published comparison: its suite (a quick one by default, --full for the study's own settings),
    then the report, with each of the study's headline claims checked on this machine."""
    from infermeter.reports.console import show_studies
    from infermeter.studies.registry import not_runnable_here, studies
    from infermeter.studies.registry import study as study_named

    if list_studies or name is None:
        show_studies(screen, list(studies().values()))
        if name is None and not list_studies:
            err_console.print("run one with: infermeter study NAME [--full]", soft_wrap=True)
        return
    chosen = study_named(name)
    suite = chosen.suite(full)
    out = out or Path(f"results/study-{chosen.name}" + ("-full" if full else ""))
    mode = "the study's own settings (--full)" if full else "the quick version (--full for the study's own settings)"
    err_console.print(f"{chosen.title} ({chosen.authors}, {chosen.year}): {chosen.compares}; {mode}", soft_wrap=True)
    for what, why in not_runnable_here(suite).items():
        err_console.print(styled(("cannot run here:", "yellow"), f" {what}: {why}"), soft_wrap=True)
    for difference in chosen.differences:
        err_console.print(f"differs from the study: {difference}", soft_wrap=True)
    if dry_run:
        _show_plan(suite, out, resume)
        return
    try:
        _run(suite, out, resume, cache, only_installed=True, write_report_too=True)
    finally:
        _show_findings(chosen, out)


def _show_findings(chosen: Any, out: Path) -> None:
    """The claims' verdicts on what OUT holds, whatever the run's end (cells failed or interrupted)."""
    from infermeter.reports.console import show_findings
    from infermeter.results.store import ResultStore

    records = ResultStore(out).read() if out.is_dir() else []
    if records and chosen.claims:
        show_findings(screen, chosen, records)


# The defaults `infermeter load --help` shows: the shared load model's own (loadgen/settings.py, also a suite's
# `load:` section). Copied so that --help need not import pydantic; tests/unit/test_load_settings.py holds
# them equal. Unset flags take the model's default, never these.
LOAD_DEFAULTS_SHOWN: dict[str, Any] = {"arrival": "poisson", "min_seconds": 10.0, "min_requests": 50, "max_seconds": 120.0,
                                       "warmup_s": 2.0, "repeats": 5, "generator_processes": 1, "timeout_s": 60.0, "seed": 0}


def _shown(field: str) -> str:
    return str(LOAD_DEFAULTS_SHOWN[field])


@app.command()
def load(
    url: str = typer.Argument(..., help="http:// URL to send requests to"),
    body: Optional[Path] = typer.Option(None, help="file whose bytes are the request body (method becomes POST)"),
    method: Optional[str] = typer.Option(None, help="HTTP method (default GET, or POST with --body)"),
    header: list[str] = typer.Option([], "--header", "-H", help="'Name: value', repeatable"),
    users: Optional[str] = typer.Option(None, help="closed loop: virtual users, comma-separated sweep, e.g. 1,10,25,50"),
    rate: Optional[str] = typer.Option(None, help="open loop: arrivals per second, comma-separated sweep, e.g. 20,50"),
    arrival: Optional[str] = typer.Option(None, help="open loop arrivals: poisson, constant, gamma (with --burstiness) or trace "
                                          "(with --trace)", show_default=_shown("arrival")),
    burstiness: Optional[float] = typer.Option(None, help="arrival gamma: the gamma shape; 1 = Poisson, below 1 burstier (vLLM's convention)"),
    trace: Optional[str] = typer.Option(None, help="arrival trace: a file of request times, SECONDS[,PAYLOAD] a line, replayed "
                                        "at each --rate (stretched or squeezed to it)"),
    spawn_rate: Optional[float] = typer.Option(None, help="closed loop: users started per second (a ramp-up inside the warm-up)"),
    think_time: Optional[str] = typer.Option(None, help="closed loop: each user's pause between requests: constant:S, "
                                             "uniform:A-B or exponential:MEAN (seconds)"),
    stages: Optional[str] = typer.Option(None, help="closed loop, one window over a shape: DURATION:USERS[@SPAWN_RATE] steps, "
                                         "e.g. 30s:10,60s:50@5,30s:10 (instead of --users)"),
    shape: Optional[Path] = typer.Option(None, help="closed loop: a Python file with tick(run_time) -> (users, spawn_rate) or "
                                         "None (Locust's LoadTestShape.tick), read once a second into --stages"),
    generator_cpus: Optional[str] = typer.Option(None, "--generator-cpus", help="cores the generator processes run on, "
                                                 "e.g. 0 or 0-1 (apart from a local server's); the record says which"),
    duration: Optional[float] = typer.Option(None, help="minimum seconds per window", show_default=_shown("min_seconds")),
    min_requests: Optional[int] = typer.Option(None, help="minimum requests per window", show_default=_shown("min_requests")),
    max_duration: Optional[float] = typer.Option(None, help="a window stops here even below its minimums", show_default=_shown("max_seconds")),
    warmup: Optional[float] = typer.Option(None, help="seconds of load before each window, not counted", show_default=_shown("warmup_s")),
    repeats: Optional[int] = typer.Option(None, help="windows per point", show_default=_shown("repeats")),
    generator_processes: Optional[int] = typer.Option(
        None, "--generator-processes", help="load generator processes (use more when one core cannot drive the target)",
        show_default=_shown("generator_processes")),
    workers: Optional[int] = typer.Option(None, "--workers", hidden=True, help="old name of --generator-processes"),
    distributed: Optional[int] = typer.Option(None, "--distributed", help="run the load on Locust's master/worker runner "
                                              "with this many workers started on this machine (each runs one share)"),
    remote_workers: int = typer.Option(0, "--remote-workers", help="with --distributed: also wait for this many workers "
                                       "started elsewhere (infermeter worker --master HOST:PORT)"),
    master_bind: str = typer.Option("127.0.0.1", "--master-bind", help="with --distributed: the interface[:port] the Locust "
                                    "master listens on (its protocol has no authentication: open it on a trusted network only)"),
    timeout: Optional[float] = typer.Option(None, help="seconds before a request counts as timed out", show_default=_shown("timeout_s")),
    seed: Optional[int] = typer.Option(None, help="seed of the open-loop schedule", show_default=_shown("seed")),
    slo: Optional[str] = typer.Option(None, help="judge every window against this SLO, with goodput and a verdict at a stated "
                                      "confidence: e.g. 'p99<=100ms', 'max<=250ms', 'p99.9<=1s,errors<=1%,confidence=95%'"),
    out: Path = typer.Option(Path("results/load"), "--out", "-o"),
    resume: bool = typer.Option(False),
    allow_remote: bool = typer.Option(False, help="allow a target that is not this machine"),
) -> None:
    """Load-test any HTTP endpoint: closed loop over virtual users or open loop over arrival rates."""
    from infermeter.cli.inputs import LoadInputs
    from infermeter.loadgen.endpoint import check_points, run_load
    from infermeter.loadgen.settings import cli_settings
    from infermeter.reports.console import show_failed_windows, show_load
    from infermeter.results.redact import redact_url
    from infermeter.results.slo import parse_slo
    from infermeter.results.store import ResultStore

    inputs = LoadInputs.of(url=url, body=body, method=method or ("POST" if body else "GET"), headers=header, users=users,
                           rate=rate, arrival=arrival, out=out, shaped=stages is not None or shape is not None)
    if shape is not None:
        if stages is not None:
            raise ConfigError("--stages and --shape were both given", "give one: --shape is read into stages")
        from infermeter.loadgen.shapes import sample_shape

        try:
            stages = sample_shape(shape)
        except ValueError as exc:
            raise ConfigError(f"--shape: {exc}", "define tick(run_time) returning (users, spawn_rate), or None to end") from None
        err_console.print(f"shape {shape}: stages {stages}", soft_wrap=True)
    objective = parse_slo(slo, "--slo") if slo is not None else None
    typed = {}
    if workers is not None:  # the old spelling: "workers" is a server's model instances everywhere else
        if generator_processes is not None:
            raise ConfigError("--workers and --generator-processes were both given",
                                  "give --generator-processes only (--workers is its old name)")
        err_console.print(styled(("deprecated:", "bold yellow"), " --workers is now --generator-processes (load generator "
                                 "processes); --workers still works for now"), soft_wrap=True)
        generator_processes, typed = workers, {"generator_processes": "--workers"}
    pool = _locust_pool(distributed, remote_workers, master_bind, generator_processes)
    if pool is not None:
        generator_processes = pool.count  # one share a worker
    given = dict(warmup_s=warmup, min_seconds=duration, min_requests=min_requests, max_seconds=max_duration,
                 timeout_s=timeout, repeats=repeats, generator_processes=generator_processes, arrival=arrival, seed=seed,
                 burstiness=burstiness, trace=trace, spawn_rate=spawn_rate, think_time=think_time, generator_cpus=generator_cpus,
                 stages=stages)
    if trace is not None and arrival is None:
        given["arrival"] = "trace"  # --trace says it
    user_list, rate_list = inputs.user_list, inputs.rate_list
    if spawn_rate is not None and stages is not None:
        raise ConfigError("--spawn-rate and --stages were both given", "give each stage its spawn rate: DURATION:USERS@RATE")
    if (spawn_rate is not None or think_time is not None) and rate_list:
        raise ConfigError("--spawn-rate and --think-time shape closed-loop users; they go with --users, not --rate",
                          "give --users, or drop them (an open loop's shape is its --arrival)")
    if (burstiness is not None or trace is not None) and user_list:
        raise ConfigError("--burstiness and --trace shape open-loop arrivals; they go with --rate, not --users", "give --rate")
    settings = cli_settings(typed, **{k: v for k, v in given.items() if v is not None})  # unset: the model's default
    check_points(settings, user_list, rate_list)
    target = _open_endpoint(url, inputs, body, allow_remote)
    with contextlib.ExitStack() as stack:
        if pool is not None:
            _start_pool(stack, pool)
        with err_console.status("load test") as status:
            run_load(target, out, settings, user_list, rate_list, resume=resume,
                     on_progress=lambda msg: status.update(Text(f"load test: {msg}")), slo=objective, generators=pool)
    store = ResultStore(out)
    records = store.read()
    show_load(screen, records, f"load test: {redact_url(url)}", out)
    unfinished = {r.cell_id for r in records} - store.finished_cells(records)
    if unfinished:
        show_failed_windows(screen, records, unfinished)
        raise CellsFailedError(
            f"{len(unfinished)} of {len({r.cell_id for r in records})} load points have failed windows; causes above and in {out / 'results.jsonl'}",
            "fix the cause, then rerun with --resume to measure just those points again",
        )


def _locust_pool(local: int | None, remote: int, bind: str, generator_processes: int | None) -> Any:
    """The Locust master and workers `--distributed` asks for (not started yet), or None."""
    if local is None:
        if remote:
            raise ConfigError("--remote-workers needs --distributed", "e.g. --distributed 0 --remote-workers 4 (only remote "
                              "workers) or --distributed 2 --remote-workers 2")
        return None
    if generator_processes is not None:
        raise ConfigError("--distributed and --generator-processes were both given",
                          "with --distributed every worker runs one share: give the number of workers only")
    from infermeter.loadgen.distributed import LocustPool, is_loopback, parse_bind

    host, port = parse_bind(bind)
    if local < 0 or remote < 0 or local + remote < 1:
        raise ConfigError(f"--distributed {local} --remote-workers {remote}: no worker", "e.g. --distributed 2")
    if remote and is_loopback(host):
        err_console.print(styled(("note:", "bold yellow"), f" the master binds {host}: remote workers can join only from this "
                                 "machine (give --master-bind 0.0.0.0 or the interface they reach)"), soft_wrap=True)
    return LocustPool(local, remote, host, port or None)


def _start_pool(stack: contextlib.ExitStack, pool: Any) -> None:
    from infermeter.loadgen.distributed import NOT_LOOPBACK_WARNING, is_loopback

    if not is_loopback(pool.bind):
        err_console.print(styled(("warning:", "bold yellow"), " " + NOT_LOOPBACK_WARNING.format(where=pool.bind)), soft_wrap=True)
    waiting = f"; {pool.remote} more to join: infermeter worker --master HOST:{pool.port or 'PORT'}" if pool.remote else ""
    with err_console.status(f"distributed load: starting a Locust master and {pool.local} local workers{waiting}"):
        stack.enter_context(pool)
    err_console.print(f"distributed load: {len(pool.joined)} workers joined the master on {pool.bind}:{pool.port}: "
                      + ", ".join(f"{w['host']}:{w['pid']} (clock {w['clock_offset_ms']:+.1f} ms)" for w in pool.joined),
                      soft_wrap=True)


@app.command()
def worker(
    master: str = typer.Option(..., "--master", help="HOST:PORT of a master started by infermeter load --distributed"),
) -> None:
    """Join a distributed load (Locust's worker): run shares of load for a master on another machine."""
    from infermeter.loadgen.locust_worker import parse_master

    try:
        parse_master(master)
    except ValueError as exc:
        raise ConfigError(f"--master {master!r}: {exc}", "e.g. --master 10.0.0.5:5557") from None
    from infermeter.loadgen.distributed import locust_installed

    if not locust_installed():
        raise ConfigError("infermeter worker needs Locust, which is not installed", "pip install 'infermeter[distributed]'")
    # Its own interpreter: Locust monkey-patches the standard library when imported.
    os.execv(sys.executable, [sys.executable, "-m", "infermeter.loadgen.locust_worker", "--master", master])


@app.command()
def capacity(
    target: str = typer.Argument(..., help="an http:// URL to size; a workload to size on --engine in process; or a suite "
                                 "(.yaml): each of its servers deployed and each of its engines loaded, one after another"),
    slo: Optional[str] = typer.Option(None, help="the SLO to meet, e.g. 'p99<=100ms', 'p99.9<=1s,errors<=1%,confidence=95%' (required)"),
    mode: str = typer.Option("both", help="rate (open loop: arrivals per second), users (closed loop) or both"),
    resolution: float = typer.Option(0.05, help="stop when the interval [met, missed) is within this fraction"),
    start_rate: Optional[float] = typer.Option(None, help="first rate probed (default: half what one user is served)"),
    max_rate: Optional[float] = typer.Option(None, help="highest rate probed"),
    max_users: Optional[int] = typer.Option(None, help="most users probed"),
    engine: Optional[str] = typer.Option(None, "--engine", "-e", help="in process: the engine to size the workload on"),
    threads: Optional[int] = typer.Option(None, help="in process: the engine's intra-op threads"),
    callers: int = typer.Option(1, help="in process, open loop: threads serving the arrivals' queue"),
    batch_size: int = typer.Option(1, "--batch-size", "-b", help="in process: samples per call"),
    cache: Optional[Path] = typer.Option(None, help="in process: artifact cache directory"),
    body: Optional[Path] = typer.Option(None, help="URL: file whose bytes are the request body (method becomes POST)"),
    method: Optional[str] = typer.Option(None, help="URL: HTTP method (default GET, or POST with --body)"),
    header: list[str] = typer.Option([], "--header", "-H", help="URL: 'Name: value', repeatable"),
    min_requests: Optional[int] = typer.Option(None, help="requests per probe (default: twice what the SLO's verdict needs)"),
    duration: float = typer.Option(2.0, help="minimum seconds per probe"),
    max_duration: float = typer.Option(120.0, help="a probe stops here"),
    warmup: float = typer.Option(1.0, help="URL: seconds of load before each probe, not counted"),
    timeout: float = typer.Option(30.0, help="URL: seconds before a request counts as timed out"),
    generator_processes: int = typer.Option(1, "--generator-processes", help="URL: load generator processes"),
    seed: int = typer.Option(0, help="seed of the open-loop schedules"),
    out: Path = typer.Option(Path("results/capacity"), "--out", "-o"),
    resume: bool = typer.Option(False, help="finish an interrupted search: probes already measured are not measured again"),
    allow_remote: bool = typer.Option(False, help="URL: allow a target that is not this machine"),
) -> None:
    """The highest arrival rate (open loop) and the most users (closed loop) that meet an SLO, on an HTTP
    endpoint or an engine in process: bracketing, then bisection, every probe's window kept as evidence."""
    from infermeter.capacity.driver import GROWTH_CAP, probe_requests, run_capacity, search_id
    from infermeter.capacity.search import requests_to_pass
    from infermeter.cli.inputs import CapacityInputs
    from infermeter.loadgen.settings import cli_settings
    from infermeter.reports.console import show_capacity
    from infermeter.results.slo import parse_slo

    inputs = CapacityInputs.of(mode=mode, resolution=resolution, start_rate=start_rate, max_rate=max_rate, max_users=max_users,
                               callers=callers, batch_size=batch_size, out=out)
    suite = None
    if target.endswith((".yaml", ".yml")):
        from infermeter.config import load_suite

        suite = load_suite(Path(target))
    if slo is None and (suite is None or suite.slo is None):
        raise ConfigError("capacity needs an SLO to meet", "e.g. --slo 'p99<=100ms' (a percentile or max, <=, a time with its unit)"
                          + (", or slo: in the suite" if suite is not None else ""))
    objective = parse_slo(slo, "--slo") if slo is not None else suite.slo  # type: ignore[union-attr]
    assert objective is not None
    requests = min_requests if min_requests is not None else probe_requests(objective)
    if requests < (needed := requests_to_pass(objective)):
        raise ConfigError(f"--min-requests {requests}: a window of fewer than {needed} requests can never pass {objective.text} "
                          f"at {100 * objective.confidence:g}% confidence", f"give --min-requests {needed} or more (default: "
                          f"{probe_requests(objective)}), or a lower confidence, e.g. --slo '{objective.latency_text},confidence=95%'")
    settings = cli_settings(warmup_s=warmup, min_seconds=duration, min_requests=requests, max_seconds=max_duration, timeout_s=timeout,
                            repeats=1, generator_processes=generator_processes, seed=seed)
    if suite is not None:
        if engine is not None:
            raise ConfigError("--engine names the engine for a workload; a suite names its own engines", "drop --engine, or give a workload")
        _run_suite_capacity(suite, out, objective, inputs, cache, requests, settings, resume)
        return
    if "://" in target:
        if engine is not None:
            raise ConfigError("--engine sizes a workload in process; TARGET is a URL", "give a workload name with --engine, or drop --engine")
        cell, make_target, close = _capacity_endpoint(target, body, method, header, settings, objective, allow_remote)
    else:
        if engine is None:
            raise ConfigError(f"{target!r} is not an http:// URL; a workload is sized on an engine in process",
                              f"e.g. infermeter capacity {target} --engine onnxruntime --slo 'p99<=100ms', or give a URL")
        cell, make_target, close = _capacity_engine(target, engine, threads, inputs.callers, inputs.batch_size, cache, settings,
                                                    objective, out)
    try:
        with _capacity_store(out, resume) as (store, run_id):
            err_console.print(f"probes of {requests} requests, growing to {GROWTH_CAP} x as the search closes in (search "
                              f"{search_id(cell)}); the first is one user, unloaded")
            with err_console.status("capacity: starting") as status:
                results = run_capacity(store, run_id, cell, make_target(run_id, status), objective, inputs.modes, requests,
                                       resolution=inputs.resolution, start_rate=inputs.start_rate, max_rate=inputs.max_rate,
                                       max_users=inputs.max_users, resume=resume,
                                       on_progress=lambda msg: status.update(Text(f"capacity: {msg}")))
    finally:
        close()
    show_capacity(screen, results, out)


@app.command()
def tune(
    target: str = typer.Argument(..., help="the workload to tune, on --engine (in process) or on --server (deployed here)"),
    slo: Optional[str] = typer.Option(None, help="the SLO every trial's capacity is measured under, e.g. 'p99<=100ms' (required)"),
    engine: Optional[str] = typer.Option(None, "--engine", "-e", help="tune this engine's settings, in process"),
    server: Optional[str] = typer.Option(None, "--server", "-s", help="tune this serving framework's settings, each trial deployed anew"),
    objective: str = typer.Option("throughput", help="throughput (the highest capacity), p99 (the lowest unloaded latency at "
                                  "the SLO's percentile) or cost (the least per million requests, for the cores reserved)"),
    budget: str = typer.Option("20m", help="time for the study, e.g. 20m, 90s, 1h: no trial starts once too little is left (--confirm rounds come after)"),
    max_trials: Optional[int] = typer.Option(None, help="at most this many trials ended, measured or not (the defaults count as one)"),
    confirm: int = typer.Option(1, min=0, help="rounds measuring the defaults and the best again after the study (0: none)"),
    traffic: Optional[float] = typer.Option(None, help="objective p99: the rate (arrivals/s) a setting must serve within the SLO"),
    price_per_core_hour: Optional[float] = typer.Option(None, help="objective cost: the price of one core for an hour"),
    set_: list[str] = typer.Option([], "--set", help="key=value: a setting every trial keeps (e.g. runtime=onnxruntime), repeatable"),
    batch_size: int = typer.Option(1, "--batch-size", "-b", help="in process: samples per call"),
    resolution: float = typer.Option(0.1, help="each trial's search stops when its interval is within this fraction"),
    start_rate: Optional[float] = typer.Option(None, help="first rate probed (default: half what one user is served)"),
    max_rate: Optional[float] = typer.Option(None, help="highest rate probed"),
    min_requests: Optional[int] = typer.Option(None, help="requests per probe (default: twice what the SLO's verdict needs)"),
    growth: int = typer.Option(4, min=1, help="probes grow, doubling at each bisection step, up to this many times --min-requests "
                               "(capacity uses 8: trials are compared with each other and the best measured again, so 4)"),
    duration: float = typer.Option(2.0, help="minimum seconds per probe"),
    max_duration: float = typer.Option(120.0, help="a probe stops here"),
    warmup: float = typer.Option(1.0, help="server: seconds of load before each probe, not counted"),
    timeout: float = typer.Option(30.0, help="server: seconds before a request counts as timed out"),
    cache: Optional[Path] = typer.Option(None, help="artifact cache directory"),
    seed: int = typer.Option(0, help="seed of the sampler and of the open-loop schedules"),
    out: Path = typer.Option(Path("results/tune"), "--out", "-o"),
    resume: bool = typer.Option(False, help="go on with the study in OUT: interrupted trials first, probes measured are kept"),
) -> None:
    """Search an engine's or a serving framework's settings for the highest capacity under an SLO (or the
    lowest latency, or the lowest cost): Optuna proposes, each trial is a real capacity search, the
    defaults are measured first, and the best setting comes out as a ready suite."""
    from infermeter.capacity.driver import probe_requests
    from infermeter.capacity.search import requests_to_pass
    from infermeter.cli.inputs import TuneInputs
    from infermeter.export.artifacts import usable_cache_root
    from infermeter.loadgen.settings import cli_settings
    from infermeter.reports.console import show_tuning
    from infermeter.results.slo import parse_slo
    from infermeter.tuning.objective import Objective
    from infermeter.tuning.study import run_study
    from infermeter.tuning.trials import EngineTunable, ServerTunable, TrialContext

    inputs = TuneInputs.of(objective=objective, budget=budget, traffic=traffic, price_per_core_hour=price_per_core_hour,
                           max_trials=max_trials, sets=set_, batch_size=batch_size, resolution=resolution, start_rate=start_rate,
                           max_rate=max_rate, out=out)
    if slo is None:
        raise ConfigError("tune needs an SLO: every trial is a capacity search under it", "e.g. --slo 'p99<=100ms'")
    goal = parse_slo(slo, "--slo")
    if "://" in target or target.endswith((".yaml", ".yml")):
        raise ConfigError(f"tune sets up what it measures, so it needs a workload, not {target!r}",
                          f"e.g. infermeter tune resnet50 --engine onnxruntime --slo '{goal.text}' (infermeter capacity sizes a URL or a suite)")
    if (engine is None) == (server is None):
        raise ConfigError("give one of --engine (in process) or --server (a serving framework deployed here)",
                          f"e.g. infermeter tune {target} --engine onnxruntime --slo '{goal.text}'")
    requests = min_requests if min_requests is not None else probe_requests(goal)
    if requests < (needed := requests_to_pass(goal)):
        raise ConfigError(f"--min-requests {requests}: a window of fewer than {needed} requests can never pass {goal.text}",
                          f"give --min-requests {needed} or more (default: {probe_requests(goal)})")
    settings = cli_settings(warmup_s=warmup, min_seconds=duration, min_requests=requests, max_seconds=max_duration, timeout_s=timeout,
                            repeats=1, generator_processes=1, seed=seed)
    if engine is not None:
        tunable: Any = EngineTunable(target, engine, inputs.fixed, inputs.batch_size)
    else:
        _warn_leftovers()
        tunable = ServerTunable(target, server, inputs.fixed, seed)  # type: ignore[arg-type]
    goal_of = Objective(inputs.objective, inputs.traffic, inputs.price_per_core_hour)
    search = {"resolution": inputs.resolution, "start_rate": inputs.start_rate, "max_rate": inputs.max_rate, "growth_cap": growth}
    screen = Screen(out_console, err_console)
    cache_root = usable_cache_root(cache)
    with _capacity_store(out, resume) as (store, run_id):
        err_console.print(f"tuning {tunable.label} for {goal_of.name} under {goal.text}, budget {inputs.budget}: the defaults first, "
                          f"then Optuna's proposals; probes of {requests} requests", soft_wrap=True)
        with err_console.status("tune: starting") as status:
            ctx = TrialContext(store, run_id, goal, requests, settings, search, cache_root, resume,
                               lambda msg: status.update(Text(f"tune: {msg}")))
            found = run_study(tunable, ctx, goal_of, inputs.budget_s, inputs.max_trials, seed, confirm)
        if found.snippet:
            (out / "tuned-suite.yaml").write_text(found.snippet)
    show_tuning(screen, found, out)


@contextlib.contextmanager
def _capacity_store(out: Path, resume: bool) -> Iterator[tuple[Any, str]]:
    """OUT locked and ready for a capacity run (refused when it holds results and --resume was not given), and
    the run's id."""
    import uuid
    from datetime import datetime

    from infermeter.results.store import ResultStore

    store = ResultStore(out)
    with store.lock():
        if store.has_results() and not resume:
            raise ConfigError(f"{out} already holds results", "add --resume to finish that search, or choose another --out")
        if resume:
            store.refuse_damage()
        store.create()
        yield store, datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _run_suite_capacity(suite: Any, out: Path, slo: Any, inputs: Any, cache: Path | None, requests: int, settings: Any,
                        resume: bool) -> None:
    """Every server and engine of the suite, one after another, into one OUT."""
    from infermeter.capacity.suite import run_suite_capacity
    from infermeter.export.artifacts import usable_cache_root
    from infermeter.reports.console import show_capacity

    cache_root = usable_cache_root(cache)
    with _capacity_store(out, resume) as (store, run_id):
        _warn_leftovers()
        err_console.print(f"{suite.name}: probes of {requests} requests, growing as each search closes in; {slo.text}")
        with err_console.status("capacity: starting") as status:
            results, skipped = run_suite_capacity(
                suite, store, run_id, slo, inputs.modes, requests, settings, cache_root, callers=inputs.callers,
                resume=resume, on_progress=lambda msg: status.update(Text(f"capacity: {msg}")), resolution=inputs.resolution,
                start_rate=inputs.start_rate, max_rate=inputs.max_rate, max_users=inputs.max_users)
    for line in skipped:
        err_console.print(styled(("not searched", "yellow"), f": {line}"), soft_wrap=True)
    show_capacity(screen, results, out)


def _open_endpoint(url: str, inputs: Any, body: Path | None, allow_remote: bool) -> Any:
    """The endpoint's request (an HttpTarget), checked before any load: its body read, its address this
    machine (unless allowed), something answering there."""
    from infermeter.loadgen.endpoint import check_loopback, probe
    from infermeter.protocols.http import HttpTarget

    try:
        payload = body.read_bytes() if body is not None else b""
    except OSError as exc:
        raise InfermeterError(f"cannot read body file {str(body)!r}: {exc.strerror or exc}", "check the file and its permissions") from None
    target = HttpTarget(url, inputs.method, payload, inputs.header_pairs)
    _warn_leftovers()
    check_loopback(target, allow_remote)
    probe(target)
    return target


def _capacity_endpoint(url: str, body: Path | None, method: str | None, header: list[str], settings: Any, slo: Any,
                       allow_remote: bool) -> tuple[dict[str, Any], Any, Any]:
    """An endpoint checked (inputs, loopback, something answers): (the search's cell, the target's factory, its closer)."""
    from infermeter.capacity.endpoint import EndpointTarget
    from infermeter.cli.inputs import EndpointInputs
    from infermeter.results.redact import redact_url

    inputs = EndpointInputs.of(url=url, body=body, method=method or ("POST" if body else "GET"), headers=header, out=Path("."))
    http = _open_endpoint(url, inputs, body, allow_remote)
    cell = {"target": redact_url(http.url), "method": http.method, "body_bytes": len(http.body), "settings": settings.model_dump()}
    return cell, lambda run_id, status: EndpointTarget(http, settings, slo, run_id), lambda: None


def _capacity_engine(workload: str, engine: str, threads: int | None, callers: int, batch_size: int, cache: Path | None,
                     settings: Any, slo: Any, out: Path) -> tuple[dict[str, Any], Any, Any]:
    """A workload's cell on an engine, checked against the registries and the machine: (the search's cell, the
    target's factory, which loads the engine in a worker, its closer)."""
    from infermeter.capacity.engine import EngineTarget, engine_cell, session_log
    from infermeter.collectors.energy import DEFAULT_CPU_WATTS_PER_CORE
    from infermeter.export.artifacts import usable_cache_root
    from infermeter.runner import CellSession

    cell = engine_cell(workload, engine, {"threads": threads} if threads else {}, batch_size, settings.seed)
    cache_root = usable_cache_root(cache)
    sessions: list[CellSession] = []

    def make(run_id: str, status: Any) -> EngineTarget:
        status.update(Text(f"capacity: loading {workload} on {engine}, checking its answers, warming up"))
        sessions.append(CellSession(cell, cache_root, run_id, session_log(out, cell), "process", DEFAULT_CPU_WATTS_PER_CORE, slo.text))
        return EngineTarget(cell, sessions[0], slo, settings.min_seconds, settings.max_seconds, callers)

    search_cell = {"workload": workload, "engine": cell.engine_label, "batch_size": batch_size, "callers": callers,
                   "seed": settings.seed, "requests": settings.min_requests, "min_seconds": settings.min_seconds,
                   "max_seconds": settings.max_seconds, "label": f"{workload} on {cell.engine_label}"}
    return search_cell, make, lambda: [s.close() for s in sessions]


servers_app = typer.Typer(help="Serving frameworks: list them, install their environments.", invoke_without_command=True)
app.add_typer(servers_app, name="servers")


@servers_app.callback()
def servers_list(ctx: typer.Context) -> None:
    """List the server adapters and whether each one's environment is installed here."""
    if ctx.invoked_subcommand is not None:
        return
    from infermeter.reports.listing import servers_table

    out_console.print(servers_table())


@servers_app.command("install")
def servers_install(names: list[str] = typer.Argument(..., help="server names, or 'all'")) -> None:
    """Create each server's own virtual environment with its pinned versions."""
    from infermeter.cli.inputs import ServersInstallInputs
    from infermeter.servers.common import envs
    from infermeter.servers.registry import server_class

    chosen = ServersInstallInputs.of(names=names).names  # every name checked before anything is installed
    for name in chosen:
        cls = server_class(name)
        if not cls.requirements:
            err_console.print(f"{name}: nothing to install from a package index; {cls().missing() or 'ready'}", soft_wrap=True)
            continue
        log = envs.envs_root() / f"{name}-install.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with err_console.status(Text(f"installing {name}: {' '.join(cls.requirements)}")):
            info = envs.install(name, cls.requirements, log, cls.pip_args)
        err_console.print(f"{name}: installed in {info['install_s']:.0f} s, {info['size_mb']:.0f} MB at {envs.env_dir(name)}")
        why = cls().missing()
        if why:
            err_console.print(styled((f"{name} still cannot run here:", "yellow"), f" {why}"), soft_wrap=True)


def _records_of(path: Path) -> list:
    from infermeter.results.store import ResultStore

    store = ResultStore(path)
    if not store.jsonl.exists():
        raise InfermeterError(f"{path} holds no results.jsonl", "give the --out directory of an infermeter run or load test")
    return store.read()


@app.command()
def report(
    paths: list[Path] = typer.Argument(..., help="results directories (the --out of runs) or results.jsonl files"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="where to write the report (default: the first PATH)"),
    title: Optional[str] = typer.Option(None, help="the report's title"),
    traffic: Optional[float] = typer.Option(None, help="arrivals per second to state each recommended configuration's headroom at"),
) -> None:
    """report.html (interactive, self-contained), report.md and PNG figures from one or more runs."""
    from infermeter.cli.inputs import ReportInputs
    from infermeter.reports.report import write_report

    ReportInputs.of(paths=paths, out=out, title=title, traffic=traffic)
    target = out or (paths[0] if paths[0].is_dir() else paths[0].parent)
    with err_console.status("writing the report"):
        files = write_report(paths, target, title, traffic)
    out_console.print(f"{files.html}\n{files.markdown}\n{len(files.figures)} figures in {files.html.parent / 'figures'}\n"
                      f"{len(files.tables) // 2} tables as CSV and LaTeX in {files.html.parent / 'tables'}",
                      highlight=False, soft_wrap=True)
    if files.warnings:
        err_console.print(f"{files.warnings} warnings, each with its remedy, in the report's 'Warnings and remedies'", soft_wrap=True)


def _metadata_differences(records_a: list, records_b: list, allow_different_machines: bool) -> None:
    """Name every machine and software difference between the runs; refuse different machines unless allowed."""
    from infermeter.errors import DifferentMachinesError
    from infermeter.reports.console import show_metadata_differences
    from infermeter.results.metadata import metadata_diff

    meta = metadata_diff(records_a, records_b)
    if meta.different_machines and not allow_different_machines:
        named = "; ".join(f"{d.field}: {d.a!r} in A, {d.b!r} in B" for d in meta.machine_diffs)
        raise DifferentMachinesError(
            f"A and B were measured on different machines ({named}); their figures differ by the machine as much as "
            "by what was changed",
            "compare runs from one machine, or pass --allow-different-machines to compare them anyway")
    show_metadata_differences(screen, meta)


@app.command()
def compare(
    a: Path = typer.Argument(..., help="results directory of the baseline run"),
    b: Path = typer.Argument(..., help="results directory of the run to compare with it"),
    fail_on: Optional[str] = typer.Option(None, help="exit 9 when a significant change passes a threshold, e.g. 'p99:+5%,throughput:-5%'"),
    alpha: float = typer.Option(0.05, help="significance level of Welch's t-test over repeats"),
    min_change: float = typer.Option(2.0, help="smallest change, in %, that counts as real"),
    allow_different_machines: bool = typer.Option(
        False, "--allow-different-machines",
        help="compare runs measured on different machines (CPU, CPU count, memory, GPU, OS/kernel differ); refused otherwise"),
) -> None:
    """Cell by cell: A's and B's throughput and latency, the change, its p-value, and a verdict. What differs
    between the two runs' machines and software versions is listed first."""
    from infermeter.cli.inputs import CompareInputs
    from infermeter.errors import RegressionError
    from infermeter.reports.console import show_comparison, show_regressions
    from infermeter.results.compare import breaches, compare_runs, parse_fail_on

    CompareInputs.of(a=a, b=b, alpha=alpha, min_change=min_change)
    thresholds = parse_fail_on(fail_on) if fail_on is not None else {}
    records_a, records_b = _records_of(a), _records_of(b)
    _metadata_differences(records_a, records_b, allow_different_machines)
    cells, only_a, only_b = compare_runs(records_a, records_b, alpha, min_change / 100)
    if not cells:
        raise InfermeterError(f"{a} and {b} have no measured cell in common",
                              "compare two runs of the same suite (cells match by their full settings)")
    show_comparison(screen, cells, only_a, only_b, f"{b} against {a}", alpha, min_change)
    failed = breaches(cells, thresholds)
    if failed:
        show_regressions(screen, failed)
        raise RegressionError(f"{len(failed)} significant change(s) past --fail-on {fail_on}", "")


@app.command()
def export(
    paths: list[Path] = typer.Argument(..., help="results directories (or results.jsonl files); searched recursively"),
    parquet: Path = typer.Option(..., "--parquet", help="Parquet file to write: one row per repeat, nested fields as dotted columns"),
) -> None:
    """Write every record under PATHS to one Parquet file (for pandas, Polars, DuckDB, Spark...)."""
    from infermeter.cli.inputs import ExportInputs
    from infermeter.results.frame import load_results, to_parquet

    ExportInputs.of(paths=paths, parquet=parquet)
    frame = load_results(*paths)
    to_parquet(frame, parquet)
    err_console.print(f"{len(frame)} rows x {len(frame.columns)} columns written to {parquet}")


@app.command()
def query(
    sql: str = typer.Argument(..., help="DuckDB SQL over the view `results`, e.g. \"SELECT cell.workload, "
                                        "avg(metrics.throughput_rps) FROM results GROUP BY ALL\""),
    paths: list[Path] = typer.Argument(..., help="results directories (or results.jsonl files); searched recursively"),
) -> None:
    """SQL over results: DuckDB reads every results.jsonl under PATHS as the view `results`. The SQL runs with
    DuckDB's file access (it can read and write any file you can): run only queries you wrote or checked."""
    from infermeter.cli.inputs import QueryInputs
    from infermeter.reports.console import show_frame
    from infermeter.results.frame import query as run_query

    QueryInputs.of(sql=sql, paths=paths)
    show_frame(screen, run_query(sql, *paths))


@app.command()
def scorecard(paths: list[Path] = typer.Argument(None, help="results directories of server runs (for cold start and lines of code)")) -> None:
    """Usability of each serving framework, measured: install size and time, cold start, lines written to serve;
    and its version, licence and maintenance status."""
    from infermeter.cli.inputs import ScorecardInputs
    from infermeter.reports.console import show_grid
    from infermeter.reports.scorecard import scorecard_grids
    from infermeter.results.frame import read_under

    ScorecardInputs.of(paths=paths or [])
    for grid in scorecard_grids(read_under(paths) if paths else []):
        show_grid(screen, grid)


@app.command()
def doctor(
    out: Path = typer.Argument(..., help="results directory (the --out of a run or load test)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="only report; change nothing"),
) -> None:
    """Check a results directory and repair what can be repaired without losing a measured record: damaged
    lines of results.jsonl moved to results.damaged.jsonl, results.csv and summary.csv rebuilt, leftover
    temporary files removed."""
    from infermeter.cli.inputs import DoctorInputs
    from infermeter.doctor import doctor as check

    DoctorInputs.of(out=out)
    c = check(out, repair=not dry_run)
    for f in c.findings:
        mark = "repaired" if f.repaired else ("found" if dry_run else "not repaired")
        err_console.print(f"{mark}: {f.problem}\n  {'done' if f.repaired else 'fix'}: {f.fix}", soft_wrap=True)
    if c.unrepaired and not dry_run:
        raise InfermeterError(f"{len(c.unrepaired)} problem(s) in {out} could not be repaired", "see each one's fix above")
    if dry_run and c.findings:
        raise InfermeterError(f"{len(c.findings)} problem(s) in {out}", f"infermeter doctor {out}  (without --dry-run) repairs them")
    err_console.print(f"{out}: {c.records} records" + ("; results.csv rebuilt" if not dry_run else "") + (", all well" if not c.findings else ""),
                      highlight=False, soft_wrap=True)


@app.command()
def cleanup() -> None:
    """Stop servers that an earlier, killed infermeter run left running (by process id and session)."""
    from infermeter.servers.common import leftovers

    found = leftovers.find()
    if not found:
        err_console.print("no leftover servers")
        return
    for item in found:
        leftovers.stop(item)
        err_console.print(f"stopped {item.describe()}", soft_wrap=True)


@app.command()
def selftest(
    seconds: float = typer.Option(8.0, "--seconds", help="length of each measurement window (at least 1)"),
    capacity_rate: float = typer.Option(1000.0, "--capacity-rate", help="open-loop rate the generator must keep on a null target (at least 1)"),
    skip_capacity: bool = typer.Option(False, "--skip-capacity",
                                       help="leave out the capacity search's check (about a minute, whatever --seconds is)"),
) -> None:
    """Check the harness against known answers (timer, overhead, Little's law, M/D/1, M/M/1, a stall)."""
    from infermeter.cli.inputs import SelftestInputs
    from infermeter.errors import SelfTestFailedError
    from infermeter.reports.console import show_selftest
    from infermeter.selftest import run_selftest

    SelftestInputs.of(seconds=seconds, capacity_rate=capacity_rate)

    checks = run_selftest(seconds, capacity_rate, progress=lambda s: err_console.print(styled((s, "dim"))),
                          capacity_search=not skip_capacity)
    show_selftest(screen, checks)
    failed = [c for c in checks if not c.passed]
    if failed:
        raise SelfTestFailedError(
            f"{len(failed)} of {len(checks)} checks failed: " + "; ".join(f"{c.name} (measured {c.measured:.4g} {c.unit})" for c in failed),
            "run it again on a quiet machine; if it keeps failing, figures from this machine are not trustworthy as they stand",
        )
    err_console.print(styled((f"all {len(checks)} checks passed", "green")))


@app.command()
def engines(all: bool = typer.Option(False, "--all", help="also list test doubles")) -> None:
    """List the engines and whether each is installed here."""
    from infermeter.reports.listing import engines_table

    out_console.print(engines_table(test_doubles=all))


@app.command()
def workloads(all: bool = typer.Option(False, "--all", help="also list test doubles")) -> None:
    """List the workloads and whether each can be built here."""
    from infermeter.reports.listing import workloads_table

    out_console.print(workloads_table(test_doubles=all))


def _sigterm_as_interrupt(signum: int, frame: object) -> None:
    """SIGTERM is handled as Ctrl-C, so that every started server is stopped on the way out. It is passed on
    as SIGINT rather than raised here: inside an asyncio loop (the load generator) asyncio.run's own SIGINT
    handler then cancels its tasks before the interrupt, where a KeyboardInterrupt raised mid-loop left them
    pending ("Task was destroyed but it is pending!" with a traceback on stderr, about 1 run in 6)."""
    import signal

    if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, None):  # a background job ignores SIGINT: interrupt anyway
        raise KeyboardInterrupt
    signal.raise_signal(signal.SIGINT)


def _interrupts_are_never_lost() -> None:
    """Ctrl-C is never swallowed. Python raises KeyboardInterrupt wherever the main thread happens to be, and
    where that is a finalizer (a __del__, a weakref callback: the regex package's run at any garbage
    collection) it only prints "Exception ignored in ..." and goes on; a run then measured on for minutes
    with its servers up. Such an interrupt is sent again as SIGINT, a moment later from another thread: raised
    here, in the hook, it would be swallowed the same way. Should it land in a finalizer again, this repeats."""
    import signal
    import threading

    passed_on = sys.unraisablehook
    if getattr(passed_on, "passes_interrupts_on", False):  # main() ran before in this process (tests)
        return
    main_thread = threading.main_thread().ident

    def hook(unraisable: "sys.UnraisableHookArgs") -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            again = threading.Timer(0.05, signal.pthread_kill, args=(main_thread, signal.SIGINT))
            again.daemon = True
            again.start()
            return
        passed_on(unraisable)

    hook.passes_interrupts_on = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


_CANNOT_WRITE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES}


def _fail(exc: InfermeterError) -> NoReturn:
    from infermeter.results.redact import redact_text

    # Messages are plain text: a value in them like "[/x]" must print as itself, not be read as markup.
    # A URL's credentials never reach the terminal (or the CI log it is piped to).
    err_console.print(styled(("error:", "bold red"), f" {redact_text(exc.message)}"), soft_wrap=True)
    if exc.hint:
        err_console.print(styled("  ", ("fix:", "bold"), f" {redact_text(exc.hint)}"), soft_wrap=True)
    sys.exit(exc.exit_code)


def _notes_to_stderr() -> None:
    """What the library logs at WARNING (a results line that could not be read, say) reaches the user as
    a plain note, never as markup."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("note: %(message)s"))
    log = logging.getLogger("infermeter")
    log.addHandler(handler)
    log.setLevel(logging.WARNING)


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    _interrupts_are_never_lost()
    _notes_to_stderr()
    try:
        # Not standalone: typer turns Ctrl-C into a returned exit code (130) instead of raising.
        code = app(standalone_mode=False)
        if code == 130:
            raise KeyboardInterrupt
        if isinstance(code, int) and code:
            sys.exit(code)
    except InfermeterError as exc:
        _fail(exc)
    except OSError as exc:
        if exc.errno in _CANNOT_WRITE:
            from infermeter.results.store import write_error

            _fail(write_error(exc.filename or "the results directory", exc))
        if exc.filename is None:
            raise
        # A path the user gave that up-front validation could not foresee (it changed meanwhile, a device...).
        _fail(InfermeterError(f"{exc.filename}: {exc.strerror or exc}", "check the path you gave and its permissions"))
    except KeyboardInterrupt:
        err_console.print(styled(("interrupted", "yellow"), ": results measured so far are kept; rerun with --resume to finish"))
        # CPython (3.11) marks an interrupt that left any exec() of a string (dataclasses and namedtuples build
        # their methods so, often mid-import) as unhandled, and at exit kills itself with SIGINT (exit -2) instead
        # of exiting 130. Any exec() of a string that completes clears the mark.
        exec("None")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:
        # Usage errors of the CLI parser (typer may vendor its own click): show them the usual way.
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
