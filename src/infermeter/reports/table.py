"""The tables of a run, a load test and a report, drawn from cell summaries (results/summary.py): one
row per cell. Renderers only: every figure here was computed by the summary layer."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from rich.table import Table

from infermeter.reports.grid import Grid, Mark, to_rich
from infermeter.results import stats
from infermeter.results.summary import CellSummary, EngineCellSummary, LoadCellSummary, SloSummary

S = TypeVar("S", bound=CellSummary)


ENERGY_NOTE = ("J/1k: joules per 1,000 inferences; 'est' = estimated from CPU time x energy.cpu_watts_per_core "
               "(no readable RAPL counters), not measured")


def fmt(v: float | None, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}f}"


def ms_digits(v: float | None) -> int:
    """Decimals that keep three significant digits of a latency in ms (0.0123, 0.210, 2.23, 110), at most 4."""
    if v is None or not math.isfinite(v) or v <= 0:
        return 2
    return min(4, max(0, 2 - math.floor(math.log10(v))))


def ms(v: float | None) -> str:
    return fmt(v, ms_digits(v))


def pm(s: stats.RepeatStats, digits: int = 2) -> str:
    if s.n == 0:
        return "-"
    if s.n == 1 or math.isnan(s.ci95):
        return fmt(s.mean, digits)
    return f"{fmt(s.mean, digits)} ±{fmt(s.ci95, digits)}"


def energy_cell(r: CellSummary) -> str:
    e = r.energy_per_1000
    if e.n == 0:
        return "n/a"
    return fmt(e.mean, 3) + (" est" if r.energy_source == "estimate" else "")


def slo_verdict(s: SloSummary) -> str:
    """A cell's SLO verdict as a table shows it: "too few samples" says how many requests a verdict needs."""
    if s.verdict == "too few samples":
        needed = [c.needed for c in s.pooled.checks if c.verdict != "pass" and c.needed]
        return f"too few (needs {max(needed)})" if needed else "too few"
    return s.verdict


_SLO_MARK = {"fail": "bad", "not proven": "warn", "too few samples": "warn"}


def slo_columns(rows: Iterable[CellSummary]) -> bool:
    """Whether a table of `rows` shows goodput and the SLO verdict: when some cell was judged against one."""
    return any(r.slo is not None for r in rows)


def slo_cells(r: CellSummary) -> tuple[list[str], Mark | None]:
    """(goodput, verdict) cells of a row, and the verdict cell's mark."""
    if r.slo is None:
        return ["-", "-"], None
    return [pm(r.slo.goodput, 1), slo_verdict(r.slo)], _SLO_MARK.get(r.slo.verdict)


def slo_caption(rows: Iterable[CellSummary], per: str) -> str:
    """What the goodput and SLO columns mean, for each SLO the rows were judged against."""
    judged = {r.slo.slo: r.slo.pooled for r in rows if r.slo is not None}
    if not judged:
        return ""
    stated = "; ".join(f"{text} at {100 * p.confidence:.4g}% confidence" for text, p in judged.items())
    return (f" SLO {stated}: goodput = {per} that completed OK within the latency bound (mean over repeats); the verdict is "
            "every window's requests pooled, a one-sided binomial bound on the share past each bound (MLPerf's early-stopping "
            "rule): pass, fail, not proven, or too few requests for any verdict.")


def measured(rows: Iterable[S]) -> list[S]:
    """The cells that have figures to show (an ok repeat, and latencies)."""
    return [r for r in rows if r.measured and r.latency is not None]


OPEN_LOOP_NOTE = ("open-loop: Poisson arrivals at rate/s served in order by conc callers; latency from each arrival's scheduled "
                  "time; samples/s is the completed rate; backlog: arrivals still waiting when the schedule ended (largest over repeats)")


def engine_grid(rows: list[EngineCellSummary], title: str = "infermeter results") -> Grid:
    """Measured cells only; `not_measured` lists the others with their reasons. Open-loop cells add their
    rate and backlog (columns shown only when there is one)."""
    shown = measured(rows)
    with_slo = slo_columns(shown)
    open_loop = any(r.rate is not None for r in shown)
    cols = ["workload", "engine", "scenario", "batch", "conc", *(["rate/s"] if open_loop else []), "p50 ms", "p99 ms", "samples/s",
            *(["backlog"] if open_loop else []), *(["goodput/s", "SLO"] if with_slo else []), "load s", "1st inf s",
            "peak MB", "CPU %", "J/1k inf", "agree / max|diff|", "sanity"]
    g = Grid(title, cols, left=3)
    p99_floor = stats.min_samples_for(99)
    for r in shown:
        p = r.parity
        parity, marks = "-", {}
        if p.max_abs_diff is not None:
            parity = f"{fmt(p.agreement, 3)} / {p.max_abs_diff:.1e}" + (f" ({p.precision})" if p.precision not in (None, "fp32") else "")
        elif p.verdict == "mismatch":  # nothing to subtract: the shapes differ (the note says how)
            parity = "shape"
        if p.verdict == "mismatch":
            parity, marks[g.columns.index("agree / max|diff|")] = f"MISMATCH {parity}", "bad"
        if r.sanity == "warn":
            marks[g.columns.index("sanity")] = "warn"
        if any(w.code == "open-loop-saturated" for w in r.warnings):  # a repeat did not keep up with the rate
            marks[g.columns.index("backlog")] = "warn"
        p99 = ms(r.latency.p99) + ("*" if r.latency.count < p99_floor else "")
        judged: list[str] = []
        if with_slo:
            judged, mark = slo_cells(r)
            if mark:
                marks[g.columns.index("SLO")] = mark
        g.add([
            str(r.workload), r.engine, str(r.scenario), str(r.batch_size), str(r.concurrency),
            *([f"{r.rate:g}" if r.rate is not None else "-"] if open_loop else []),
            pm(r.p50, ms_digits(r.p50.mean)), p99, pm(r.throughput, 1),
            *([str(r.backlog) if r.backlog is not None else "-"] if open_loop else []),
            *judged, fmt(r.load_s), fmt(r.first_inference_s), fmt(r.peak_rss_mb, 0), fmt(r.cpu.mean, 0), energy_cell(r), parity, r.sanity,
        ], marks)
    if any(r.latency is not None and r.latency.count < p99_floor for r in shown):
        g.caption = f"* p99 from fewer than {p99_floor} samples: a rough figure; raise min_iterations for a firm one. ± is a 95% interval over repeats."
    else:
        g.caption = "± is a 95% confidence interval over repeats."
    if open_loop:
        g.caption += f" {OPEN_LOOP_NOTE}."
    g.caption += slo_caption(shown, "calls/s") + f" {ENERGY_NOTE}"
    return g


def comparison_table(rows: list[EngineCellSummary], title: str = "infermeter results") -> Table:
    return to_rich(engine_grid(rows, title))


def point(r: CellSummary) -> str:
    """An engine cell's batch, or a load point's users or offered rate."""
    if isinstance(r, LoadCellSummary):
        return f"users {r.users}" if r.users is not None else f"rate {r.rate}/s"
    rate = getattr(r, "rate", None)
    return f"batch {getattr(r, 'batch_size', None)}" + (f", rate {rate:g}/s" if rate is not None else "")


def not_measured(rows: list[CellSummary]) -> list[str]:
    """One line per skipped or failed cell, with its reason."""
    return [f"{r.status}: {r.label} ({r.scenario}, {point(r)}): {r.error or ''}" for r in rows if not r.measured]


SUMMARY_COLUMNS = [
    "cell_id", "workload", "engine", "scenario", "batch_size", "concurrency", "rate", "status", "repeats",
    "p50_ms_mean", "p50_ms_ci95", "p50_ms_min", "p50_ms_max",
    "samples_per_s_mean", "samples_per_s_ci95", "samples_per_s_min", "samples_per_s_max",
    "merged_p50_ms", "merged_p90_ms", "merged_p99_ms", "merged_p99.9_ms", "merged_max_ms", "merged_count",
    "cpu_percent_mean", "load_s", "load_cached_s", "first_inference_s", "convert_s", "artifact_mb",
    "peak_rss_mb", "peak_rss_delta_mb", "energy_j_per_1000_mean", "energy_source", "parity_agreement", "parity_max_abs_diff",
    "slo", "slo_verdict", "goodput_per_s_mean", "error", "warnings",
]
_AS_THEY_ARE = ("cell_id", "workload", "engine", "scenario", "batch_size", "concurrency", "rate", "status", "repeats", "error",
                "load_s", "load_cached_s", "first_inference_s", "convert_s", "artifact_mb", "peak_rss_mb", "peak_rss_delta_mb",
                "energy_source")


def write_summary_csv(rows: list[EngineCellSummary], path: Path | str) -> None:
    """One row per engine cell: statistics over repeats and percentiles from the merged histograms. Written
    atomically (a kill leaves the old file or the new one) and never through a link."""
    import io

    from infermeter.results.files import replace_atomically

    with io.StringIO(newline="") as f:
        w = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
        w.writeheader()
        for r in rows:
            out = {k: getattr(r, k) for k in _AS_THEY_ARE}
            out["warnings"] = " | ".join(x.text for x in r.warnings)
            if r.slo is not None:
                out.update(slo=r.slo.slo, slo_verdict=r.slo.verdict, goodput_per_s_mean=r.slo.goodput.mean)
            if r.measured:
                for name, s in (("p50_ms", r.p50), ("samples_per_s", r.throughput)):
                    out.update({f"{name}_mean": s.mean, f"{name}_ci95": s.ci95, f"{name}_min": s.min, f"{name}_max": s.max})
                if r.latency is not None:
                    out.update({f"merged_{k}_ms": r.latency.at(k) for k in ("p50", "p90", "p99", "p99.9", "max")})
                    out["merged_count"] = r.latency.count
                out.update(cpu_percent_mean=r.cpu.mean, energy_j_per_1000_mean=r.energy_per_1000.mean,
                           parity_agreement=r.parity.agreement, parity_max_abs_diff=r.parity.max_abs_diff)
            else:
                out["energy_source"] = None
            w.writerow(out)
        replace_atomically(Path(path), f.getvalue())


def _users(r: LoadCellSummary) -> str:
    return str(r.users or "-")


def _rate(r: LoadCellSummary) -> str:
    return fmt(r.rate, 0) if r.rate else "-"


def load_grid(rows: list[LoadCellSummary], title: str = "load test", server: bool = False) -> Grid:
    """Throughput, latency and failures per load point (servers: with their queue and inference time)."""
    with_slo = slo_columns(rows)
    cols = ["target", "scenario", "users", "rate/s", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
            *(["goodput/s", "SLO"] if with_slo else []), "fail/s", "fail %", "outcomes", "gen CPU", "sanity"]
    if server:
        cols += ["queue ms", "infer ms"]
    g = Grid(title, cols, left=2)
    for r in rows:
        base = [r.label, str(r.scenario), _users(r), _rate(r)]
        lat = r.latency
        if not r.measured or lat is None:
            g.add([*base, r.status, (r.error or "")[:60], *[""] * (len(cols) - 6)], {cols.index("req/s"): "warn"})
            continue
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(r.outcomes.items()))
        extra = [fmt(r.queue_ms.mean), fmt(r.inference_ms.mean)] if server else []
        marks: dict[int, Mark] = {cols.index("sanity"): "warn"} if r.sanity == "warn" else {}
        judged: list[str] = []
        if with_slo:
            judged, mark = slo_cells(r)
            if mark:
                marks[cols.index("SLO")] = mark
        g.add([
            *base, pm(r.throughput, 1), ms(lat.p50), ms(lat.p90), ms(lat.p99), ms(lat.max), *judged,
            fmt(r.failures_per_s.mean), fmt(100 * r.failure_rate.mean, 1), outcomes[:60],
            "-" if r.generator_cpu is None else f"{r.generator_cpu:.0%}", r.sanity, *extra,
        ], marks)
    g.caption = "latency percentiles from all repeats' merged histograms; ± is a 95% interval over repeats." + slo_caption(rows, "requests/s")
    return g


def load_table(rows: list[LoadCellSummary], title: str = "load test", server: bool = False) -> Table:
    return to_rich(load_grid(rows, title, server))


def resources_grid(rows: list[LoadCellSummary], title: str = "resources") -> Grid:
    """What each server load point cost: the server's and the client's CPU and memory, energy, money."""
    currency = next((r.currency for r in rows if r.currency), None)
    cols = ["target", "users", "rate/s", "srv CPU %", "srv MB", "client CPU %", "client MB", "system CPU %", "J/1k req"]
    if currency:
        cols.append(f"{currency}/1M req")
    g = Grid(title, cols)
    for r in rows:
        if not r.measured:
            continue
        cells = [r.label, _users(r), _rate(r), fmt(r.server_cpu.mean, 0), fmt(r.server_rss_mb, 0), fmt(r.client_cpu.mean, 0),
                 fmt(r.client_rss_mb, 0), fmt(r.system_cpu.mean, 0), energy_cell(r)]
        if currency:
            cells.append(fmt(r.cost_per_million.mean, 3))
        g.add(cells)
    g.caption = (f"CPU % of one core (server: its whole process tree; system: every process on the machine, "
                 f"so 100 x cores at most); MB resident. {ENERGY_NOTE}")
    return g


def cost_grid(rows: list[LoadCellSummary]) -> Grid | None:
    """The serving-cost question: per workload, frameworks ranked by what a million requests cost at each one's
    cheapest load point. None without a price (the suite's cost.price_per_hour)."""
    from infermeter.results.cost import cheapest_points

    ranked = cheapest_points(rows)
    if not ranked:
        return None
    g = Grid("cost per million requests, cheapest first", ["workload", "rank", "framework", "cost", "at"], left=3,
             caption="the machine's price per hour (suite cost.price_per_hour) over the requests it answered per hour, mean "
             "over repeats, at each framework's cheapest load point: the cost of the machine kept busy there")
    for workload, points in ranked.items():
        for i, c in enumerate(points):
            g.add([workload, str(i + 1), c.server, f"{c.per_million:.4f} {c.currency}", c.point])
    return g


def resources_table(rows: list[LoadCellSummary], title: str = "resources") -> Table:
    return to_rich(resources_grid(rows, title))


# (heading, Decomposition field)
OVERHEAD_COLUMNS = [
    ("client p50", "client_p50_ms"), ("pipeline p50", "pipeline_ms"), ("decode", "decode_ms"), ("model", "model_ms"),
    ("post", "postprocess_ms"), ("fw queue", "framework_queue_ms"), ("fw compute", "framework_compute_ms"),
    ("net + proto", "network_protocol_ms"), ("framework", "framework_ms"), ("serving", "serving_ms"),
]
OVERHEAD_NOTE = (
    "ms per request, median over each cell's windows. pipeline: the deployment's own decode + model + postprocess, "
    "timed in process on the same payloads just before the server started (its p50; decode, model, post: each stage's p50). "
    "fw queue / compute: the framework's own reported time (means), where it reports one. net + proto: client mean minus "
    "the framework's time; framework: the framework's time minus the pipeline in process (means). serving: client p50 minus "
    "pipeline p50, i.e. network, protocol and framework together. -: not measured or not reported."
)


def overhead_grid(rows: list[LoadCellSummary], title: str = "where a server's time goes at one user") -> Grid | None:
    """Per workload and server at one virtual user: client latency set against the pipeline in process."""
    shown = [r for r in rows if r.measured and r.users == 1 and r.decomposition is not None]
    if not shown:
        return None
    g = Grid(title, ["workload", "server", *(h for h, _ in OVERHEAD_COLUMNS)], caption=OVERHEAD_NOTE, left=2)
    for r in sorted(shown, key=lambda r: str(r.workload)):
        d = r.decomposition
        g.add([str(r.workload), str(r.server), *(ms(getattr(d, key)) for _, key in OVERHEAD_COLUMNS)])
    return g
