"""What a report says, before it is drawn: sections of tables and figures, every warning with its remedy,
the environment and settings. report.md and report.html both render one `Report`. Its figures come from
the cell summaries (results/summary.py) and the environment's from results/environment.py."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from infermeter.reports import figures as F
from infermeter.reports.figure_data import Figure
from infermeter.reports.grid import Grid
from infermeter.reports.pivots import engine_pivots, server_pivots
from infermeter.reports.remedies import Advice, advise
from infermeter.reports.table import ENERGY_NOTE, cost_grid, engine_grid, fmt, load_grid, overhead_grid, resources_grid
from infermeter.results import stats
from infermeter.results.environment import WorkloadInfo, environment_of
from infermeter.results.record import AnyRecord, CapacityResult, NotMeasured, ServerWindow
from infermeter.results.summary import CellSummary, EngineCellSummary, LoadCellSummary, summarise_engines, summarise_loads


@dataclass
class Section:
    title: str
    intro: str = ""
    grids: list[Grid] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


@dataclass
class Report:
    title: str
    generated_at: str
    sources: list[str]
    highlights: list[str]
    sections: list[Section]
    advice: list[Advice]
    not_drawn: list[str]
    environment: list[Grid]
    settings: dict[str, str]  # results directory -> its suite, as JSON text

    @property
    def figures(self) -> list[Figure]:
        return [f for s in self.sections for f in s.figures]

    def advice_grid(self) -> Grid:
        g = Grid("every warning, and every cell not measured", ["where", "warning", "remedy"], left=3)
        for a in self.advice:
            g.add([a.where, a.problem, a.remedy])
        return g


def _load_rows_as_servers(rows: list[LoadCellSummary]) -> list[LoadCellSummary]:
    """`infermeter load` points have a target, not a workload and framework: shown under one heading."""
    return [replace(r, workload="HTTP endpoint", server=r.label) for r in rows]


def _recommendation_section(capacity: list[CapacityResult], records: list[AnyRecord], traffic: float | None) -> list[Section]:
    """The configuration to deploy per workload and SLO, with what its figure is not (none without a capacity)."""
    from infermeter.reports.recommendation import configuration, recommend, recommendation_grid

    recs = recommend(capacity, records)
    if not recs:
        return []
    said = [f"{rec.workload} under {rec.slo}: {configuration(rec.chosen)}. What this is not: " + "; ".join(rec.caveats) + "."
            for rec in recs]
    return [Section("Deployment recommendation", " ".join(said), [recommendation_grid(recs, traffic)])]


def _study_sections(records: list[AnyRecord], suites: dict[str, str]) -> list[Section]:
    """Where the run is a study's (infermeter study): its claims, each checked against these records."""
    from infermeter.reports.studies import findings_grid
    from infermeter.studies.registry import studies_of_suites

    found = studies_of_suites(suites.values())
    return [Section("Study findings", f"{s.title} ({s.authors}, {s.year}; {s.source}) compared {s.compares}. Its headline claims, "
                    "checked on this run, are below." + (" Even with --full this differs from the study: " + "; ".join(s.differences) + "."
                                              if s.differences else ""), [findings_grid(s, records)]) for s in found.values()]


def _tuning_section(trials: list[CapacityResult]) -> Section:
    """Each tuning study: its trials (the defaults first, the best marked) and the Pareto figure."""
    from infermeter.reports.tuning import confirmation_text, pareto_figure, studies, trials_grid
    from infermeter.tuning.objective import best_trial, objective_of

    grids, figures, again = [], [], []
    for i, (name, rows) in enumerate(studies(trials).items()):
        if text := confirmation_text(trials, name):
            again.append(f"{name}: {text}")
        label = str(rows[0].cell.get("label") or name).split(" on ")[0]
        assert rows[0].tuning is not None
        goal = objective_of(rows[0].tuning)
        grids.append(trials_grid(rows, best_trial(rows, goal), title=f"tuning study {name} ({label}, for {goal.name})"))
        if (fig := pareto_figure(rows, i)) is not None:
            figures.append(fig)
    return Section("Tuning", "Settings searched by infermeter tune: Optuna's TPE sampler proposed each trial from the space the "
                   "engine or framework declares; each trial is an open-loop capacity search under the SLO on the target set up "
                   "with those settings, and the defaults were measured first, in the same study. " + " ".join(again), grids, figures)


def build_report(records: list[AnyRecord], suites: dict[str, str], title: str = "infermeter report",
                 capacity: list[CapacityResult] | None = None, traffic: float | None = None) -> Report:
    engines = summarise_engines(records)  # runs from several directories that share cells are kept apart there
    servers = summarise_loads(records, kind="server") + _load_rows_as_servers(summarise_loads(records, kind="load"))
    figs, not_drawn = F.build_figures(engines, servers)

    def taking(*prefixes: str) -> list[Figure]:
        return [f for f in figs if f.id.startswith(prefixes)]

    sections = _study_sections(records, suites)
    if capacity:
        sections += _recommendation_section(capacity, records, traffic)
    trials = [r for r in capacity or [] if r.tuning is not None]
    capacity = [r for r in capacity or [] if r.tuning is None]
    if trials:
        sections.append(_tuning_section(trials))
    if capacity:
        from infermeter.reports.capacity import capacity_grid, curve_figure, probes_grid

        curves = [f for i, r in enumerate(capacity) if (f := curve_figure(r, i)) is not None]
        sections.append(Section(
            "Capacity under the SLO", "The highest load each target served within the SLO (infermeter capacity): bracketing, "
            "then bisection; every probe below with what decided it. Its windows are also among the load points and cells below.",
            [capacity_grid(capacity)] + [probes_grid(r) for r in capacity], curves,
        ))
    if F.ok(servers):
        overhead, cost = overhead_grid(servers), cost_grid(servers)
        sections.append(Section(
            "Serving frameworks under load",
            "Real servers on 127.0.0.1, each from its own environment, driven by infermeter's load generator. "
            "Requests carry the workload's raw input and every server runs the same pre-processing.",
            server_pivots(servers) + [g for g in (overhead, cost) if g]
            + [load_grid(servers, "every load point", server=True), resources_grid(servers, "what each load point cost")],
            taking("throughput-vs-users", "latency-vs-users", "latency-vs-rate", "energy-vs-users", "latency-cdf-users"),
        ))
    from infermeter.reports.timeseries import timeseries_figures

    over_time, left = timeseries_figures(records)
    if over_time:
        sections.append(Section(
            "Over time", "Each load point's first window second by second, its warm-up included: where a point's figures "
            "hide a warm-up tail, a stall or a burst, it shows here." + (f" Not drawn: {', '.join(left)}." if left else ""),
            [], over_time,
        ))
    sections.append(Section(
        "Latency one request at a time", "Servers at one virtual user beside the in-process engines at batch 1: the distance "
        "between them is what the network, the protocol and the server add.", [], taking("latency-at-one-user", "mean-latency-at-one-user", "latency-cdf-one"),
    ))
    if F.ok(engines):
        sections.append(Section(
            "Engines in process", "Each cell in a fresh process: load, warm-up, then timed windows; outputs checked against the "
            "workload's reference engine (agree / max|diff|).",
            [engine_grid(engines, "every engine cell")] + engine_pivots(engines),
            taking("throughput-vs-batch", "memory-vs-batch", "energy-vs-batch", "metrics-"),
        ))
    from infermeter.reports.gpu import gpu_grid

    if (gpu := gpu_grid(records)) is not None:
        sections.append(Section("GPU", "What each window asked of the GPU, sampled over the window.", [gpu],
                                taking("gpu-memory-vs-batch", "gpu-util-vs-users", "power-vs-throughput")))
    sections.append(Section("Start-up", "Export, load and first-inference time of each engine; start to ready of each server.",
                            [], taking("startup")))
    score = _scorecard(records)
    if score:
        sections.append(Section("Usability scorecard", "", score))
    sections = [s for s in sections if s.grids or s.figures]
    return Report(
        title=title,
        generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        sources=sorted({str(r.source or "") for r in records}),
        highlights=highlights(records, engines, servers),
        sections=sections,
        advice=collect_advice(engines, servers),
        not_drawn=not_drawn,
        environment=environment(records),
        settings=suites,
    )


def highlights(records: list[AnyRecord], engines: list[EngineCellSummary], servers: list[LoadCellSummary]) -> list[str]:
    """The counts, and per workload the fastest at one request and the highest throughput seen."""
    status = Counter(r.status for r in [*engines, *servers])
    out = [f"{status['ok']} cells measured, {status['skipped']} skipped, {status['failed']} failed "
           f"({len(records)} records, {len({r.run_id for r in records})} run(s))"]
    finished = sorted(r.finished_at for r in records if r.finished_at)
    if finished:
        out.append(f"measured between {finished[0]} and {finished[-1]}")
    for workload in dict.fromkeys(str(r.workload) for r in F.ok([*engines, *servers])):
        # The figures each table shows (engines: the mean of the repeats' p50s; servers: the merged histogram's
        # p50), with the range over repeats: a lead that another target's repeats reach is said to be none.
        one = [_Candidate(r.p50.mean, r.engine, f"in process on {r.engine} (batch 1)", r.p50.min, r.p50.max)
               for r in F.batch_one(engines) if str(r.workload) == workload]
        one += [_Candidate(r.latency.p50, str(r.server), f"on {r.server} (1 user)", min(p, default=r.latency.p50),
                           max(p, default=r.latency.p50))
                for r in F.ok(servers) if str(r.workload) == workload and r.users == 1 for p in [r.per_repeat("p50")]]
        if lead := _lead(one, lowest=True, unit="ms"):
            out.append(f"{workload}: lowest p50 one request at a time: {lead}")
        srv = [_Candidate(r.throughput.mean, str(r.server), f"on {r.server} at {_point(r)}", r.throughput.min, r.throughput.max)
               for r in F.ok(servers) if str(r.workload) == workload]
        if lead := _lead(srv, lowest=False, unit="requests/s"):
            out.append(f"{workload}: highest server throughput: {lead}")
        eng = [_Candidate(r.throughput.mean, r.engine, f"on {r.engine} at batch {r.batch_size}", r.throughput.min, r.throughput.max)
               for r in F.ok(engines) if str(r.workload) == workload]
        if lead := _lead(eng, lowest=False, unit="samples/s"):
            out.append(f"{workload}: highest in-process throughput: {lead}")
    return out


class _Candidate(NamedTuple):
    value: float
    name: str  # the target (engine or server label): its other cells are not its rivals
    where: str
    low: float  # the range of its repeats
    high: float


def _lead(candidates: list[_Candidate], lowest: bool, unit: str) -> str | None:
    """The best candidate, and "no clear lead" where another target's repeats reach into its range."""
    ranked = sorted((c for c in candidates if F.finite(c.value)), key=lambda c: c.value if lowest else -c.value)
    if not ranked:
        return None
    best = ranked[0]
    digits = ".3g" if lowest else ".4g"  # as the tables show latency and throughput
    text = f"{best.value:{digits}} {unit} {best.where}"
    rival = next((c for c in ranked[1:] if c.name != best.name and (c.low <= best.high if lowest else c.high >= best.low)), None)
    if rival is None:
        return text
    bound = f"up to {best.high:{digits}}" if lowest else f"down to {best.low:{digits}}"
    return (f"{text}, but no clear lead: {rival.name}'s repeats ran {rival.low:{digits}}-{rival.high:{digits}} {unit}, "
            f"{best.name}'s {bound}")


def _point(r: LoadCellSummary) -> str:
    if r.users is not None:
        return f"{r.users} user{'' if r.users == 1 else 's'}"
    return f"{r.rate:g}/s offered"


def _where(r: CellSummary) -> str:
    if isinstance(r, LoadCellSummary):
        return f"{r.workload} on {r.server}, {_point(r)}"
    callers = f" x {r.concurrency} callers" if (r.concurrency or 1) > 1 else ""
    offered = f", {r.rate:g}/s offered" if r.rate is not None else ""
    return f"{r.workload} on {r.engine}, {r.scenario}, batch {r.batch_size}{callers}{offered}"


def collect_advice(engines: list[EngineCellSummary], servers: list[LoadCellSummary]) -> list[Advice]:
    """Cells not measured first (with the reason), then every warning; each with its remedy."""
    cells: list[CellSummary] = [*engines, *servers]
    out = [advise(_where(r), f"{r.status}: {r.error or 'no reason recorded'}") for r in cells if not r.measured]
    p99_floor = stats.min_samples_for(99)
    for r in cells:
        for w in r.warnings:
            out.append(Advice(_where(r), w.text, w.remedy))
        if r.measured and r.latency is not None and r.latency.count < p99_floor:
            out.append(advise(f"{_where(r)} ({r.latency.count} samples)", f"p99 from fewer than {p99_floor} samples: a rough figure"))
    if any(r.energy_source == "estimate" for r in F.ok(cells)):
        out.append(Advice("energy, every cell marked 'est'", ENERGY_NOTE,
                          "For measured joules, run where /sys/class/powercap/intel-rapl is readable (bare metal, often as root)"))
    return grouped(out)


def grouped(advice: list[Advice]) -> list[Advice]:
    """One line per distinct warning and remedy, naming every place it was seen (in first-seen order)."""
    places: dict[tuple[str, str], list[str]] = {}
    for a in advice:
        places.setdefault((a.problem, a.remedy), []).append(a.where)
    return [Advice("; ".join(dict.fromkeys(where)), problem, remedy) for (problem, remedy), where in places.items()]


def _scorecard(records: list[AnyRecord]) -> list[Grid]:
    from infermeter.reports.scorecard import scorecard_grids

    used = {r.server.name for r in records if isinstance(r, (ServerWindow, NotMeasured)) and r.server is not None and r.kind == "server"}
    if not used:
        return []
    return scorecard_grids(records, only=used)


def environment(records: list[AnyRecord]) -> list[Grid]:
    """Machine, package versions (every version seen, so mixed runs show), workloads' provenance, servers."""
    env = environment_of(records)
    machine = Grid("machine", ["property", "value"])
    for k, values in env.machine.items():
        machine.add([k, " | ".join(values)])
    if env.cpu_energy_basis:
        machine.add(["CPU energy", env.cpu_energy_basis.split(":")[0] + " (see each cell)"])
    if env.gpu:
        machine.add(["GPU", env.gpu])

    packages = Grid("package versions", ["package", "version"])
    for name in sorted(env.packages):
        packages.add([name, " | ".join(env.packages[name])])

    servers = Grid("serving frameworks", ["framework", "installed", "protocol", "settings"], left=4)
    for d in env.servers:
        servers.add([d.label, d.version or "-", d.protocol or "-", json.dumps(d.settings, sort_keys=True)])

    provenance = Grid("workloads: where weights and inputs come from", ["workload", "task", "weights", "inputs"], left=4)
    for w in env.workloads:
        provenance.add([w.name, w.task or "-", w.weights or "-", w.inputs or "-"])
    return [g for g in (provenance, model_stats_grid(env.workloads), machine, packages, servers) if g.rows]


def scaled(v: float | None, unit: float, digits: int = 2) -> str:
    return "-" if v is None else fmt(v / unit, digits)


def model_stats_grid(workloads: list[WorkloadInfo]) -> Grid:
    """The engine study's Table I for every workload measured: what each model is, counted on its reference module."""
    from infermeter.export.model_stats import FLOPS_BASIS, LAYERS_BASIS

    g = Grid("workloads: model statistics", ["workload", "parameters (M)", "layers", "size (MB)", "GFLOPs per sample"],
             caption=f"Counted on the reference torch module (seeded random weights: the architecture's figures). layers: "
             f"{LAYERS_BASIS}. size: parameters and buffers as held in memory. FLOPs: {FLOPS_BASIS}; -: not counted.")
    for w in workloads:
        m = w.model
        if m is None:
            continue
        if m.error:
            g.add([w.name, f"not counted: {m.error}", "-", "-", "-"])
            continue
        g.add([w.name, scaled(m.parameters, 1e6), "-" if m.layers is None else str(m.layers), scaled(m.size_mb, 1, 1),
               scaled(m.flops_per_sample, 1e9)])
    return g


def suites_of(sources: list[str]) -> dict[str, str]:
    """Each results directory's suite (suite.json, written by `infermeter run`), pretty-printed."""
    out = {}
    for src in sources:
        f = Path(src) / "suite.json"
        if f.is_file():
            try:
                out[src] = json.dumps(json.loads(f.read_text()), indent=2)
            except (OSError, ValueError):
                out[src] = "(suite.json could not be read)"
    return out
