"""Cell summaries over repeats: the one place where statistics are made from records.

The run's and the load test's tables, summary.csv, the report's tables and figures, the cost ranking and
`compare` all read these and build no statistic of their own:
- records are grouped by cell, and by results directory when runs from several directories share a cell
  (pooled, a before and an after would be mixed into one mean); the summaries' ids and labels then say
  their directory (" @after");
- latency percentiles come from the merged histograms of a cell's ok repeats, never from averaged
  percentiles; every other figure is a mean over repeats with its 95% t-interval (stats.RepeatStats);
- outlying repeats are reported as a warning, never dropped;
- the sanity verdict is the cell's windows' checks together; repeats that disagree are reported with the
  cause the records measured (results/repeats.py);
- a server cell carries the median over its ok windows of each figure of the serving-overhead
  decomposition (validity/overhead.py);
- a cell whose windows were judged against an SLO carries its goodput over repeats and the verdict of its
  windows pooled (results/slo.py).
Superseded repeats never count: the store leaves them out, and so does `as_records`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Union

import numpy as np
from hdrh.histogram import HdrHistogram

from infermeter.results import histogram, stats
from infermeter.results.migrate import migrate
from infermeter.results.redact import redact_text, redact_url
from infermeter.results.record import (
    AnyRecord, EngineWindow, LoadWindow, NotMeasured, Parity, ServerWindow, SloResult, TargetKind, current, parse_record,
)
from infermeter.results.slo import pool
from infermeter.results.warnings import RecordWarning, classify, warning
from infermeter.results.repeats import explain as explain_disagreement

Window = Union[EngineWindow, ServerWindow, LoadWindow]
NO_STATS = stats.over_repeats([])  # a figure no repeat measured: n = 0, mean nan


def as_records(records: Iterable[AnyRecord | Mapping[str, Any]]) -> list[AnyRecord]:
    """Typed records, superseded repeats left out. A dict (the JSON shape, of any schema version: a test's,
    an old file's) is migrated and validated as the store does on reading."""
    typed = [r if isinstance(r, (EngineWindow, ServerWindow, LoadWindow, NotMeasured)) else parse_record(migrate(dict(r)))
             for r in records]
    return current(typed)


# -- latency from merged histograms --------------------------------------------------------------------

@dataclass(frozen=True)
class Latency:
    """Percentiles, moments and count (ms) of a cell's ok repeats, from their merged histograms."""

    p50: float
    p90: float
    p95: float
    p99: float
    p99_9: float
    mean: float
    std: float
    min: float
    max: float
    count: int

    @classmethod
    def of(cls, h: HdrHistogram) -> Latency:
        s = histogram.summary_ms(h)
        return cls(p50=s["p50"], p90=s["p90"], p95=s["p95"], p99=s["p99"], p99_9=s["p99.9"], mean=s["mean"], std=s["std"],
                   min=s["min"], max=s["max"], count=int(s["count"]))

    def at(self, name: str) -> float:
        """By the records' key: "p50", "p99.9", "mean"."""
        return float(getattr(self, name.replace(".", "_")))

    def as_dict(self) -> dict[str, float]:
        return {f.name.replace("_", "."): getattr(self, f.name) for f in fields(self)}


# -- serving overhead ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Decomposition:
    """Where a server's time goes, per request (ms): the median over a cell's ok windows of each figure
    of their decompositions (validity/overhead.py decompose); None where no window had that figure."""

    windows: int  # ok windows that carried a decomposition
    client_p50_ms: float | None = None
    pipeline_ms: float | None = None  # decode + model + postprocess of one call in process, its p50
    decode_ms: float | None = None
    model_ms: float | None = None
    postprocess_ms: float | None = None
    framework_queue_ms: float | None = None  # the framework's own reported time, where it reports one (means)
    framework_compute_ms: float | None = None
    network_protocol_ms: float | None = None  # client mean minus the framework's reported time
    framework_ms: float | None = None  # reported time minus the pipeline in process (means)
    serving_ms: float | None = None  # client p50 minus pipeline p50
    pre_post_ms: float | None = None
    beyond_model_ms: float | None = None
    client_mean_ms: float | None = None
    serving_floor_ms: float | None = None  # the same from the fastest requests and calls (client min minus pipeline min)
    pre_post_floor_ms: float | None = None
    other_cpu_percent: float | None = None  # % of a core other processes used during the windows
    reference_other_cpu_percent: float | None = None  # ... and during the in-process reference

    @classmethod
    def of(cls, windows: Sequence[Window]) -> Decomposition | None:
        blocks = [w.decomposition for w in windows if isinstance(w, ServerWindow) and w.decomposition]
        if not blocks:
            return None
        medians = {}
        for f in fields(cls)[1:]:
            values = [float(b[f.name]) for b in blocks if isinstance(b.get(f.name), (int, float))]
            medians[f.name] = statistics.median(values) if values else None
        return cls(windows=len(blocks), **medians)


# -- SLO -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SloSummary:
    """A cell's windows against their SLO. Every measured window judged counts, failed ones too (a window
    whose requests all failed is evidence against the SLO, not a repeat to leave out): goodput is a mean
    over them, and `pooled` is their requests judged together (more requests, a firmer verdict)."""

    slo: str
    goodput: stats.RepeatStats  # requests/s (calls/s in process) that met the latency bound
    pooled: SloResult
    windows: int  # windows judged against this SLO
    passed: int  # of them, windows that passed on their own

    @property
    def verdict(self) -> str:
        return self.pooled.verdict

    @classmethod
    def of(cls, records: Iterable[AnyRecord]) -> SloSummary | None:
        judged = [r.slo for r in records if not isinstance(r, NotMeasured) and r.slo is not None]
        pooled = pool(judged)
        if pooled is None:
            return None
        same = [j for j in judged if j.slo == pooled.slo]
        return cls(slo=pooled.slo, goodput=stats.over_repeats([j.goodput_rps for j in same]), pooled=pooled,
                   windows=len(same), passed=sum(j.verdict == "pass" for j in same))


# -- summaries -------------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class GpuSummary:
    """A cell's GPU over its ok repeats, from NVML sampled across each window (collectors/gpu.py); a
    window's devices are summed (memory, power) or averaged (utilisation)."""

    utilization_percent: stats.RepeatStats  # each window's mean over its samples
    memory_peak_mb: float  # the device's peak, max over repeats
    process_memory_peak_mb: float | None  # the measured processes' own peak, max over repeats (None: not given)
    watts: stats.RepeatStats  # each window's mean power
    energy_source: str  # the energy counter, or sampled power x time

    @classmethod
    def of(cls, ok: Sequence[Window]) -> GpuSummary | None:
        blocks = [g for w in ok if w.metrics.energy is not None and (g := w.metrics.energy.gpu) and g["source"] == "nvml" and g["devices"]]
        if not blocks:
            return None
        own = [[d["process_memory_peak_mb"] for d in b["devices"] if d["process_memory_peak_mb"] is not None] for b in blocks]
        return cls(utilization_percent=stats.over_repeats([b["utilization_percent"] for b in blocks]),
                   memory_peak_mb=max(b["memory_mb"] for b in blocks),
                   process_memory_peak_mb=_max(sum(mb) if mb else None for mb in own),
                   watts=stats.over_repeats([b["watts"] for b in blocks]),
                   energy_source=", ".join(dict.fromkeys(d["energy_source"] for b in blocks for d in b["devices"])))

@dataclass(frozen=True, kw_only=True)
class CellSummary:
    """What every kind of cell has. A cell with no ok repeat (skipped, failed) has status and error, and no
    figures: latency and histogram None, every RepeatStats empty (n = 0)."""

    cell_id: str  # the records' id, plus the directory's tag when several directories share cells
    kind: TargetKind
    label: str  # "workload on target" (an endpoint: its label or URL)
    workload: str | None
    scenario: str | None
    status: str  # "ok" when at least one repeat is; else the last record's status
    error: str | None
    repeats: int  # ok repeats
    warnings: tuple[RecordWarning, ...] = ()
    source: str | None = None  # the results directory, when the records were read with one
    records: tuple[AnyRecord, ...] = field(default=(), repr=False, compare=False)  # every current record of the cell
    latency: Latency | None = None
    histogram: HdrHistogram | None = field(default=None, repr=False, compare=False)
    sanity: str = "-"  # ok / warn over the cell's windows, "-" when none was checked
    energy_per_1000: stats.RepeatStats = NO_STATS
    energy_source: str = "n/a"
    throughput: stats.RepeatStats = NO_STATS  # samples/s in process, requests/s against a server
    mean_ms: stats.RepeatStats = NO_STATS  # each window's mean latency, over repeats (the studies' tables give means)
    slo: SloSummary | None = None  # where the windows were judged against an SLO
    gpu: GpuSummary | None = None  # where the windows ran with NVML figures

    @property
    def measured(self) -> bool:
        return self.status == "ok"

    @property
    def windows(self) -> list[Window]:
        """The ok repeats."""
        return _ok(self.records)

    def quantiles_ms(self, percentiles: Iterable[float]) -> dict[float, float]:
        """Latency (ms) at each percentile (0-100) of the merged histogram; {} without one."""
        if self.histogram is None:
            return {}
        return {p: v / 1000.0 for p, v in histogram.values_at_percentiles(self.histogram, percentiles).items()}

    def per_repeat(self, metric: str) -> list[float]:
        """One value per ok repeat: "throughput" or a latency key of each window ("p50", "mean"); missing
        values left out."""
        out = []
        for w in self.windows:
            m = w.metrics
            v = _throughput(m) if metric == "throughput" else m.latency_ms.get(metric)
            if v is not None and not math.isnan(v):
                out.append(float(v))
        return out


@dataclass(frozen=True, kw_only=True)
class EngineCellSummary(CellSummary):
    engine: str  # the engine's label (with its settings)
    batch_size: int | None = None
    concurrency: int | None = None
    rate: float | None = None  # open-loop cells: arrivals per second (the cell's)
    p50: stats.RepeatStats = NO_STATS  # of the repeats' own p50s (their spread; the percentile is latency.p50)
    cpu: stats.RepeatStats = NO_STATS
    load_s: float | None = None
    load_cached_s: float | None = None
    first_inference_s: float | None = None
    convert_s: float | None = None
    artifact_mb: float | None = None
    peak_rss_mb: float | None = None  # max over repeats
    peak_rss_delta_mb: float | None = None
    parity: Parity = field(default_factory=Parity)
    # open-loop cells: the arrivals offered per second (mean over repeats; `throughput` is the completed
    # rate), the largest backlog at a schedule's end, the arrivals never started (summed), the issue lag
    # from the merged histograms
    offered_per_s: stats.RepeatStats = NO_STATS
    backlog: int | None = None
    unsent: int | None = None
    issue_lag: Latency | None = None

    @property
    def point(self) -> str:
        """The scenario point: "b=1 c=1", with the rate for an open-loop cell."""
        return f"b={self.batch_size} c={self.concurrency}" + (f" r={self.rate:g}/s" if self.rate is not None else "")


@dataclass(frozen=True, kw_only=True)
class LoadCellSummary(CellSummary):
    """A server's load point (kind "server") or an endpoint's (kind "load")."""

    server: str | None = None  # the framework's label; None for an endpoint
    target: str | None = None  # the endpoint's URL
    users: int | None = None
    rate: float | None = None
    cold_start_s: float | None = None
    failures_per_s: stats.RepeatStats = NO_STATS
    failure_rate: stats.RepeatStats = NO_STATS
    generator_cpu: float | None = None  # busiest generator process, max over repeats (fraction of a core)
    outcomes: Mapping[str, int] = field(default_factory=dict)  # summed over repeats
    queue_ms: stats.RepeatStats = NO_STATS  # the framework's own figures, where it reports them
    inference_ms: stats.RepeatStats = NO_STATS
    server_cpu: stats.RepeatStats = NO_STATS
    server_rss_mb: float | None = None
    client_cpu: stats.RepeatStats = NO_STATS
    client_rss_mb: float | None = None
    system_cpu: stats.RepeatStats = NO_STATS
    cost_per_million: stats.RepeatStats = NO_STATS
    currency: str | None = None
    decomposition: Decomposition | None = None


AnySummary = Union[EngineCellSummary, LoadCellSummary]


# -- grouping --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CellGroup:
    """A cell's current records (file order), from one results directory where several share the cell."""

    cell_id: str  # the records' id, plus `tag`
    tag: str  # "" or " @<directory>"
    records: tuple[AnyRecord, ...]

    @property
    def windows(self) -> list[Window]:
        return _ok(self.records)


def _ok(records: Iterable[AnyRecord]) -> list[Window]:
    return [r for r in records if not isinstance(r, NotMeasured) and r.status == "ok" and r.metrics is not None]


def _source_tags(records: Sequence[AnyRecord]) -> dict[str | None, str]:
    """source -> its tag, when results from several directories share a cell; {} otherwise."""
    seen: dict[str, set[str | None]] = {}
    for r in records:
        seen.setdefault(r.cell_id, set()).add(r.source)
    if all(len(s) <= 1 for s in seen.values()):
        return {}
    sources = list(dict.fromkeys(r.source for r in records))
    names = [Path(str(s)).name for s in sources]
    # Two directories of one name (a/run, b/run) are told apart by their whole path.
    return {s: f" @{n if names.count(n) == 1 else s}" for s, n in zip(sources, names)}


def group_cells(records: Iterable[AnyRecord | Mapping[str, Any]], kind: TargetKind | None = None) -> list[CellGroup]:
    """The cells of `records` (of one kind, or all), in order of first appearance."""
    recs = as_records(records)
    tags = _source_tags(recs)
    groups: dict[tuple[str, str | None], list[AnyRecord]] = {}
    for r in recs:
        if kind is None or r.kind == kind:
            groups.setdefault((r.cell_id, r.source if tags else None), []).append(r)
    return [CellGroup(cid + tags.get(src, ""), tags.get(src, ""), tuple(rs)) for (cid, src), rs in groups.items()]


# -- building --------------------------------------------------------------------------------------------

def summarise(records: Iterable[AnyRecord | Mapping[str, Any]]) -> list[AnySummary]:
    """Every cell, whatever its kind, in order of first appearance."""
    return [_engine(g) if g.records[-1].kind == "engine" else _load(g) for g in group_cells(records)]


def summarise_engines(records: Iterable[AnyRecord | Mapping[str, Any]]) -> list[EngineCellSummary]:
    return [_engine(g) for g in group_cells(records, "engine")]


def summarise_loads(records: Iterable[AnyRecord | Mapping[str, Any]], kind: TargetKind = "load") -> list[LoadCellSummary]:
    """Server cells (kind "server") or endpoint load points (kind "load")."""
    return [_load(g) for g in group_cells(records, kind)]


def distinct_warnings(records: Iterable[AnyRecord]) -> list[RecordWarning]:
    """Every distinct warning of a cell's records, in first-seen order."""
    return list(dict.fromkeys(w for r in records for w in r.warnings))


def _throughput(m: Any) -> float | None:
    v = getattr(m, "throughput_rps", None)
    return v if v is not None else getattr(m, "samples_per_s", None)


def _max(values: Iterable[float | None]) -> float | None:
    seen = [v for v in values if v is not None]
    return max(seen) if seen else None


def _energy(ok: Sequence[Window]) -> dict[str, Any]:
    """Joules per 1,000 inferences over repeats, and where the figure comes from (rapl, estimate, n/a)."""
    blocks = [w.metrics.energy for w in ok if w.metrics.energy is not None]
    return {"energy_per_1000": stats.over_repeats([b.joules_per_1000 for b in blocks]),
            "energy_source": next((b.source for b in blocks if b.source), "n/a")}


def _varies(cv: float) -> str:
    """How far repeats are apart, against the bound, in digits that show it is past the bound ("10.4% (> 10%)",
    never "10% (> 10%)")."""
    bound = f"{stats.UNSTABLE_CV:.0%}"
    shown = f"{cv:.0%}"
    return f"{cv:.1%} (> {bound})" if shown == bound else f"{shown} (> {bound})"


def _outliers(ok: Sequence[Window], values: list[float | None], name: str) -> list[RecordWarning]:
    found = stats.outliers(values)
    if not found:
        return []
    median = float(np.median([v for v in values if v is not None]))
    listed = ", ".join(f"repeat {ok[i].repeat + 1}: {values[i]:.4g}" for i in found)
    return [warning("outlying-repeats", f"outlying repeats (kept in every figure): {listed} against a median of {median:.4g} {name}",
                    applies_to="cell")]


def _checks(record: Any) -> list[dict[str, Any]]:
    """A record's sanity checks as dicts; `record` is typed (results/record.py) or its JSON shape."""
    block = record.get("sanity") if isinstance(record, dict) else getattr(record, "sanity", None)
    if block is None:
        return []
    return list(block.get("checks", [])) if isinstance(block, dict) else [c.model_dump() for c in block.checks]


def cell_sanity(records: list[Any]) -> tuple[str, list[str]]:
    """(verdict, distinct failed checks) over a cell's records (typed or dicts): the verdicts stored with
    each window (validity/sanity.py) read together. The per-window sample count is left out here: a cell's
    percentiles come from all its windows merged, and the table marks a p99 that the merged count does not
    support."""
    failed: list[str] = []
    seen = False
    for r in records:
        for c in _checks(r):
            seen = True
            line = f"{c['check']}: {c['detail']}"
            if not c["ok"] and not c["check"].startswith("samples for") and line not in failed:
                failed.append(line)
    return ("warn" if failed else "ok") if seen else "-", failed


def _sanity(ok: Sequence[Window]) -> tuple[str, list[RecordWarning]]:
    verdict, failed = cell_sanity(list(ok))
    # Generator CPU and send lag already have their own warning, with the remedy.
    return verdict, [classify(f"sanity: {line}") for line in failed if not line.startswith(("generator CPU", "schedule kept"))]


def _common(g: CellGroup, kind: TargetKind, label: str, workload: str | None) -> dict[str, Any]:
    last, ok = g.records[-1], g.windows
    base: dict[str, Any] = dict(
        cell_id=g.cell_id, kind=kind, label=label, workload=workload, scenario=last.cell.get("scenario"),
        status="ok" if ok else last.status, error=last.error, repeats=len(ok), source=last.source, records=g.records,
        slo=SloSummary.of(g.records),
    )
    if ok:
        merged = histogram.merge(w.metrics.latency_hdr for w in ok if w.metrics.latency_hdr)
        if merged.get_total_count():
            base.update(latency=Latency.of(merged), histogram=merged)
        base.update(_energy(ok), mean_ms=stats.over_repeats([w.metrics.latency_ms.get("mean") for w in ok]), gpu=GpuSummary.of(ok))
    return base


def _engine(g: CellGroup) -> EngineCellSummary:
    last, ok = g.records[-1], g.windows
    cell = last.cell
    engine_info = getattr(last, "engine", None)
    engine = f"{(engine_info.label if engine_info else None) or cell.get('engine')}{g.tag}"
    workload = cell.get("workload")
    base = _common(g, "engine", f"{workload} on {engine}", workload)
    base.update(engine=engine, batch_size=cell.get("batch_size"), concurrency=cell.get("concurrency"), rate=cell.get("rate"))
    warnings = distinct_warnings(g.records)
    if not ok:
        return EngineCellSummary(warnings=tuple(warnings), **base)
    m0 = ok[0].metrics
    per_repeat = {"p50": [w.metrics.latency_ms.get("p50") for w in ok], "throughput": [w.metrics.samples_per_s for w in ok]}
    figures = dict(
        p50=stats.over_repeats(per_repeat["p50"]),
        throughput=stats.over_repeats(per_repeat["throughput"]),
        cpu=stats.over_repeats([w.metrics.cpu_percent for w in ok]),
        load_s=m0.load_s, load_cached_s=m0.load_cached_s, first_inference_s=m0.first_inference_s, convert_s=m0.convert_s,
        artifact_mb=(m0.artifact_bytes or 0) / 1e6,
        peak_rss_mb=_max(w.metrics.peak_rss_mb for w in ok),
        peak_rss_delta_mb=_max(w.metrics.peak_rss_delta_mb for w in ok),
        parity=ok[0].parity or Parity(),
    )
    if base["rate"] is not None:
        figures.update(_open_loop(ok))
    verdict, failed = _sanity(ok)
    warnings += failed
    warnings += _outliers(ok, per_repeat["throughput"], "samples_per_s")
    for name, unit in (("p50", "ms"), ("throughput", "samples/s")):
        s: stats.RepeatStats = figures[name]
        if s.unstable:
            cause, remedy = explain_disagreement(ok, per_repeat[name], name, unit)
            warnings.append(warning("repeats-disagree", f"repeats disagree: {name} varies {_varies(s.cv)}{cause}",
                                    remedy, applies_to="cell"))
    return EngineCellSummary(warnings=tuple(warnings), sanity=verdict, **base, **figures)


def _open_loop(ok: Sequence[Window]) -> dict[str, Any]:
    """An open-loop engine cell's saturation evidence over its ok repeats."""
    metrics = [w.metrics for w in ok if isinstance(w, EngineWindow)]
    lags = histogram.merge(m.issue_lag_hdr for m in metrics if m.issue_lag_hdr)
    return dict(
        offered_per_s=stats.over_repeats([m.offered_per_s for m in metrics]),
        backlog=max((m.backlog for m in metrics if m.backlog is not None), default=None),
        unsent=sum(m.unsent or 0 for m in metrics),
        issue_lag=Latency.of(lags) if lags.get_total_count() else None,
    )


def _sum_outcomes(ok: Sequence[Window]) -> dict[str, int]:
    total: dict[str, int] = {}
    for w in ok:
        for k, v in getattr(w.metrics, "outcomes", {}).items():
            total[k] = total.get(k, 0) + v
    return total


def _load(g: CellGroup) -> LoadCellSummary:
    last, ok = g.records[-1], g.windows
    cell = last.cell
    kind: TargetKind = "server" if last.kind == "server" else "load"
    server = None
    if kind == "server":
        server_info = getattr(last, "server", None)
        server = f"{(server_info.label if server_info else None) or cell.get('server')}{g.tag}"
        workload = cell.get("workload")
        label = f"{workload} on {server}"
    else:
        workload = None
        label = redact_text(f"{cell.get('label') or cell.get('target')}{g.tag}")
    base = _common(g, kind, label, workload)
    shown = redact_url(str(cell["target"])) if cell.get("target") else None  # a record stored before URLs were redacted
    base.update(server=server, target=shown, users=cell.get("users"), rate=cell.get("rate"))
    warnings = distinct_warnings(g.records)
    if not ok:
        return LoadCellSummary(warnings=tuple(warnings), **base)
    servers = [w for w in ok if isinstance(w, ServerWindow)]
    costs = [w.cost for w in servers if w.cost is not None]
    thr = [w.metrics.throughput_rps for w in ok]
    figures = dict(
        throughput=stats.over_repeats(thr),
        cold_start_s=servers[0].deployment.get("cold_start_s") if servers else None,
        failures_per_s=stats.over_repeats([w.metrics.failures_per_s for w in ok]),
        failure_rate=stats.over_repeats([w.metrics.failure_rate for w in ok]),
        generator_cpu=_max(w.metrics.generator_cpu_max for w in ok),
        outcomes=_sum_outcomes(ok),
        queue_ms=stats.over_repeats([w.metrics.queue_ms_mean for w in ok]),
        inference_ms=stats.over_repeats([w.metrics.inference_ms_mean for w in ok]),
        server_cpu=stats.over_repeats([w.metrics.server_cpu_percent for w in ok]),
        server_rss_mb=_max(w.metrics.server_rss_mb for w in ok),
        client_cpu=stats.over_repeats([w.metrics.client_cpu_percent for w in ok]),
        client_rss_mb=_max(w.metrics.client_rss_mb for w in ok),
        system_cpu=stats.over_repeats([w.metrics.system_cpu_percent for w in ok]),
        cost_per_million=stats.over_repeats([c.per_million_requests for c in costs]),
        currency=costs[0].currency if costs else None,
        decomposition=Decomposition.of(ok),
    )
    verdict, failed = _sanity(ok)
    warnings += failed
    warnings += _outliers(ok, thr, "throughput_rps")
    if figures["throughput"].unstable:
        warnings.append(warning(
            "repeats-disagree", f"repeats disagree: throughput varies {_varies(figures['throughput'].cv)}",
            "lengthen the windows (--duration, or load.min_seconds in a suite) or quiet the machine", applies_to="cell",
        ))
    return LoadCellSummary(warnings=tuple(warnings), sanity=verdict, **base, **figures)
