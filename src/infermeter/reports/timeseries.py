"""Load windows over time, as Locust draws them: requests/s and users (or requests in the system) each
second, and each second's p50/p99, the warm-up included (from the window's own series, loadgen/series.py).
One window per load point is drawn, its first repeat: warm-up tails, stalls and bursts are visible there.
"""

from __future__ import annotations

from typing import Any

from infermeter.reports.figure_data import Figure, Point, Series
from infermeter.reports.figures import slug

MAX_POINTS_DRAWN = 12  # load points drawn over time; the rest are named in the caption


def _windows(records: list[Any]) -> list[Any]:
    first: dict[str, Any] = {}
    for r in records:
        if r.kind in ("load", "server") and r.status == "ok" and r.metrics is not None and r.metrics.series and r.cell_id not in first:
            first[r.cell_id] = r
    return list(first.values())


def _name(r: Any) -> str:
    # a server cell names its workload and server; a load cell its (redacted) target
    where = f"{r.server.label}, {r.cell['workload']}" if r.kind == "server" else r.cell["target"]
    users, rate = r.cell["users"], r.cell["rate"]
    return f"{where}, " + (f"{users} users" if users is not None else f"{rate:g}/s offered" if rate is not None else "shaped")


def timeseries_figures(records: list[Any]) -> tuple[list[Figure], list[str]]:
    """Two figures a load point (latency; requests/s and load), and the points not drawn."""
    windows = _windows(records)
    figs: list[Figure] = []
    for i, r in enumerate(windows[:MAX_POINTS_DRAWN]):
        s = r.metrics.series
        seconds = [s["first_s"] + k for k in range(len(s["completed"]))]
        closed = r.cell["rate"] is None
        notes = [f"{c} completed, {f} failed, {a} {'users' if closed else 'in the system'}"
                 for c, f, a in zip(s["completed"], s["failures"], s["active"])]
        lat = [Series(name, [Point(t, y, note=n) for t, y, n in zip(seconds, s[key], notes) if y is not None], colour, dashed)
               for name, key, colour, dashed in (("p50", "p50_ms", "#4e79a7", False), ("p99", "p99_ms", "#e15759", True))]
        rate = [Series("completed/s", [Point(t, c, note=n) for t, c, n in zip(seconds, s["completed"], notes)], "#4e79a7"),
                Series("failed/s", [Point(t, f) for t, f in zip(seconds, s["failures"]) if f], "#e15759", markers=True, line=False),
                Series("users" if closed else "in the system", [Point(t, a) for t, a in zip(seconds, s["active"])], "#59a14f", True)]
        name = _name(r)
        caption = ("second 0 is the start of the measured window; the seconds before it are the warm-up (not counted). "
                   + ("" if closed else "Latency counts from each request's scheduled time. "))
        figs.append(Figure(slug("over-time-latency", i, r.cell_id), f"{name}: latency each second", "line",
                           "seconds from the window's start", "latency (ms)", [x for x in lat if x.points], caption=caption))
        figs.append(Figure(slug("over-time-rate", i, r.cell_id), f"{name}: requests each second", "line",
                           "seconds from the window's start", "requests/s, users", [x for x in rate if x.points], caption=caption))
    left = [_name(r) for r in windows[MAX_POINTS_DRAWN:]]
    return figs, left
