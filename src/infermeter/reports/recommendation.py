"""The deployment recommendation: per workload and SLO, the configuration with the highest capacity under
that SLO among every open-loop capacity search in the report (`infermeter capacity` targets and every
measured `infermeter tune` trial), with its interval, its headroom at a stated traffic level, its cost
per million requests where the cores it reserves are known, the runners-up, and what the figure is not
(the machine it was measured on, the load generator beside it, the model's weights)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from infermeter.reports.capacity import answer_text, load_text
from infermeter.reports.grid import Grid
from infermeter.results.environment import environment_of
from infermeter.results.metadata import machine_line
from infermeter.results.record import AnyRecord, CapacityResult


@dataclass
class Recommendation:
    workload: str
    slo: str
    chosen: CapacityResult
    others: list[CapacityResult] = field(default_factory=list)  # the rest, best first
    caveats: list[str] = field(default_factory=list)

    def headroom(self, traffic: float | None) -> float | None:
        """How far above `traffic` the capacity is (0.5: 50% more), None without a traffic level."""
        return None if traffic is None or not self.chosen.capacity else self.chosen.capacity / traffic - 1


def configuration(r: CapacityResult) -> str:
    return r.target + (f", {r.callers} callers" if r.callers and r.in_process else "")


def candidates(capacity: Sequence[CapacityResult]) -> list[CapacityResult]:
    """Open-loop searches that found a capacity (tuning trials that were measured to the end included)."""
    return [r for r in capacity if r.mode == "rate" and r.status == "ok" and r.capacity and r.stopped != "pruned"]


def recommend(capacity: Sequence[CapacityResult], records: Sequence[AnyRecord] = ()) -> list[Recommendation]:
    windows = {r.cell_id: r for r in records}
    groups: dict[tuple[str, str], list[CapacityResult]] = {}
    for r in candidates(capacity):
        groups.setdefault((r.workload or "HTTP endpoint", r.slo), []).append(r)
    out = []
    for (workload, slo), rows in groups.items():
        searched = _by_configuration(rows)
        ranked = sorted((_median_search(same) for same in searched.values()), key=lambda r: -(r.capacity or 0.0))
        chosen = ranked[0]
        out.append(Recommendation(workload, slo, chosen, ranked[1:], _caveats(chosen, searched[configuration(chosen)], windows)))
    return out


def _by_configuration(rows: Sequence[CapacityResult]) -> dict[str, list[CapacityResult]]:
    by: dict[str, list[CapacityResult]] = {}
    for r in rows:
        by.setdefault(configuration(r), []).append(r)
    return by


def _median_search(same: Sequence[CapacityResult]) -> CapacityResult:
    """A configuration searched more than once (a tuning trial and its confirmation rounds, a capacity search run
    again) stands by its median search, the lower of the middle two: not by its luckiest."""
    ordered = sorted(same, key=lambda r: r.capacity or 0.0)
    return ordered[(len(ordered) - 1) // 2]


def _caveats(r: CapacityResult, same: Sequence[CapacityResult], windows: dict[str, AnyRecord]) -> list[str]:
    said = [f"measured on {machine_line(r.machine)}: another machine serves another rate"]
    if len(same) > 1:
        said.append(f"searched {len(same)} times ({', '.join(load_text('rate', x.capacity) for x in sorted(same, key=lambda x: x.capacity or 0.0))}/s): "
                    "the median search stands")
    if r.in_process:
        said.append("in process: no network, no server, no request decoding; a server in front adds its own time")
    else:
        said.append("the load generator ran on the same machine (one process), taking some of its CPU")
    if r.stopped == "generator limit":
        said.append("the generator could not offer more: the capacity is a lower bound")
    above = (f"within {100 * r.resolution:g}% of the lowest that missed" if r.stopped == "resolution"
             else f"the search stopped at its {r.stopped} before a rate missed it" if r.upper is None
             else f"the search stopped at its {r.stopped}, the lowest rate that missed {r.upper:.4g}/s")
    said.append(f"Poisson arrivals; the capacity is the highest rate probed that met {r.slo}, {above}; not a confidence interval")
    probed = [windows[p.cell_id] for p in r.probes if p.cell_id in windows]
    weights = next((w.weights for w in environment_of(probed).workloads if w.weights), None)
    if weights:
        said.append(f"model weights: {weights}")
    return said


def recommendation_grid(recs: Sequence[Recommendation], traffic: float | None = None) -> Grid:
    g = Grid("deployment recommendation", ["workload", "SLO", "configuration", "capacity", "headroom", "core-h per M req", "runner-up"],
             left=3)
    for rec in recs:
        r = rec.chosen
        head = rec.headroom(traffic)
        cost = r.tuning.cores / ((r.capacity or 1.0) * 3600) * 1e6 if r.tuning is not None else None
        runner = f"{configuration(rec.others[0])}: {load_text('rate', rec.others[0].capacity)}/s" if rec.others else "-"
        g.add([rec.workload, rec.slo, configuration(r), answer_text(r),
               f"{100 * head:+.0f}% at {traffic:g}/s" if head is not None else "-",
               f"{cost:.3f}" if cost is not None else "-", runner],
              {4: "bad"} if head is not None and head < 0 else None)
    g.caption = ("per workload and SLO, the configuration whose open-loop capacity under the SLO is highest of every capacity search "
                 "and tuning trial in this report. headroom: how far the capacity is above the traffic level given (infermeter report "
                 "--traffic); negative: it does not serve that traffic within the SLO. core-h per M req: the core-hours the "
                 "setting reserves per million requests at its capacity (tuning trials, where its cores are known). A configuration "
                 "searched more than once (a trial and its confirmation rounds) stands by its median search.")
    return g
