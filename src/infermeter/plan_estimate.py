"""What a suite will measure and how long its measuring takes at the least and at the most, before anything
runs (`infermeter run --dry-run`, `infermeter study NAME --dry-run`): a --full study is hours on 2 cores,
and a user deciding whether to start one needs the figure first.

The bounds count the windows and warm-ups the settings fix: an engine cell's warm-up (at least `seconds`, at
most `max_seconds`) and its repeats (each `min_seconds` to `max_seconds`); a server's load point, each repeat
a warm-up of `warmup_s` and a window of `min_seconds` to `max_seconds`. Exports, loads, server start-ups
and the report are not counted: they depend on the model and the machine, and the run measures them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from infermeter.config import Cell, ServerCell, Suite, engine_label, plan, plan_servers


@dataclass(frozen=True)
class PlannedTarget:
    """One workload on one engine or server: its points to measure and the time their measuring takes."""

    workload: str
    target: str  # the engine's or server's label, with its settings
    kind: Literal["engine", "server"]
    points: int  # still to measure here: engine cells, or a server's load points
    repeats: int
    least_s: float
    most_s: float
    done: int = 0  # already measured in OUT (with --resume)
    skipped: int = 0  # points that cannot run here
    why_skipped: str | None = None


@dataclass(frozen=True)
class PlanEstimate:
    targets: tuple[PlannedTarget, ...]

    @property
    def least_s(self) -> float:
        return sum(t.least_s for t in self.targets)

    @property
    def most_s(self) -> float:
        return sum(t.most_s for t in self.targets)

    @property
    def points(self) -> int:
        return sum(t.points for t in self.targets)


def _engine_bounds(cell: Cell) -> tuple[float, float]:
    w, m = cell.warmup, cell.measure
    return w.seconds + m.repeats * m.min_seconds, w.max_seconds + m.repeats * m.max_seconds


def _server_bounds(cell: ServerCell) -> tuple[float, float]:
    load = cell.load
    return load.repeats * (load.warmup_s + load.min_seconds), load.repeats * (load.warmup_s + load.max_seconds)


def estimate(suite: Suite, finished: set[str] | frozenset[str] = frozenset()) -> PlanEstimate:
    """The suite's plan, per workload and target; `finished`: cell ids OUT already holds (--resume)."""
    from infermeter.server_cells import cannot_serve
    from infermeter.servers.registry import adapter_for

    targets: list[PlannedTarget] = []
    groups: dict[tuple[str, str], list[Cell]] = {}
    for cell in plan(suite):
        groups.setdefault((cell.workload, cell.engine_label), []).append(cell)
    for (workload, label), cells in groups.items():
        runnable = [c for c in cells if c.skip_reason is None and c.cell_id not in finished]
        skipped = [c for c in cells if c.skip_reason is not None]
        bounds = [_engine_bounds(c) for c in runnable]
        targets.append(PlannedTarget(
            workload, label, "engine", len(runnable), suite.measure.repeats, sum(b[0] for b in bounds), sum(b[1] for b in bounds),
            done=sum(c.cell_id in finished for c in cells if c.skip_reason is None), skipped=len(skipped),
            why_skipped=skipped[0].skip_reason if skipped else None))
    for workload, entry, cells in plan_servers(suite):
        why = cannot_serve(adapter_for(entry.name, entry.settings), workload)
        todo = [] if why else [c for c in cells if c.cell_id not in finished]
        bounds = [_server_bounds(c) for c in todo]
        targets.append(PlannedTarget(
            workload, engine_label(entry.name, entry.settings), "server", len(todo), suite.load.repeats,
            sum(b[0] for b in bounds), sum(b[1] for b in bounds),
            done=0 if why else len(cells) - len(todo), skipped=len(cells) if why else 0, why_skipped=why))
    return PlanEstimate(tuple(targets))
