"""What a set of records says about where and with what it was measured: the machine, package versions,
the workloads' provenance, the serving frameworks' deployments. The report's environment tables and the
usability scorecard render these; they read no record themselves. Every value seen is kept, so a report
over mixed runs shows that they were mixed."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infermeter.results.record import AnyRecord, EngineWindow, NotMeasured, ServerWindow


def _text(v: Any) -> str:
    return json.dumps(v) if isinstance(v, (dict, list)) or v is None else str(v)


@dataclass(frozen=True)
class Deployment:
    """One server start, as its windows recorded it."""

    server: str  # the framework's name (torchserve, litserve...)
    label: str  # with its settings
    version: str | None
    protocol: str | None
    settings: dict[str, Any]
    log: str | None  # the server's log, in its work directory
    cold_start_s: float | None


def deployments(records: Iterable[AnyRecord]) -> list[Deployment]:
    """Each deployment once (by its log; one without a log once per label), in order of first appearance."""
    out: dict[tuple[str, str | None], Deployment] = {}
    for r in records:
        if r.kind != "server" or not isinstance(r, (ServerWindow, NotMeasured)) or r.server is None or not r.deployment:
            continue
        dep = r.deployment
        log = dep.get("log")
        key = (r.server.label, str(log) if log else None)
        if key not in out:
            cold = dep.get("cold_start_s")
            out[key] = Deployment(r.server.name, r.server.label, _opt(dep.get("version")), _opt(dep.get("protocol")),
                                  dict(r.server.settings), str(log) if log else None,
                                  float(cold) if isinstance(cold, (int, float)) else None)
    return list(out.values())


_CODE_SUFFIXES = {".py", ".json", ".pbtxt", ".properties", ".yaml", ".yml", ".toml", ".cfg"}
_NOT_WRITTEN_FOR_THE_FRAMEWORK = {"serving.json", "server.log"}  # infermeter's own, the same for every framework


def serving_lines(workdir: Path) -> int:
    """Non-blank, non-comment lines of the handler code and configuration files in a server's work
    directory (model artifacts and logs are not text written to serve, and are skipped)."""
    total = 0
    for f in workdir.rglob("*"):
        if not f.is_file() or f.suffix not in _CODE_SUFFIXES or f.name in _NOT_WRITTEN_FOR_THE_FRAMEWORK:
            continue
        if f.stat().st_size > 200_000:  # an exported model or data, not something written by hand
            continue
        for line in f.read_text(errors="replace").splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith(("#", "//")):
                total += 1
    return total


@dataclass(frozen=True)
class FrameworkUsage:
    """What serving on one framework took, over the deployments in the records (the usability scorecard)."""

    deployments: int
    cold_start_s: float | None  # start to ready, median over deployments
    serving_lines: float | None  # lines written to serve (serving_lines of each work directory), median over deployments


def framework_usage(records: Iterable[AnyRecord]) -> dict[str, FrameworkUsage]:
    """Per framework name, from each deployment with a work directory (its log's) once."""
    per: dict[str, list[Deployment]] = {}
    for d in deployments(records):
        if d.log is not None:
            per.setdefault(d.server, []).append(d)
    out = {}
    for name, deps in per.items():
        cold = [d.cold_start_s for d in deps if d.cold_start_s is not None]
        lines = [serving_lines(Path(d.log).parent) for d in deps if d.log and Path(d.log).parent.is_dir()]
        out[name] = FrameworkUsage(len(deps), statistics.median(cold) if cold else None, statistics.median(lines) if lines else None)
    return out


USABILITY_CRITERIA = ("user-friendliness", "documentation", "features", "community", "maintenance")


def user_scores(records: Iterable[AnyRecord]) -> dict[str, dict[str, int]]:
    """The user's own usability scores (a suite's `usability.scores`, validated when the suite was read), from
    the suite.json of each results directory the records came from; a later directory's score for the same
    framework and criterion wins. What cannot be read, or is no 1-5 score of a known criterion, adds nothing."""
    out: dict[str, dict[str, int]] = {}
    for source in dict.fromkeys(r.source for r in records if r.source):
        try:
            scores = json.loads((Path(source) / "suite.json").read_text())["usability"]["scores"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for server, per in scores.items() if isinstance(scores, dict) else ():
            for criterion, score in per.items() if isinstance(per, dict) else ():
                if criterion in USABILITY_CRITERIA and isinstance(score, int) and 1 <= score <= 5:
                    out.setdefault(str(server), {})[criterion] = score
    return out


def _opt(v: Any) -> str | None:
    return None if v is None else str(v)


@dataclass(frozen=True)
class ModelFigures:
    """A workload's model statistics as its records carry them (export/model_stats.py)."""

    parameters: int | None = None
    layers: int | None = None
    size_mb: float | None = None
    flops_per_sample: int | None = None
    error: str | None = None  # why they could not be counted (a scikit-learn model)

    @classmethod
    def of(cls, d: Any) -> ModelFigures | None:
        if not isinstance(d, dict):
            return None
        if d.get("error"):
            return cls(error=str(d["error"]))
        num = lambda k, t: t(d[k]) if isinstance(d.get(k), (int, float)) else None  # noqa: E731
        return cls(num("parameters", int), num("layers", int), num("size_mb", float), num("flops_per_sample", int))


@dataclass(frozen=True)
class WorkloadInfo:
    name: str
    task: str | None
    weights: str | None  # where the weights come from
    inputs: str | None  # where the inputs come from
    model: ModelFigures | None = None


@dataclass(frozen=True)
class Environment:
    machine: dict[str, list[str]]  # property -> every value seen, as text
    packages: dict[str, list[str]]  # package -> every version seen (records' packages and engines' own)
    cpu_energy_basis: str | None  # how CPU energy was estimated, where it was
    gpu: str | None  # the GPU energy collector's note (why none, or its source)
    workloads: list[WorkloadInfo] = field(default_factory=list)
    servers: list[Deployment] = field(default_factory=list)  # the first deployment of each server label


def environment_of(records: Iterable[AnyRecord]) -> Environment:
    records = list(records)
    machine: dict[str, list[str]] = {}
    packages: dict[str, list[str]] = {}
    for r in records:
        for k, v in r.machine.items():
            seen = machine.setdefault(k, [])
            if _text(v) not in seen:
                seen.append(_text(v))
        engine = getattr(r, "engine", None)
        for name, v in (dict(r.packages) | (dict(engine.versions) if engine else {})).items():
            seen = packages.setdefault(name, [])
            if str(v) not in seen:
                seen.append(str(v))
    energies = [m.energy for m in (getattr(r, "metrics", None) for r in records) if m is not None and m.energy is not None]
    estimates = [getattr(e, "cpu_estimate", None) for e in energies]
    basis = next((str(c["basis"]) for c in estimates if isinstance(c, dict) and c.get("basis")), None)
    gpu_block = next((g for g in (getattr(e, "gpu", None) for e in energies) if isinstance(g, dict)), None)
    gpu = (gpu_block.get("reason") or gpu_block.get("source", "")) if gpu_block is not None else None
    workloads: dict[str, WorkloadInfo] = {}
    for r in records:
        w = getattr(r, "workload", None) or {}
        if isinstance(r, (EngineWindow, ServerWindow, NotMeasured)) and w.get("name"):
            p = w.get("provenance") or {}
            model = ModelFigures.of(w.get("model"))
            known = workloads.get(w["name"])
            workloads[w["name"]] = WorkloadInfo(w["name"], _opt(w.get("task")), _opt(p.get("weights")), _opt(p.get("inputs")),
                                                model or (known.model if known else None))
    first: dict[str, Deployment] = {}
    for d in deployments(records):
        first.setdefault(d.label, d)
    return Environment(machine, packages, basis, gpu, list(workloads.values()), list(first.values()))
