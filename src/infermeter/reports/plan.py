"""The plan a dry run shows: per workload and target, its points and how long their measuring takes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infermeter.reports.grid import Grid

if TYPE_CHECKING:
    from infermeter.plan_estimate import PlanEstimate


def span(seconds: float) -> str:
    """A length of time as a person reads it: 45 s, 12 min, 3.4 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def plan_grid(estimate: PlanEstimate, suite_name: str) -> Grid:
    g = Grid(f"{suite_name}: the plan (nothing is run)",
             ["workload", "target", "kind", "not measured here", "to measure", "repeats", "at least", "at most"], left=4)
    for t in estimate.targets:
        notes = [f"{t.done} already in OUT"] if t.done else []
        if t.skipped:
            notes.append(f"{t.skipped} cannot run: {t.why_skipped}")
        g.add([t.workload, t.target, t.kind, "; ".join(notes) or "-", str(t.points), str(t.repeats),
               span(t.least_s) if t.points else "-", span(t.most_s) if t.points else "-"])
    if not estimate.points:
        g.caption = "nothing to measure here: every point cannot run on this machine (reasons above) or is already in OUT."
        return g
    g.caption = (f"measuring {estimate.points} points takes at least {span(estimate.least_s)}: every warm-up and window at its "
                 f"minimum seconds (a model too slow for min_iterations or min_requests in them takes longer); at most "
                 f"{span(estimate.most_s)}: every warm-up and window to its max_seconds. Exports, model loads, server "
                 "start-ups and the report come on top.")
    return g
