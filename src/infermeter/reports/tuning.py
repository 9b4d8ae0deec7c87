"""A tuning study as a table (one row per trial, the defaults first) and a Pareto figure (capacity against
the unloaded latency: the trials no other trial beats on both, and on the cores they reserve), shared by
the terminal and the report. Built from the capacity records alone (their `tuning` block), so a report
of any OUT shows a study without its tune.db."""

from __future__ import annotations

import math
from collections.abc import Sequence

from infermeter.reports.capacity import load_text
from infermeter.reports.figure_data import Figure, Point, Series
from infermeter.reports.grid import Grid
from infermeter.reports.table import fmt, ms_digits
from infermeter.results.record import CapacityResult


def settings_text(r: CapacityResult) -> str:
    t = r.tuning
    if t is None:
        return "-"
    parts = [f"{k}={v}" for k, v in sorted(t.settings.items())] + ([f"callers={t.callers}"] if t.callers is not None else [])
    return ", ".join(parts) or "the framework's defaults"


def state_text(r: CapacityResult) -> str:
    if r.status != "ok":
        return f"failed: {(r.error or '').splitlines()[0] if r.error else 'no reason recorded'}"
    if r.stopped == "pruned":
        return f"pruned: below {load_text('rate', r.upper)}/s cannot win"
    return "measured"


def cost_per_million(r: CapacityResult, price_per_core_hour: float | None = None) -> float | None:
    if r.tuning is None or not r.capacity:
        return None
    return r.tuning.cores * (price_per_core_hour or 1.0) / (r.capacity * 3600) * 1e6


def pareto(trials: Sequence[CapacityResult]) -> list[CapacityResult]:
    """The measured trials no other beats on all of capacity (higher), unloaded latency and cores (lower)."""
    done = [r for r in trials if r.status == "ok" and r.stopped != "pruned" and r.capacity and r.unloaded_ms is not None and r.tuning]

    def key(r: CapacityResult) -> tuple[float, float, float]:
        assert r.tuning is not None and r.capacity is not None and r.unloaded_ms is not None
        return -r.capacity, r.unloaded_ms, r.tuning.cores

    return [r for r in done if not any(all(a <= b for a, b in zip(key(o), key(r))) and key(o) != key(r) for o in done)]


def trials_grid(trials: Sequence[CapacityResult], best: CapacityResult | None = None, title: str = "tuning trials") -> Grid:
    front = {id(r) for r in pareto(trials)}
    g = Grid(title, ["trial", "settings", "capacity/s", "interval", "unloaded ms", "cores", "core-h per M req", "state"], left=2)
    for r in trials:
        t = r.tuning
        assert t is not None
        name = f"{t.number}" + (" (defaults)" if t.role == "default" else "") + (" best" if r is best else "") \
            + (" pareto" if id(r) in front and r is not best else "")
        interval = f"[{load_text('rate', r.capacity)}, {load_text('rate', r.upper)})" if r.capacity is not None else "-"
        cost = cost_per_million(r)
        g.add([name, settings_text(r), load_text("rate", r.capacity), interval, fmt(r.unloaded_ms, ms_digits(r.unloaded_ms)),
               f"{t.cores:g}", fmt(cost, 3) if cost is not None and math.isfinite(cost) else "-", state_text(r)],
              {7: "bad"} if r.status != "ok" else ({7: "warn"} if r.stopped == "pruned" else None))
    g.caption = ("capacity: the highest open-loop rate each trial served within the SLO (its interval: up to the lowest rate above "
                 "it that missed); unloaded ms: the SLO's percentile one request at a time; cores: what the settings reserve (threads "
                 "x callers or workers, at most the machine's). pareto: no other trial has more capacity, lower unloaded latency and "
                 "fewer cores at once. A pruned trial stopped once it could no longer beat the best one.")
    return g


def pareto_figure(trials: Sequence[CapacityResult], index: int = 0) -> Figure | None:
    """Capacity against unloaded latency, every measured trial; the Pareto front joined as a line."""
    done = [r for r in trials if r.status == "ok" and r.stopped != "pruned" and r.capacity and r.unloaded_ms is not None]
    if len(done) < 2:
        return None
    front = sorted(pareto(done), key=lambda r: r.capacity or 0.0)

    def point(r: CapacityResult) -> Point:
        return Point(r.capacity or 0.0, r.unloaded_ms or 0.0, note=f"trial {r.tuning.number if r.tuning else '?'}: {settings_text(r)}")

    series = [Series("every trial", [point(r) for r in sorted(done, key=lambda r: r.capacity or 0.0)], "#bab0ac", line=False),
              Series("Pareto front", [point(r) for r in front], "#4e79a7")]
    default = next((r for r in done if r.tuning and r.tuning.role == "default"), None)
    if default is not None:
        series.append(Series("defaults", [point(default)], "#e15759", line=False))
    label = done[0].target
    return Figure(f"tuning-pareto-{index}", f"tuning {label.split(' on ')[0]}: capacity against unloaded latency", "line",
                  "capacity (requests/s within the SLO)", "unloaded latency (ms, the SLO's percentile)", series,
                  caption="each measured trial of the study (pruned and failed ones are in the table); the front: the trials "
                          "no other beats on capacity, unloaded latency and cores at once.")


def studies(results: Sequence[CapacityResult]) -> dict[str, list[CapacityResult]]:
    """Capacity records of tuning trials, grouped by study, each study's trials in order (the last record of each)."""
    out: dict[str, dict[int, CapacityResult]] = {}
    for r in results:
        if r.tuning is not None and r.tuning.role != "confirm":
            out.setdefault(r.tuning.study, {})[r.tuning.number] = r
    return {name: [by[n] for n in sorted(by)] for name, by in out.items()}


def confirmation_text(results: Sequence[CapacityResult], study: str) -> str:
    """The capacities of the trials measured again after the study, per trial, in words ('' when none were)."""
    again: dict[int, list[float | None]] = {}
    for r in results:
        if r.tuning is not None and r.tuning.study == study and r.tuning.role == "confirm":
            again.setdefault(r.tuning.number, []).append(r.capacity)
    parts = [f"trial {n}: " + ", ".join(load_text("rate", c) for c in caps) + "/s" for n, caps in sorted(again.items())]
    return ("Measured again after the study, alternating (fresh searches, no pruning): " + "; ".join(parts) + ".") if parts else ""
