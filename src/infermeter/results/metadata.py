"""What differs between two runs' machine and software metadata, and whether they ran on different machines.

`infermeter compare` uses it before comparing any figure. In pyperf's spirit (it refuses to add a run to a
benchmark when cpu_count, cpu_model_name, hostname or platform differ), runs whose hardware or operating
system differ are different machines and are not compared unless asked. Unlike pyperf, the hostname alone
does not make a different machine: containers and CI jobs get a fresh hostname on the same hardware, and a
check that always fires teaches people to pass the override. Software versions (Python, packages, engines,
serving frameworks) are what a comparison is often for, so they are listed, never refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# machine_info() fields that define the machine: the CPU, how many of its CPUs a run may use, memory, GPU,
# and OS + kernel (`platform`, e.g. Linux-6.8.0-45-generic-x86_64-with-glibc2.39).
MACHINE_FIELDS = ("cpu_model", "physical_cpus", "logical_cpus", "affinity_cpus", "memory_gb", "gpu", "platform")
# Recorded, shown when they differ, not a different machine by themselves.
LISTED_FIELDS = ("hostname",)
# Memory totals of one machine move by a few MB across kernels (reserved memory); another machine differs
# by far more.
MEMORY_TOLERANCE = 0.01
ABSENT = "(absent)"


@dataclass(frozen=True)
class FieldDiff:
    field: str  # "cpu_model", "hostname", "python", "package torch", "server triton"
    a: str  # the value in run A; several values seen in one run are joined by " | "
    b: str
    kind: str  # "machine": makes the runs different machines; "software": a version; "recorded": neither


@dataclass(frozen=True)
class MetadataDiff:
    diffs: tuple[FieldDiff, ...]
    notes: tuple[str, ...]  # what could not be checked (e.g. a run whose records carry no machine metadata)

    @property
    def machine_diffs(self) -> tuple[FieldDiff, ...]:
        return tuple(d for d in self.diffs if d.kind == "machine")

    @property
    def different_machines(self) -> bool:
        return bool(self.machine_diffs)


def _text(v: Any) -> str:
    return json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) or v is None else str(v)


def _values(records: Iterable[dict[str, Any]], pick) -> dict[str, list[Any]]:
    """field -> distinct values over the records, in order of first appearance."""
    out: dict[str, list[Any]] = {}
    for r in records:
        for key, value in pick(r).items():
            seen = out.setdefault(key, [])
            if value not in seen:
                seen.append(value)
    return out


def _machine(r: dict[str, Any]) -> dict[str, Any]:
    return r.get("machine") if isinstance(r.get("machine"), dict) else {}


def _software(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    machine = _machine(r)
    if "python" in machine:
        out["python"] = machine["python"]
    versions = dict(r.get("packages") or {}) | dict((r.get("engine") or {}).get("versions") or {})
    out |= {f"package {name}": v for name, v in versions.items()}
    dep = r.get("deployment") or {}
    if r.get("kind") == "server" and isinstance(dep, dict) and dep.get("version"):
        name = dep.get("framework") or (r.get("server") or {}).get("name") or "?"
        out[f"server {name}"] = dep["version"]
    return out


def _same(field: str, a: list[Any], b: list[Any]) -> bool:
    if field == "memory_gb" and a and b and all(isinstance(v, (int, float)) for v in a + b):
        def near(x: float, ys: list[Any]) -> bool:
            return any(abs(x - y) <= MEMORY_TOLERANCE * max(abs(x), abs(y)) for y in ys)
        return all(near(x, b) for x in a) and all(near(y, a) for y in b)
    return sorted(map(_text, a)) == sorted(map(_text, b))


def _shown(values: list[Any]) -> str:
    return " | ".join(_text(v) for v in values) if values else ABSENT


def _plain(records: Iterable[Any]) -> list[dict[str, Any]]:
    """Typed records (results/record.py) as their JSON shape; dicts as they are."""
    return [r.model_dump(mode="json") if hasattr(r, "model_dump") else r for r in records]


def metadata_diff(records_a: Iterable[Any], records_b: Iterable[Any]) -> MetadataDiff:
    """Every machine and software field whose values differ between the runs (each run: all its records,
    typed or dicts)."""
    records_a, records_b = _plain(records_a), _plain(records_b)
    diffs: list[FieldDiff] = []
    notes: list[str] = []
    ma, mb = _values(records_a, _machine), _values(records_b, _machine)
    for side, m in (("A", ma), ("B", mb)):
        if not m:
            notes.append(f"run {side}'s records carry no machine metadata: whether both ran on one machine is unknown")
    if ma and mb:
        for field in MACHINE_FIELDS + LISTED_FIELDS:
            a, b = ma.get(field, []), mb.get(field, [])
            if not _same(field, a, b):
                # A field one run did not record (written by an older infermeter) is listed, not refused.
                kind = "machine" if field in MACHINE_FIELDS and a and b else "recorded"
                diffs.append(FieldDiff(field, _shown(a), _shown(b), kind))
    sa, sb = _values(records_a, _software), _values(records_b, _software)
    for field in sorted(set(sa) | set(sb), key=lambda f: (f != "python", f)):
        a, b = sa.get(field, []), sb.get(field, [])
        if not _same(field, a, b):
            diffs.append(FieldDiff(field, _shown(a), _shown(b), "software"))
    return MetadataDiff(tuple(diffs), tuple(notes))


def machine_line(machine: dict[str, Any]) -> str:
    """'2 cores of <CPU>, no GPU': the part of a machine a rate depends on, in words."""
    cores = machine.get("affinity_cpus") or machine.get("logical_cpus") or "?"
    return f"{cores} cores of {machine.get('cpu_model') or 'an unnamed CPU'}{', with a GPU' if machine.get('gpu') else ', no GPU'}"
