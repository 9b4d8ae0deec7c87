"""What a report says, before it is drawn: sections of tables and figures, every warning with its remedy,
the environment and settings. report.md and report.html both render one `Report`."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from infermeter.reports import figures as F
from infermeter.reports.figure import Figure
from infermeter.reports.grid import Grid
from infermeter.reports.pivots import engine_pivots, server_pivots
from infermeter.reports.remedies import Advice, advise
from infermeter.reports.table import (
    ENERGY_NOTE, engine_grid, load_grid, resources_grid, summarise_cells, summarise_load_cells,
)
from infermeter.results import stats


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


def _load_rows_as_servers(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`infermeter load` points have a target, not a workload and framework: shown under one heading."""
    return [r | {"workload": "HTTP endpoint", "server": r["label"]} for r in rows]


def keep_runs_apart(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two runs of one suite (before / after) hold the same cells; pooled, their repeats would be mixed
    into one mean. When results from several directories share a cell, every label says its directory."""
    sources: dict[str, set[str]] = defaultdict(set)
    for r in records:
        sources[r.get("cell_id", "")].add(str(r.get("source")))
    if all(len(s) <= 1 for s in sources.values()):
        return records
    out = []
    for r in records:
        tag = f" @{Path(str(r.get('source'))).name}"
        r = r | {"cell_id": f"{r.get('cell_id')}{tag}"}
        if r.get("kind") == "server":
            r["server"] = (r.get("server") or {}) | {"label": str((r.get("server") or {}).get("label")) + tag}
        elif r.get("kind") == "load":
            cell = r.get("cell") or {}
            r["cell"] = cell | {"label": str(cell.get("label") or cell.get("target")) + tag}
        else:
            engine = r.get("engine") or {}
            r["engine"] = engine | {"label": str(engine.get("label") or (r.get("cell") or {}).get("engine")) + tag}
        out.append(r)
    return out


def build_report(records: list[dict[str, Any]], suites: dict[str, str], title: str = "infermeter report") -> Report:
    records = keep_runs_apart(records)
    engines = summarise_cells(records)
    servers = summarise_load_cells(records, kind="server") + _load_rows_as_servers(summarise_load_cells(records, kind="load"))
    figs, not_drawn = F.build_figures(engines, servers)

    def taking(*prefixes: str) -> list[Figure]:
        return [f for f in figs if f.id.startswith(prefixes)]

    sections = []
    if F.ok(servers):
        sections.append(Section(
            "Serving frameworks under load",
            "Real servers on 127.0.0.1, each from its own environment, driven by infermeter's load generator. "
            "Requests carry the workload's raw input and every server runs the same pre-processing.",
            server_pivots(servers) + [load_grid(servers, "every load point", server=True), resources_grid(servers, "what each load point cost")],
            taking("throughput-vs-users", "latency-vs-users", "latency-vs-rate", "energy-vs-users"),
        ))
    sections.append(Section(
        "Latency one request at a time", "Servers at one virtual user beside the in-process engines at batch 1: the distance "
        "between them is what the network, the protocol and the server add.", [], taking("latency-at-one-user", "latency-cdf"),
    ))
    if F.ok(engines):
        sections.append(Section(
            "Engines in process", "Each cell in a fresh process: load, warm-up, then timed windows; outputs checked against the "
            "workload's reference engine (agree / max|diff|).",
            [engine_grid(engines, "every engine cell")] + engine_pivots(engines),
            taking("throughput-vs-batch", "memory-vs-batch", "energy-vs-batch"),
        ))
    sections.append(Section("Start-up", "Export, load and first-inference time of each engine; start to ready of each server.",
                            [], taking("startup")))
    score = _scorecard(records)
    if score:
        sections.append(Section("Usability scorecard", "", [score]))
    sections = [s for s in sections if s.grids or s.figures]
    return Report(
        title=title,
        generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        sources=sorted({str(r.get("source", "")) for r in records}),
        highlights=highlights(records, engines, servers),
        sections=sections,
        advice=collect_advice(engines, servers),
        not_drawn=not_drawn,
        environment=environment(records),
        settings=suites,
    )


def highlights(records: list[dict[str, Any]], engines: list[dict[str, Any]], servers: list[dict[str, Any]]) -> list[str]:
    """The counts, and per workload the fastest at one request and the highest throughput seen."""
    status = Counter(r["status"] for r in engines + servers)
    out = [f"{status.get('ok', 0)} cells measured, {status.get('skipped', 0)} skipped, {status.get('failed', 0)} failed "
           f"({len(records)} records, {len({r.get('run_id') for r in records})} run(s))"]
    finished = sorted(r["finished_at"] for r in records if r.get("finished_at"))
    if finished:
        out.append(f"measured between {finished[0]} and {finished[-1]}")
    for workload in dict.fromkeys(str(r["workload"]) for r in F.ok(engines + servers)):
        one = [(r["latency"]["p50"], f"in process on {r['engine']} (batch 1)") for r in F.batch_one(engines) if str(r["workload"]) == workload]
        one += [(r["latency"]["p50"], f"on {r['server']} (1 user)") for r in F.ok(servers) if str(r["workload"]) == workload and r.get("users") == 1]
        if one:
            p50, where = min(one)
            out.append(f"{workload}: lowest p50 one request at a time: {p50:.3g} ms {where}")
        srv = [r for r in F.ok(servers) if str(r["workload"]) == workload]
        if srv:
            best = max(srv, key=lambda r: r["throughput"].mean)
            point = _point(best)
            out.append(f"{workload}: highest server throughput: {best['throughput'].mean:.4g} requests/s on {best['server']} at {point}")
        eng = [r for r in F.ok(engines) if str(r["workload"]) == workload]
        if eng:
            best = max(eng, key=lambda r: r["throughput"].mean)
            out.append(f"{workload}: highest in-process throughput: {best['throughput'].mean:.4g} samples/s on {best['engine']} "
                       f"at batch {best['batch_size']}")
    return out


def _point(r: dict[str, Any]) -> str:
    if r.get("users") is not None:
        return f"{r['users']} user{'' if r['users'] == 1 else 's'}"
    return f"{r.get('rate'):g}/s offered"


def _where(r: dict[str, Any]) -> str:
    if r.get("server") is not None:
        return f"{r['workload']} on {r['server']}, {_point(r)}"
    return f"{r['workload']} on {r['engine']}, {r['scenario']}, batch {r['batch_size']}" + (
        f" x {r['concurrency']} callers" if (r.get("concurrency") or 1) > 1 else "")


def collect_advice(engines: list[dict[str, Any]], servers: list[dict[str, Any]]) -> list[Advice]:
    """Cells not measured first (with the reason), then every warning; each with its remedy."""
    out = [advise(_where(r), f"{r['status']}: {r.get('error') or 'no reason recorded'}") for r in engines + servers if r["status"] != "ok"]
    p99_floor = stats.min_samples_for(99)
    for r in engines + servers:
        for w in r.get("warnings") or []:
            out.append(Advice(_where(r), w.text, w.remedy))
        if r["status"] == "ok" and r["latency"]["count"] < p99_floor:
            out.append(advise(f"{_where(r)} ({int(r['latency']['count'])} samples)", f"p99 from fewer than {p99_floor} samples: a rough figure"))
    if any(r.get("energy_source") == "estimate" for r in F.ok(engines + servers)):
        out.append(Advice("energy, every cell marked 'est'", ENERGY_NOTE,
                          "For measured joules, run where /sys/class/powercap/intel-rapl is readable (bare metal, often as root)"))
    return grouped(out)


def grouped(advice: list[Advice]) -> list[Advice]:
    """One line per distinct warning and remedy, naming every place it was seen (in first-seen order)."""
    places: dict[tuple[str, str], list[str]] = {}
    for a in advice:
        places.setdefault((a.problem, a.remedy), []).append(a.where)
    return [Advice("; ".join(dict.fromkeys(where)), problem, remedy) for (problem, remedy), where in places.items()]


def _scorecard(records: list[dict[str, Any]]) -> Grid | None:
    from infermeter.reports.scorecard import scorecard_grid

    used = {(r.get("server") or {}).get("name") for r in records if r.get("kind") == "server"}
    if not used:
        return None
    return scorecard_grid(records, only=used)


def environment(records: list[dict[str, Any]]) -> list[Grid]:
    """Machine, package versions (every version seen, so mixed runs show), workloads' provenance, servers."""
    machine = Grid("machine", ["property", "value"])
    seen: dict[str, list[str]] = defaultdict(list)
    for r in records:
        for k, v in (r.get("machine") or {}).items():
            text = json.dumps(v) if isinstance(v, (dict, list)) or v is None else str(v)
            if text not in seen[k]:
                seen[k].append(text)
    for k, values in seen.items():
        machine.add([k, " | ".join(values)])
    energies = [e for e in ((r.get("metrics") or {}).get("energy") for r in records) if e]
    basis = next(((e.get("cpu_estimate") or {}).get("basis") for e in energies if e.get("cpu_estimate")), None)
    gpu = next((e.get("gpu") for e in energies), None)
    if basis:
        machine.add(["CPU energy", basis.split(":")[0] + " (see each cell)"])
    if gpu:
        machine.add(["GPU", gpu.get("reason") or gpu.get("source", "")])

    packages = Grid("package versions", ["package", "version"])
    versions: dict[str, list[str]] = defaultdict(list)
    for r in records:
        pk = dict(r.get("packages") or {}) | dict((r.get("engine") or {}).get("versions") or {})
        for name, v in pk.items():
            if str(v) not in versions[name]:
                versions[name].append(str(v))
    for name in sorted(versions):
        packages.add([name, " | ".join(versions[name])])

    servers = Grid("serving frameworks", ["framework", "installed", "protocol", "settings"], left=4)
    shown = set()
    for r in records:
        dep = r.get("deployment") or {}
        label = (r.get("server") or {}).get("label")
        if r.get("kind") == "server" and label and label not in shown and dep:
            shown.add(label)
            servers.add([label, str(dep.get("version", "-")), str(dep.get("protocol", "-")),
                         json.dumps((r.get("server") or {}).get("settings", {}), sort_keys=True)])

    provenance = Grid("workloads: where weights and inputs come from", ["workload", "task", "weights", "inputs"], left=4)
    for name, w in {r["workload"]["name"]: r["workload"] for r in records if (r.get("workload") or {}).get("name")}.items():
        p = w.get("provenance") or {}
        provenance.add([name, str(w.get("task", "-")), str(p.get("weights", "-")), str(p.get("inputs", "-"))])
    return [g for g in (provenance, machine, packages, servers) if g.rows]


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
