"""Tables shaped like the studies': one row per framework (or engine), one column per virtual-user
count, offered rate or batch size, one table per metric and workload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infermeter.reports.figures import Row, by_workload, ok
from infermeter.reports.grid import Grid
from infermeter.reports.table import energy_cell, fmt, ms, pm
from infermeter.results.stats import RepeatStats

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
_MEAN_CAPTION = "each window's mean latency, averaged over repeats ± 95% interval (the studies' tables give means)"


def ms_pm(s: RepeatStats) -> str:
    """A latency in ms with its interval over repeats, each to three significant digits."""
    if s.n == 0:
        return "-"
    if s.n == 1 or s.ci95 != s.ci95:
        return ms(s.mean)
    return f"{ms(s.mean)} ±{ms(s.ci95)}"


def mean_latency(r: Row) -> str:
    return ms_pm(r.mean_ms)


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
            out.append(pivot(f"{workload}: mean latency (ms) by framework and {by}", pts, "server", axis,
                             mean_latency, corner, _MEAN_CAPTION, col_name))
            for p in ("p50", "p99"):
                out.append(pivot(f"{workload}: {p} latency (ms) by framework and {by}", pts, "server", axis,
                                 lambda r, p=p: ms(r.latency.at(p)), corner, _LAT_CAPTION, col_name))
            if any(r.failure_rate.mean > 0 for r in pts):
                out.append(pivot(f"{workload}: failed requests (%) by framework and {by}", pts, "server", axis,
                                 lambda r: fmt(100 * r.failure_rate.mean, 1), corner,
                                 "non-2xx answers, timeouts and connection errors, over all requests sent", col_name))
                out.append(pivot(f"{workload}: failures/s by framework and {by}", pts, "server", axis,
                                 lambda r: pm(r.failures_per_s, 2), corner, _PM_CAPTION, col_name))
    return [g for g in out + across_models(servers) if g]


def across_models(servers: list[Row]) -> list[Grid | None]:
    """Framework x workload at one user and at the highest user count all of them were run at: the studies'
    tables across models. Only where more than one workload was served at that count."""
    closed = [r for r in ok(servers) if r.users is not None and r.rate is None]
    out: list[Grid | None] = []
    counts = sorted({r.users for r in closed})
    for users in dict.fromkeys(c for c in (1, counts[-1] if counts else None) if c in counts):
        pts = [r for r in closed if r.users == users]
        if len({r.workload for r in pts}) < 2:
            continue
        at = "one virtual user" if users == 1 else f"{users} virtual users"
        corner = "framework \\ workload"
        out.append(pivot(f"across models at {at}: mean latency (ms)", pts, "server", "workload", mean_latency, corner, _MEAN_CAPTION))
        out.append(pivot(f"across models at {at}: requests/s", pts, "server", "workload", lambda r: pm(r.throughput, 1), corner, _PM_CAPTION))
    return out


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

