"""The report's figures, drawn from cell summaries (results/summary.py): throughput and latency against
virtual users and offered rate per framework, latency at one user per framework and model, throughput,
memory and energy against batch size, load and first-inference time, and latency CDFs from the merged
histograms. A figure with nothing to show is left out and named in `not_drawn` with the reason."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from infermeter.reports.figure_data import Colours, Figure, Point, Series, finite, interval
from infermeter.results.summary import AnySummary

Row = AnySummary

# Quantiles a CDF is drawn at: half-percent steps to p90, then ten per decade into the tail (p99, p99.9,
# p99.99), then the maximum.
CDF_QUANTILES = sorted({q / 2 for q in range(0, 181)} | {round(100 - 10 ** (1 - k / 10), 6) for k in range(0, 31)} | {100.0})


def slug(*parts: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "-", "-".join(map(str, parts)).lower()).strip("-")


def ok(rows: Iterable[Row]) -> list[Row]:
    """The cells with figures to show (an ok repeat, and latencies)."""
    return [r for r in rows if r.measured and r.latency is not None]


def by_workload(rows: Iterable[Row]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        out[str(r.workload)].append(r)
    return dict(out)


def y_scale_for(values: Iterable[float]) -> str:
    """Log axis when the values span more than two decades (else the small ones sit on the floor)."""
    v = [x for x in values if finite(x) and x > 0]
    return "log10" if v and max(v) / min(v) > 100 else "linear"


def _latency_note(r: Row) -> str:
    lat = r.latency
    return f"p50 {lat.p50:.3g} ms, p90 {lat.p90:.3g} ms, p99 {lat.p99:.3g} ms, {lat.count} samples"


def _line(fid: str, title: str, x_label: str, y_label: str, series: list[Series], x_scale: str, caption: str = "",
          y_scale: str | None = None) -> Figure | None:
    series = [s for s in series if s.points]
    if not series:
        return None
    ys = [p.y for s in series for p in s.points]
    return Figure(fid, title, "line", x_label, y_label, series, x_scale, y_scale or y_scale_for(ys), caption)  # type: ignore[arg-type]


def _bars(fid: str, title: str, y_label: str, categories: list[str], series: list[Series], caption: str = "",
          x_label: str = "") -> Figure | None:
    series = [s for s in series if s.points]
    if not series:
        return None
    ys = [p.y for s in series for p in s.points]
    return Figure(fid, title, "bar", x_label, y_label, series, "category", y_scale_for(ys), caption, categories)  # type: ignore[arg-type]


# ---- servers under load -------------------------------------------------------------------------------


def server_load_figures(servers: list[Row], colour: Colours) -> list[Figure]:
    """Per workload: throughput and latency (p50 solid, p99 dashed) against virtual users, and latency
    against offered rate for open-loop points."""
    figs: list[Figure | None] = []
    for workload, rows in by_workload(ok(servers)).items():
        closed = [r for r in rows if r.users is not None]
        opened = [r for r in rows if r.rate is not None]
        labels = list(dict.fromkeys(r.server for r in rows))
        if closed:
            thr, lat = [], []
            for label in labels:
                pts = sorted((r for r in closed if r.server == label), key=lambda r: r.users)
                thr.append(Series(label, [Point(r.users, r.throughput.mean, *interval(r.throughput.mean, r.throughput.ci95),
                                                note=_latency_note(r)) for r in pts], colour(label)))
                lat += _p50_p99(label, pts, "users", colour)
            figs.append(_line(slug("throughput-vs-users", workload), f"{workload}: throughput against virtual users",
                              "virtual users (closed loop)", "requests/s", thr, "linear",
                              "mean over repeats; bars: 95% interval. Each user sends its next request when the last returns."))
            figs.append(_line(slug("latency-vs-users", workload), f"{workload}: latency against virtual users",
                              "virtual users (closed loop)", "latency (ms)", lat, "linear",
                              "solid: p50, dashed: p99, both from the repeats' merged histograms."))
        if opened:
            lat = []
            for label in labels:
                pts = sorted((r for r in opened if r.server == label), key=lambda r: r.rate)
                lat += _p50_p99(label, pts, "rate", colour)
            figs.append(_line(slug("latency-vs-rate", workload), f"{workload}: latency against offered rate",
                              "offered rate (requests/s, open loop)", "latency (ms)", lat, "linear",
                              "solid: p50, dashed: p99; latency counts from each request's scheduled time."))
    return [f for f in figs if f]


def _p50_p99(label: str, rows: list[Row], x: str, colour: Colours) -> list[Series]:
    def note(r: Row) -> str:
        return f"{r.throughput.mean:.4g} requests/s achieved; " + _latency_note(r)

    return [
        Series(f"{label} p50", [Point(getattr(r, x), r.latency.p50, note=note(r)) for r in rows], colour(label)),
        Series(f"{label} p99", [Point(getattr(r, x), r.latency.p99, note=note(r)) for r in rows], colour(label), dashed=True),
    ]


def one_user_latency_figure(engines: list[Row], servers: list[Row], colour: Colours) -> Figure | None:
    """p50 at one user per framework and model, with the in-process engines at batch 1 beside them."""
    values: dict[str, dict[str, Row]] = defaultdict(dict)
    for r in ok(servers):
        if r.users == 1:
            values[r.server][str(r.workload)] = r
    for r in batch_one(engines):
        values[f"in process: {r.engine}"][str(r.workload)] = r
    categories = list(dict.fromkeys(w for per in values.values() for w in per))
    series = [Series(label, [Point(w, per[w].latency.p50, note=_latency_note(per[w])) for w in categories if w in per],
                     colour(label.removeprefix("in process: ")))
              for label, per in values.items()]
    return _bars("latency-at-one-user", "Latency at one user, per framework and model", "p50 latency (ms)", categories, series,
                 "servers: one virtual user; in process: batch 1, one caller (no network, no server). "
                 "p50 from merged histograms; hover for p90 and p99.", x_label="model")


def mean_latency_at_one_user_figure(servers: list[Row], colour: Colours) -> Figure | None:
    """The DL-serving study's Fig. 1: mean latency at one user per model and framework, with the spread over
    its runs (each repeat's mean; the bar runs from the lowest to the highest)."""
    values: dict[str, dict[str, Row]] = defaultdict(dict)
    for r in ok(servers):
        if r.users == 1 and r.mean_ms.n:
            values[r.server][str(r.workload)] = r
    categories = list(dict.fromkeys(w for per in values.values() for w in per))
    series = [Series(label, [Point(w, (m := per[w].mean_ms).mean, m.min, m.max,
                                   note=f"mean over {m.n} repeats; lowest {m.min:.4g}, highest {m.max:.4g} ms")
                             for w in categories if w in per], colour(label))
              for label, per in values.items()]
    return _bars("mean-latency-at-one-user", "Mean latency at one user, per framework and model, with its spread over runs",
                 "mean latency (ms)", categories, series,
                 "each repeat's mean latency at one virtual user; the bar is their mean, the whisker runs from the lowest "
                 "repeat to the highest.", x_label="model")


def batch_one(engines: list[Row]) -> list[Row]:
    """One cell per (workload, engine) at batch 1: single-stream if there is one, else offline batch 1 (an
    open-loop cell's latency holds its queueing: never this figure's)."""
    chosen: dict[tuple[str, str], Row] = {}
    for r in ok(engines):
        if r.batch_size != 1 or (r.concurrency or 1) != 1 or r.rate is not None:
            continue
        key = (str(r.workload), r.engine)
        if key not in chosen or r.scenario == "single-stream":
            chosen[key] = r
    return list(chosen.values())


# ---- engines in process ----------------------------------------------------------------------------------


def _sweep(rows: list[Row]) -> dict[str, list[Row]]:
    """Per engine, its one-caller closed-loop cells by batch size (offline preferred over single-stream at batch 1)."""
    per: dict[str, dict[int, Row]] = defaultdict(dict)
    for r in rows:
        if (r.concurrency or 1) != 1 or r.batch_size is None or r.rate is not None:
            continue
        b = r.batch_size
        if b not in per[r.engine] or r.scenario == "offline":
            per[r.engine][b] = r
    return {e: [cells[b] for b in sorted(cells)] for e, cells in per.items()}


def batch_figures(engines: list[Row], colour: Colours) -> tuple[list[Figure], list[str]]:
    """Per workload with a batch sweep: throughput, peak memory and energy against batch size (log2)."""
    figs: list[Figure | None] = []
    not_drawn: list[str] = []
    for workload, rows in by_workload(ok(engines)).items():
        sweep = _sweep(rows)
        if len({r.batch_size for cells in sweep.values() for r in cells}) < 2:
            not_drawn.append(f"{workload}: throughput, memory and energy against batch size (one batch size only; "
                             "add an offline scenario with batch_sizes: [1, 2, 4, ...])")
            continue

        def series(value: Callable[[Row], tuple[float | None, float | None, float | None]], note: Callable[[Row], str]) -> list[Series]:
            out = []
            for engine, cells in sweep.items():
                pts = []
                for r in cells:
                    y, lo, hi = value(r)
                    if finite(y):
                        pts.append(Point(r.batch_size, y, lo, hi, note(r)))
                out.append(Series(engine, pts, colour(engine)))
            return out

        def thr(r: Row) -> tuple[float | None, float | None, float | None]:
            return (r.throughput.mean, *interval(r.throughput.mean, r.throughput.ci95))

        figs.append(_line(slug("throughput-vs-batch", workload), f"{workload}: throughput against batch size", "batch size",
                          "samples/s", series(thr, lambda r: f"p50 {r.latency.p50:.3g} ms per batch; " + _latency_note(r)),
                          "log2", "mean over repeats; bars: 95% interval. One caller, in process."))
        figs.append(_line(slug("memory-vs-batch", workload), f"{workload}: peak memory against batch size", "batch size",
                          "peak RSS (MB)", series(lambda r: (r.peak_rss_mb, None, None), _memory_note),
                          "log2", "peak resident memory of the measuring process (model, runtime and inputs), max over repeats."))
        energy = _line(slug("energy-vs-batch", workload), f"{workload}: energy per 1,000 inferences against batch size",
                       "batch size", "joules per 1,000 inferences", series(_energy_value, _energy_note), "log2", energy_caption(rows))
        if energy:
            figs.append(energy)
        else:
            not_drawn.append(f"{workload}: energy against batch size (no energy figure in these records)")
    return [f for f in figs if f], not_drawn


def multi_metric_figures(engines: list[Row], colour: Colours) -> list[Figure]:
    """Per engine configuration measured on two or more workloads, every metric of it as bars, one bar per
    workload (the shape of the ORT-vs-TensorRT study's Fig. 1 and 2): latency at batch 1, the highest
    throughput of its batch sweep and that cell's CPU, memory and GPU use, and the model's size."""
    figs: list[Figure | None] = []
    per: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    for r in ok(engines):
        if (r.concurrency or 1) == 1 and r.rate is None:
            per[r.engine][str(r.workload)].append(r)
    one = {(str(r.workload), r.engine): r for r in batch_one(engines)}
    for engine, by_workload_rows in per.items():
        if len(by_workload_rows) < 2:
            continue
        metrics: dict[str, list[Point]] = defaultdict(list)
        for workload, rows in by_workload_rows.items():
            top = max(rows, key=lambda r: r.throughput.mean)
            at = f"at batch {top.batch_size}"
            values = [("p50 latency, batch 1 (ms)", one[(workload, engine)].latency.p50 if (workload, engine) in one else None, "batch 1"),
                      ("throughput (samples/s)", top.throughput.mean, f"the sweep's highest, {at}"),
                      ("CPU (%)", top.cpu.mean, at), ("peak memory (MB)", top.peak_rss_mb, at),
                      ("GPU utilisation (%)", top.gpu.utilization_percent.mean if top.gpu else None, at),
                      ("model size (MB)", top.artifact_mb, "the exported artifact")]
            for name, y, note in values:
                if finite(y) and y > 0:
                    metrics[workload].append(Point(name, y, note=f"{y:.4g} ({note})"))
        categories = list(dict.fromkeys(p.x for pts in metrics.values() for p in pts))
        series = [Series(w, pts, colour(f"workload: {w}")) for w, pts in metrics.items()]
        fig = _bars(slug("metrics", engine), f"{engine}: every metric, {' against '.join(metrics)}", "value (each in its own unit)",
                    categories, series, "one configuration, each workload a bar per metric (log scale: the units differ); "
                    "throughput, CPU, memory and GPU at the batch of the highest throughput, latency at batch 1.", x_label="metric")
        if fig:
            fig.y_scale = "log10"
            figs.append(fig)
    return [f for f in figs if f]


def _memory_note(r: Row) -> str:
    delta = r.peak_rss_delta_mb
    return "" if delta is None else f"{delta:.0f} MB above the process before loading"


def _energy_value(r: Row) -> tuple[float | None, float | None, float | None]:
    e = r.energy_per_1000
    if e.n == 0:
        return None, None, None
    return (e.mean, *interval(e.mean, e.ci95))


def _energy_note(r: Row) -> str:
    return "estimate from CPU time, not measured" if r.energy_source == "estimate" else f"source: {r.energy_source}"


def energy_caption(rows: list[Row]) -> str:
    sources = {r.energy_source for r in rows}
    if "estimate" in sources:
        return ("ESTIMATE, not a measurement: CPU-seconds of the measured processes x energy.cpu_watts_per_core "
                "(no readable RAPL counters here). Use it to rank, not as watts.")
    return "measured from RAPL package counters (whole CPU package, so other processes count too)."


def server_energy_figures(servers: list[Row], colour: Colours) -> list[Figure]:
    figs = []
    for workload, rows in by_workload(ok(servers)).items():
        closed = [r for r in rows if r.users is not None]
        series = []
        for label in dict.fromkeys(r.server for r in closed):
            pts = []
            for r in sorted((r for r in closed if r.server == label), key=lambda r: r.users):
                y, lo, hi = _energy_value(r)
                if finite(y):
                    pts.append(Point(r.users, y, lo, hi, _energy_note(r)))
            series.append(Series(label, pts, colour(label)))
        fig = _line(slug("energy-vs-users", workload), f"{workload}: energy per 1,000 requests against virtual users",
                    "virtual users (closed loop)", "joules per 1,000 requests", series, "linear",
                    energy_caption(closed) + " Server process tree only; the load generator is not counted.")
        if fig:
            figs.append(fig)
    return figs


def startup_figures(engines: list[Row], servers: list[Row], colour: Colours) -> list[Figure]:
    """Per workload: load (cold and with the engine's cache warm), first inference, and servers' cold start."""
    figs = []
    workloads = list(dict.fromkeys(str(r.workload) for r in ok(engines) + ok(servers)))
    kinds = [("export / convert", "convert_s"), ("load, cold", "load_s"), ("load, engine cache warm", "load_cached_s"),
             ("first inference", "first_inference_s"), ("server start to ready", "cold_start_s")]
    for workload in workloads:
        first: dict[str, Row] = {}
        for r in ok(engines) + ok(servers):
            if str(r.workload) == workload:
                first.setdefault(getattr(r, "server", None) or getattr(r, "engine", ""), r)
        series = [Series(name, [Point(label, getattr(r, key), note=f"{getattr(r, key):.3g} s") for label, r in first.items()
                                if finite(getattr(r, key, None))],
                         colour(f"startup: {name}"))
                  for name, key in kinds]
        fig = _bars(slug("startup", workload), f"{workload}: load and first-inference time", "seconds", list(first), series,
                    "engines: export once (cached after), load into the runtime in a fresh process, then the first call; "
                    "servers: from launch to ready (model loaded, health check answered).")
        if fig:
            figs.append(fig)
    return figs


# ---- GPU ------------------------------------------------------------------------------------------------


def gpu_figures(engines: list[Row], servers: list[Row], colour: Colours) -> list[Figure]:
    """Per workload, where windows ran with NVML figures: GPU memory against batch size (engines), utilisation
    against virtual users (servers), and power against throughput (both: each point one cell)."""
    figs: list[Figure | None] = []
    note = "NVML sampled every 0.1 s over each window (collectors/gpu.py)"
    for workload, rows in by_workload(r for r in ok(engines) if r.gpu is not None).items():
        sweep = _sweep(rows)
        if len({r.batch_size for cells in sweep.values() for r in cells}) >= 2:
            series = [Series(e, [Point(r.batch_size, r.gpu.memory_peak_mb, note=_gpu_memory_note(r)) for r in cells], colour(e))
                      for e, cells in sweep.items()]
            figs.append(_line(slug("gpu-memory-vs-batch", workload), f"{workload}: GPU memory against batch size", "batch size",
                              "device memory peak (MB)", series, "log2", f"{note}; the device's peak, max over repeats."))
    for workload, rows in by_workload(r for r in ok(servers) if r.gpu is not None and r.users is not None).items():
        series = []
        for label in dict.fromkeys(r.server for r in rows):
            pts = [Point(r.users, r.gpu.utilization_percent.mean, *interval(r.gpu.utilization_percent.mean, r.gpu.utilization_percent.ci95),
                         note=f"{r.throughput.mean:.3g} req/s")
                   for r in sorted((r for r in rows if r.server == label), key=lambda r: r.users)]
            series.append(Series(label, pts, colour(label)))
        figs.append(_line(slug("gpu-util-vs-users", workload), f"{workload}: GPU utilisation against virtual users",
                          "virtual users (closed loop)", "GPU utilisation (%)", series, "linear",
                          f"{note}: each window's mean of its samples, then the mean over repeats; bars: 95% interval.", "linear"))
    targets = [(f"in process: {r.engine}", r.engine, r) for r in ok(engines) if r.gpu is not None and (r.concurrency or 1) == 1]
    targets += [(r.server, r.server, r) for r in ok(servers) if r.gpu is not None]
    for workload in dict.fromkeys(str(r.workload) for _, _, r in targets):
        series = []
        for name in dict.fromkeys(n for n, _, r in targets if str(r.workload) == workload):
            cells = sorted((r for n, _, r in targets if n == name and str(r.workload) == workload), key=lambda r: r.throughput.mean)
            pts = [Point(r.throughput.mean, r.gpu.watts.mean, *interval(r.gpu.watts.mean, r.gpu.watts.ci95), note=_where_gpu(r))
                   for r in cells if finite(r.gpu.watts.mean) and finite(r.throughput.mean)]
            series.append(Series(name, pts, colour(next(k for n, k, _ in targets if n == name))))
        figs.append(_line(slug("power-vs-throughput", workload), f"{workload}: GPU power against throughput",
                          "throughput (samples/s in process, requests/s for servers)", "GPU power (W)", series, "log10",
                          f"{note}; power from the device's energy counter where it has one, else sampled (see the GPU table)."))
    return [f for f in figs if f]


def _gpu_memory_note(r: Row) -> str:
    own = r.gpu.process_memory_peak_mb
    return f"{r.gpu.utilization_percent.mean:.0f}% utilised" + (f"; the measured process {own:.0f} MB" if own is not None else "")


def _where_gpu(r: Row) -> str:
    at = f"{r.users} users" if getattr(r, "users", None) is not None else f"batch {getattr(r, 'batch_size', '?')}"
    return f"{at}; {r.gpu.utilization_percent.mean:.0f}% utilised; {r.gpu.energy_source}"


# ---- latency distributions -----------------------------------------------------------------------------


def cdf_points(r: Row) -> list[Point]:
    """(latency ms, fraction at or below) of a cell, at CDF_QUANTILES (from its merged histogram)."""
    pts: list[Point] = []
    at = r.quantiles_ms(CDF_QUANTILES)
    for q in CDF_QUANTILES:
        ms = at[q]
        if len(pts) > 1 and ms == pts[-1].x:  # the first point stays at 0, so the curve rises from the axis
            pts[-1] = Point(ms, q / 100, note=f"p{q:.4g}")
        else:
            pts.append(Point(ms, q / 100, note=f"p{q:.4g}"))
    return pts


def cdf_figures(engines: list[Row], servers: list[Row], colour: Colours) -> list[Figure]:
    """Per workload: one request at a time (engines at batch 1, servers at one user), and the servers at
    their highest user count."""
    figs = []
    one = [(f"in process: {r.engine}", r.engine, r) for r in batch_one(engines)]
    one += [(r.server, r.server, r) for r in ok(servers) if r.users == 1]
    closed = [r for r in ok(servers) if r.users is not None]
    for workload in dict.fromkeys(str(r.workload) for _, _, r in one):
        series = [Series(name, cdf_points(r), colour(key), markers=False) for name, key, r in one
                  if str(r.workload) == workload and r.histogram is not None]
        fig = _line(slug("latency-cdf-one", workload), f"{workload}: latency distribution, one request at a time", "latency (ms)",
                    "fraction of requests at or below", series, "log10",
                    "from merged histograms (3 significant digits); in process: batch 1; servers: one virtual user.", "linear")
        if fig:
            figs.append(fig)
    for workload, rows in by_workload(closed).items():
        top = max(r.users for r in rows)
        if top <= 1:
            continue
        series = [Series(r.server, cdf_points(r), colour(r.server), markers=False)
                  for r in rows if r.users == top and r.histogram is not None]
        fig = _line(slug("latency-cdf-users", workload, top), f"{workload}: latency distribution at {top} virtual users",
                    "latency (ms)", "fraction of requests at or below", series, "log10",
                    "from merged histograms; the tail is where queueing shows.", "linear")
        if fig:
            figs.append(fig)
    return figs


def build_figures(engines: list[Row], servers: list[Row]) -> tuple[list[Figure], list[str]]:
    """Every figure the rows support, and a line for each kind that could not be drawn and why."""
    colour = Colours()
    figs: list[Figure] = []
    not_drawn: list[str] = []
    figs += server_load_figures(servers, colour)
    if not ok(servers):
        not_drawn.append("throughput and latency against virtual users (no server or load-test cells measured; add a servers: section)")
    for fig in (one_user_latency_figure(engines, servers, colour), mean_latency_at_one_user_figure(servers, colour)):
        if fig:
            figs.append(fig)
    batch, missing = batch_figures(engines, colour)
    figs += batch
    figs += multi_metric_figures(engines, colour)
    not_drawn += missing
    if not ok(engines):
        not_drawn.append("throughput, memory and energy against batch size (no in-process engine cells measured)")
    figs += server_energy_figures(servers, colour)
    figs += gpu_figures(engines, servers, colour)
    figs += startup_figures(engines, servers, colour)
    figs += cdf_figures(engines, servers, colour)
    return figs, not_drawn
