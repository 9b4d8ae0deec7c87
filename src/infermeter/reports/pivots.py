"""Tables shaped like the studies': one row per framework (or engine), one column per virtual-user
count, offered rate or batch size, one table per metric and workload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infermeter.reports.figures import Row, by_workload, ok
from infermeter.reports.grid import Grid
from infermeter.reports.table import energy_cell, fmt, ms, pm
Cell = Callable[[Row], str]


def pivot(title: str, rows: list[Row], row_key: str, col_key: str, cell: Cell, corner: str, caption: str = "",
          col_name: Callable[[Any], str] = str) -> Grid | None:
    cols = sorted({getattr(r, col_key) for r in rows if getattr(r, col_key) is not None})
    names = list(dict.fromkeys(getattr(r, row_key) for r in rows))
    if not cols or not names:
        return None
    at = {(getattr(r, row_key), getattr(r, col_key)): r for r in rows}
    g = Grid(title, [corner, *map(col_name, cols)], caption=caption)
    for name in names:
        g.add([str(name), *(cell(at[(name, c)]) if (name, c) in at else "-" for c in cols)])
    return g


_LAT_CAPTION = "from all repeats' merged histograms"
_PM_CAPTION = "mean over repeats ± 95% interval"


def server_pivots(servers: list[Row]) -> list[Grid]:
    """Per workload: requests/s, p50, p99 and failures by framework x virtual users (and x offered rate)."""
    out: list[Grid | None] = []
    for workload, rows in by_workload(ok(servers)).items():
        for axis, corner, col_name in (("users", "framework \\ virtual users", str), ("rate", "framework \\ offered rate /s", lambda v: f"{v:g}")):
            pts = [r for r in rows if getattr(r, axis) is not None]
            if not pts:
                continue
            by = "virtual users" if axis == "users" else "offered rate"
            out.append(pivot(f"{workload}: requests/s by framework and {by}", pts, "server", axis,
                             lambda r: pm(r.throughput, 1), corner, _PM_CAPTION, col_name))
            for p in ("p50", "p99"):
                out.append(pivot(f"{workload}: {p} latency (ms) by framework and {by}", pts, "server", axis,
                                 lambda r, p=p: ms(r.latency.at(p)), corner, _LAT_CAPTION, col_name))
            if any(r.failure_rate.mean > 0 for r in pts):
                out.append(pivot(f"{workload}: failed requests (%) by framework and {by}", pts, "server", axis,
                                 lambda r: fmt(100 * r.failure_rate.mean, 1), corner,
                                 "non-2xx answers, timeouts and connection errors, over all requests sent", col_name))
    return [g for g in out if g]


def engine_pivots(engines: list[Row]) -> list[Grid]:
    """Per workload with more than one batch size: samples/s, p50, peak memory and energy by engine x batch."""
    out: list[Grid | None] = []
    for workload, rows in by_workload(ok(engines)).items():
        pts = [r for r in rows if (r.concurrency or 1) == 1 and r.rate is None and (r.scenario == "offline" or r.batch_size != 1)]
        if len({r.batch_size for r in pts}) < 2:
            continue
        corner = "engine \\ batch size"
        out.append(pivot(f"{workload}: samples/s by engine and batch size", pts, "engine", "batch_size",
                         lambda r: pm(r.throughput, 1), corner, _PM_CAPTION + "; one caller, in process"))
        out.append(pivot(f"{workload}: p50 latency per batch (ms) by engine and batch size", pts, "engine", "batch_size",
                         lambda r: ms(r.latency.p50), corner, _LAT_CAPTION))
        out.append(pivot(f"{workload}: peak memory (MB) by engine and batch size", pts, "engine", "batch_size",
                         lambda r: fmt(r.peak_rss_mb, 0), corner, "peak resident memory of the measuring process"))
        out.append(pivot(f"{workload}: joules per 1,000 inferences by engine and batch size", pts, "engine", "batch_size",
                         energy_cell, corner, "'est': estimated from CPU time, not measured"))
    return [g for g in out if g]

