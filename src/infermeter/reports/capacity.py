"""A capacity search as tables: the answer (one row per search) and the evidence (one row per probe, in the
order probed), shared by the terminal and the report."""

from __future__ import annotations

from collections.abc import Sequence

from infermeter.reports.figure_data import Figure, Point, Series
from infermeter.reports.grid import Grid
from infermeter.reports.table import fmt, ms_digits
from infermeter.results.record import CapacityResult


def load_text(mode: str, x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}" if mode == "users" else f"{x:.4g}"


def answer_text(r: CapacityResult) -> str:
    """The capacity in words: the number with its interval, or why there is none."""
    unit = "users" if r.mode == "users" else "requests/s offered"
    if r.capacity is None:
        if r.stopped == "generator limit":
            return "not found: the generator could not offer any load probed here (see the probes)"
        if r.stopped == "too few requests":
            below = f" at or below {load_text(r.mode, r.upper)}/s" if r.upper is not None else ""
            return (f"not found: every rate probed{below} missed, and lower rates hold too few requests for a verdict even in the "
                    "longest probe window (a longer --max-duration lets them)")
        return "no load meets it" if r.stopped == "no load meets it" else f"not found ({r.stopped})"
    if r.upper is None:
        return f"at least {load_text(r.mode, r.capacity)} {unit} ({'the ceiling was reached' if r.stopped == 'ceiling' else r.stopped})"
    top = f"below {load_text(r.mode, r.upper)}"
    if r.stopped == "generator limit":
        return f"at least {load_text(r.mode, r.capacity)} {unit}; {top} could not be offered by the generator here"
    return f"{load_text(r.mode, r.capacity)} {unit} ({top}{'' if r.stopped == 'resolution' else f'; stopped: {r.stopped}'})"


def capacity_grid(results: Sequence[CapacityResult], title: str = "capacity") -> Grid:
    g = Grid(title, ["target", "mode", "SLO", "capacity", "interval", "stopped", "knee", "unloaded ms", "probes"], left=3)
    for r in results:
        interval = f"[{load_text(r.mode, r.capacity)}, {load_text(r.mode, r.upper)})" if r.capacity is not None else "-"
        g.add([str(r.cell.get("label") or r.cell.get("target") or r.cell_id), "open loop (rate/s)" if r.mode == "rate" else "closed loop (users)",
               r.slo, load_text(r.mode, r.capacity), interval, r.stopped, load_text(r.mode, r.knee),
               fmt(r.unloaded_ms, ms_digits(r.unloaded_ms)), str(len(r.probes))],
              {3: "bad"} if r.capacity is None else None)
    g.caption = ("capacity: the highest load probed that met the SLO; interval: up to the lowest load above it that did not. knee: "
                 "the highest rate whose median latency stayed within twice the unloaded median (one user). unloaded ms: the SLO's "
                 "percentile at one user. A probe the generator could not offer is a ceiling, never a capacity.")
    return g


def probes_grid(r: CapacityResult) -> Grid:
    """The probes in the order measured; each one's reason is in probe_reasons (a line each)."""
    percentile = r.slo.split("<=")[0]
    g = Grid(f"{'open loop' if r.mode == 'rate' else 'closed loop'} probes against {r.slo}",
             ["#", "users" if r.mode == "users" else "rate/s", "decision", "verdict", f"{percentile} ms", "p50 ms", "offered/s",
              "completed/s", "goodput/s", "requests"], left=1)
    for i, p in enumerate(r.probes, start=1):
        g.add([str(i), load_text(r.mode, p.load) + (" (curve)" if p.role == "curve" else ""), p.decision, p.verdict or "-",
               fmt(p.latency_ms, ms_digits(p.latency_ms)), fmt(p.p50_ms, ms_digits(p.p50_ms)), fmt(p.offered_per_s, 1), fmt(p.completed_per_s, 1), fmt(p.goodput_rps, 1), str(p.requests or "-")],
              {2: "bad" if p.decision == "misses" else "warn"} if p.decision != "meets" else None)
    return g


def probe_reasons(r: CapacityResult) -> list[str]:
    return [f"{i}. {load_text(r.mode, p.load)}{' users' if r.mode == 'users' else '/s'}: {p.decision}: {p.why}"
            for i, p in enumerate(r.probes, start=1)]


def curve_figure(r: CapacityResult, index: int) -> Figure | None:
    """An open-loop search's latency against offered rate: the SLO's percentile and the median of every probe
    judged, the SLO's bound, and the knee and the capacity marked."""
    if r.mode != "rate":
        return None
    probes = sorted((p for p in r.probes if p.decision != "vetoed" and p.latency_ms is not None), key=lambda p: p.load)
    if len(probes) < 2:
        return None
    percentile = r.slo.split("<=")[0]

    def note(p: object) -> str:
        return f"{getattr(p, 'decision')}: {getattr(p, 'why')}"

    series = [
        Series(f"{percentile}", [Point(p.load, p.latency_ms, note=note(p)) for p in probes], "#4e79a7"),  # type: ignore[arg-type]
        Series("p50", [Point(p.load, p.p50_ms, note=note(p)) for p in probes if p.p50_ms is not None], "#4e79a7", dashed=True),
        Series(f"bound {r.slo}", [Point(probes[0].load, _bound_ms(r)), Point(probes[-1].load, _bound_ms(r))], "#e15759",
               dashed=True, markers=False),
    ]
    for name, x, colour in (("capacity", r.capacity, "#59a14f"), ("knee", r.knee, "#f28e2b")):
        match = next((p for p in probes if p.load == x), None)
        if match is not None and match.latency_ms is not None:
            series.append(Series(name, [Point(x, match.latency_ms, note=f"{name}: {load_text(r.mode, x)}/s")], colour))  # type: ignore[arg-type]
    label = str(r.cell.get("label") or r.cell.get("target") or r.cell_id)
    return Figure(f"capacity-curve-{index}", f"{label}: latency against offered rate ({r.slo})", "line",
                  "offered rate (requests/s, open loop)", "latency (ms)", series,
                  caption=f"each probe of the capacity search; capacity {answer_text(r)}; knee: the highest rate whose median stayed "
                          "within twice the unloaded median. Latency counts from each request's scheduled time.")


def _bound_ms(r: CapacityResult) -> float:
    from infermeter.results.slo import parse_slo

    return parse_slo(r.slo, "a capacity record").bound_ms
