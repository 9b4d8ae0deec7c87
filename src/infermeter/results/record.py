"""The typed model of a result record: one measured window (a repeat) or one cell that was not measured.

Every writer builds one of these; the store validates each record when it is written and when it is read
(after migrating older schema versions, see results/migrate.py), and results.csv is a projection of it.

Kinds (the `record_type` of each class):
- engine: one window of an in-process engine cell;
- server: one load window against a serving framework infermeter started;
- load: one load window against an endpoint the user gave (`infermeter load URL`);
- not-measured: a cell skipped (what it needs is missing) or failed before any window was measured.
A measured window can still fail (status "failed": its calls failed, its server died); it then keeps what
it measured. `superseded` marks a repeat of a cell that was measured again later (an interrupted cell run
again by --resume); summaries, figures and `compare` leave such repeats out, and the file keeps them.

Top-level fields are strict (a writer cannot add a field the model does not know); the metric blocks allow
extra keys, so a metric added by a newer collector does not make a record unreadable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter

from infermeter import SCHEMA_VERSION
from infermeter.results.warnings import RecordWarning

TargetKind = Literal["engine", "server", "load"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- shared blocks ---------------------------------------------------------------------------------------

class SanityCheck(_Strict):
    check: str
    ok: bool
    detail: str


class Sanity(_Strict):
    verdict: Literal["ok", "warn"]
    checks: list[SanityCheck] = Field(default_factory=list)


class Parity(_Open):
    """Outputs against the reference engine. verdict: match / mismatch (values or shape) / absent when no
    comparison could be made."""

    reference_engine: str | None = None
    samples: int | None = None
    max_abs_diff: float | None = None
    agreement: float | None = None
    tolerance: float | None = None
    precision: str | None = None  # what the engine computed in: fp32, or bf16 / fp16 (judged on agreement alone)
    verdict: str | None = None
    note: str | None = None


class Energy(_Open):
    source: str = "n/a"
    joules_per_inference: float | None = None
    joules_per_1000: float | None = None
    # NVML over the window (collectors/gpu.GpuWindow.result: per device utilisation, memory, power), or
    # {"source": "n/a", "reason": ...} where no GPU was seen; None in records from before it was collected
    gpu: dict[str, Any] | None = None


class WindowMetrics(_Open):
    """What every measured window has: latencies (exact summary of this window, and the encoded
    HdrHistogram that merges across repeats), counts and the window's length."""

    latency_ms: dict[str, float] = Field(default_factory=dict)
    latency_hdr: str | None = None
    requests: int = 0
    failures: int = 0
    window_s: float | None = None
    system_cpu_percent: float | None = None
    energy: Energy | None = None


class EngineMetrics(WindowMetrics):
    # A fixed reference computation (collectors/speed.py) timed just before and after the window, in ms:
    # how fast the machine itself was, to tell a slower machine from a slower engine.
    speed_probe_ms: float | None = None
    batches_per_s: float | None = None
    samples_per_s: float | None = None
    cpu_percent: float | None = None
    other_cpu_percent: float | None = None
    import_s: float | None = None
    convert_s: float | None = None
    artifact_bytes: int | None = None
    load_s: float | None = None
    first_inference_s: float | None = None
    load_cached_s: float | None = None
    first_inference_cached_s: float | None = None
    rss_baseline_mb: float | None = None
    rss_after_load_mb: float | None = None
    peak_rss_mb: float | None = None
    peak_rss_delta_mb: float | None = None
    # Open-loop windows only (scenario "open-loop", loadgen/openloop.py); absent on every other window.
    # Saturation evidence: `offered` arrivals at `offered_per_s` against the completed rate (batches_per_s),
    # the arrivals still waiting when the schedule ended (`backlog`) and those never started by max_seconds
    # (`unsent`); the issue lag (start - scheduled: queueing wait + wake-up lateness) as latency is, and the
    # harness's own wake-up lateness (arrivals a caller was waiting for) apart.
    offered: int | None = None
    offered_per_s: float | None = None
    backlog: int | None = None
    unsent: int | None = None
    issue_lag_ms: dict[str, float] | None = None
    issue_lag_hdr: str | None = None
    wakeup_lag_ms: dict[str, float] | None = None


class LoadMetrics(WindowMetrics):
    ok: int = 0
    unsent: int = 0
    outcomes: dict[str, int] = Field(default_factory=dict)
    throughput_rps: float | None = None
    failures_per_s: float | None = None
    failure_rate: float | None = None
    generator_processes: int | None = None
    generator_cpu_max: float | None = None
    client_cpu_s: float | None = None
    client_cpu_percent: float | None = None
    client_rss_mb: float | None = None
    errors: list[str] = Field(default_factory=list)
    issue_lag_ms: dict[str, float] | None = None
    issue_lag_hdr: str | None = None
    # latency_hdr holds every completed request, failed ones too; this holds the failed ones alone (None:
    # none failed, or a record from before it was kept), so that goodput counts OK requests only.
    failure_latency_hdr: str | None = None
    # Several generator shares (processes or Locust workers): each one's own figures (generator.share_figures)
    generator_shares: list[dict[str, Any]] | None = None
    # Distributed: the Locust master's own cost of the window (CPU, bytes of plans and results moved) and
    # each worker's clock offset from it (loadgen/locust_master.py)
    generator_master: dict[str, Any] | None = None
    # Second by second, the warm-up included (loadgen/series.py): completions, failures, users or requests
    # in the system, p50/p99
    series: dict[str, Any] | None = None
    generator_cpus: list[int] | None = None  # the cores the generator processes could run on (--generator-cpus)
    # server windows: the framework's own figures and its process tree
    server_requests: float | None = None
    queue_ms_mean: float | None = None
    inference_ms_mean: float | None = None
    server_cpu_percent: float | None = None
    server_rss_mb: float | None = None
    speed_probe_ms: float | None = None  # as on engine windows: the machine's own speed around the window


class Warmup(_Open):
    """How warm-up ended (loadgen/warmup.py): after `calls` calls in `seconds`, steady or stopped at the
    maximum; the steadiness test's statistic and the medians of the two halves of its last window."""

    calls: int
    seconds: float
    steady: bool
    hit_max: bool = False
    window: int | None = None
    statistic: float | None = None
    p_value: float | None = None
    early_ms: float | None = None
    late_ms: float | None = None
    max_seconds: float | None = None


class EngineInfo(_Open):
    name: str
    label: str
    settings: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    runtime: dict[str, Any] = Field(default_factory=dict)
    capabilities: list[str] = Field(default_factory=list)


class ServerInfo(_Open):
    name: str
    label: str
    settings: dict[str, Any] = Field(default_factory=dict)


SloVerdict = Literal["pass", "fail", "not proven", "too few samples"]


class SloCheck(_Strict):
    """One bound of an SLO tested on a window (results/slo.py): of `requests`, `over` went past it (a
    latency bound: over the bound, and where the SLO has no failure-rate bound, failed or never answered
    too; a failure-rate bound: failed or never answered). `upper` and `lower` are one-sided binomial
    (Clopper-Pearson) bounds on the fraction past it, at the confidence this bound is tested at; None where
    the bound allows nothing past it (max, 0%), which is judged on the window's requests alone. `needed`:
    the fewest requests with which `over` past it could pass (None: no number could)."""

    bound: str  # "p99<=100ms", "errors<=1%"
    allowed: float  # the fraction allowed past it: 1 - percentile/100, or the failure rate
    requests: int  # n: the requests it was tested on
    over: int
    upper: float | None = None
    lower: float | None = None
    confidence: float | None = None  # what this bound was tested at (the SLO's, shared out over its bounds)
    verdict: SloVerdict
    needed: int | None = None


class SloResult(_Strict):
    """A window (or a cell's windows pooled) against the SLO it was measured under."""

    slo: str  # as stated, in its canonical spelling (results/slo.py parses it back)
    confidence: float  # of the verdict as a whole
    verdict: SloVerdict
    requests: int  # n: requests judged (completed, and scheduled but never answered)
    good: int  # completed OK within the latency bound
    over: int  # k of the latency bound (its check's `over`): answered OK but too late, and, without a failure-rate bound, failed too
    failed: int  # failed, or never answered
    goodput_rps: float | None = None  # good / window_s
    bound_ms: float  # the latency bound as stated
    bound_used_ms: float  # the bound the histogram count used (at most bound_ms, within its resolution)
    window_s: float | None = None
    checks: list[SloCheck] = Field(default_factory=list)


class Cost(_Strict):
    price_per_hour: float
    currency: str
    per_million_requests: float | None = None


# -- records ---------------------------------------------------------------------------------------------

class _Record(_Strict):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    cell_id: str
    cell: dict[str, Any]  # the cell's full identity and settings, as planned (config.Cell / ServerCell / load point)
    status: str
    error: str | None = None
    finished_at: str | None = None
    machine: dict[str, Any] = Field(default_factory=dict)
    packages: dict[str, str] = Field(default_factory=dict)
    warnings: list[RecordWarning] = Field(default_factory=list)
    superseded: bool = False
    source: str | None = None  # set on reading several directories: which one the record came from

    @property
    def label(self) -> str:
        return str(self.cell.get("label") or self.cell.get("workload") or self.cell_id)


class _Window(_Record):
    status: Literal["ok", "failed"]
    repeat: int
    repeats: int
    sanity: Sanity | None = None
    slo: SloResult | None = None  # the window against the SLO of its suite or command; None when none was set


class EngineWindow(_Window):
    kind: Literal["engine"] = "engine"
    workload: dict[str, Any] = Field(default_factory=dict)
    engine: EngineInfo
    artifact: dict[str, Any] = Field(default_factory=dict)
    parity: Parity | None = None
    warmup: Warmup | None = None  # absent in schema-1 records (warm-up was a fixed count)
    thread_env: dict[str, Any] = Field(default_factory=dict)
    metrics: EngineMetrics


class ServerWindow(_Window):
    kind: Literal["server"] = "server"
    workload: dict[str, Any] = Field(default_factory=dict)
    server: ServerInfo
    answers: dict[str, Any] = Field(default_factory=dict)
    deployment: dict[str, Any] = Field(default_factory=dict)
    metrics: LoadMetrics | None = None  # None: the window's generator died before measuring anything
    cost: Cost | None = None
    # The deployment's own pipeline timed in process (servers/reference.py), and this window's client
    # latency decomposed against it (validity/overhead.py): network + protocol, framework, pre/post, model.
    inprocess: dict[str, Any] | None = None
    decomposition: dict[str, float | int | None] | None = None


class LoadWindow(_Window):
    kind: Literal["load"] = "load"
    metrics: LoadMetrics | None = None


class NotMeasured(_Record):
    """A cell skipped (what it needs is missing here) or failed before any window: `error` says why."""

    kind: TargetKind
    status: Literal["skipped", "failed"]
    error: str
    engine: EngineInfo | None = None
    server: ServerInfo | None = None
    workload: dict[str, Any] = Field(default_factory=dict)
    answers: dict[str, Any] = Field(default_factory=dict)
    deployment: dict[str, Any] = Field(default_factory=dict)
    inprocess: dict[str, Any] | None = None


class CapacityProbe(_Strict):
    """One probe of a capacity search: a window measured at one load, and what the search made of it."""

    load: float  # arrivals per second (mode "rate") or users / callers (mode "users")
    decision: Literal["meets", "misses", "vetoed"]  # vetoed: the generator itself could not offer this load
    why: str  # what decided it, in words
    cell_id: str | None = None  # the window's record (kind load, server or engine) in the same results.jsonl
    verdict: SloVerdict | None = None
    latency_ms: float | None = None  # the SLO's percentile (or max) in this window
    p50_ms: float | None = None  # the window's median: the latency curve and its knee
    goodput_rps: float | None = None
    offered_per_s: float | None = None
    completed_per_s: float | None = None
    requests: int | None = None
    saturated: bool = False
    role: Literal["search", "curve"] = "search"  # curve: measured after the search, below the capacity, for the curve


class TuningTrial(_Strict):
    """Which trial of a tuning study (infermeter tune) a capacity search was, with the settings it tried."""

    study: str  # the Optuna study's name (its storage: tune.db in the same OUT)
    number: int  # the Optuna trial number
    # default: the settings given (or the framework's own), measured first; confirm: trial `number` measured
    # again after the study (the defaults and the best, alternating)
    role: Literal["default", "trial", "confirm"]
    params: dict[str, Any]  # what the sampler chose (empty for the defaults)
    settings: dict[str, Any]  # the engine's or server's settings they amount to
    callers: int | None = None  # in process: threads serving the arrivals
    cores: float  # cores the setting reserves (what the cost objective pays for)
    objective: Literal["throughput", "p99", "cost"] = "throughput"  # what the study optimised (tuning/objective.py)
    traffic: float | None = None  # objective p99: the rate a setting had to serve within the SLO
    price_per_core_hour: float | None = None  # objective cost


class CapacityResult(_Record):
    """A capacity search's answer (capacity/search.py): the highest load that met the SLO, the lowest above
    it that did not, why the search stopped, the knee of the latency curve and every probe. Its cell names
    the target, the SLO, the mode and the search's settings; cell_id hashes them."""

    kind: Literal["capacity"] = "capacity"
    status: Literal["ok", "failed"]
    mode: Literal["rate", "users"]
    slo: str
    capacity: float | None = None  # None: no load probed met the SLO
    upper: float | None = None  # the lowest load above `capacity` that did not (None: none found)
    resolution: float  # relative width the bisection stopped at (users: a step of one)
    stopped: Literal["resolution", "no load meets it", "too few requests", "generator limit", "ceiling", "probe limit", "pruned", "failed"]
    knee: float | None = None  # the highest rate probed whose median stayed within twice the unloaded one
    unloaded_ms: float | None = None  # the SLO's percentile at one user
    unloaded_p50_ms: float | None = None  # the median at one user: the knee's reference
    probes: list[CapacityProbe] = Field(default_factory=list)
    tuning: TuningTrial | None = None  # set when the search was a trial of `infermeter tune`

    @property
    def workload(self) -> str | None:
        w = self.cell.get("workload")
        return None if w is None else str(w)

    @property
    def in_process(self) -> bool:
        return "engine" in self.cell

    @property
    def target(self) -> str:
        """What was searched: the cell's label, or an HTTP endpoint's (redacted) URL."""
        return str(self.cell.get("label") or self.cell.get("target") or self.cell_id)

    @property
    def callers(self) -> int | None:
        """In process: the threads serving the arrivals (a tuning trial's own count first)."""
        if self.tuning is not None and self.tuning.callers is not None:
            return self.tuning.callers
        c = self.cell.get("callers")
        return int(c) if isinstance(c, (int, float)) else None


def _tag(value: Any) -> str:
    get = value.get if isinstance(value, dict) else lambda k, d=None: getattr(value, k, d)
    if get("kind") == "capacity":
        return "capacity"
    if get("repeat") is None:
        return "not-measured"
    return str(get("kind"))


Record = Annotated[
    Union[
        Annotated[EngineWindow, Tag("engine")],
        Annotated[ServerWindow, Tag("server")],
        Annotated[LoadWindow, Tag("load")],
        Annotated[NotMeasured, Tag("not-measured")],
        Annotated[CapacityResult, Tag("capacity")],
    ],
    Discriminator(_tag),
]
# What the store's read() returns: measurement records. Capacity answers are read apart (store.capacity()).
AnyRecord = Union[EngineWindow, ServerWindow, LoadWindow, NotMeasured]
StoredRecord = Union[EngineWindow, ServerWindow, LoadWindow, NotMeasured, CapacityResult]
_ADAPTER: TypeAdapter[StoredRecord] = TypeAdapter(Record)


def parse_record(data: dict[str, Any] | StoredRecord) -> StoredRecord:
    """Validate one record (of the current schema); raises pydantic.ValidationError."""
    if isinstance(data, BaseModel):
        return data  # type: ignore[return-value]
    return _ADAPTER.validate_python(data)


def to_dict(record: StoredRecord) -> dict[str, Any]:
    return record.model_dump(mode="json")


def current(records: Iterable[AnyRecord]) -> list[AnyRecord]:
    """The records that count: superseded repeats left out."""
    return [r for r in records if not r.superseded]
