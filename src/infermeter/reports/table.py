"""The comparison table printed at the end of a run: one row per cell, statistics over its repeats."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
from rich.table import Table

from infermeter.reports.grid import Grid, to_rich
from infermeter.results import histogram, stats
from infermeter.results.warnings import RecordWarning, classify, warning
from infermeter.validity.repeats import explain as explain_disagreement
from infermeter.validity.sanity import cell_sanity


ENERGY_NOTE = ("J/1k: joules per 1,000 inferences; 'est' = estimated from CPU time x energy.cpu_watts_per_core "
               "(no readable RAPL counters), not measured")


def fmt(v: float | None, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}f}"


def ms_digits(v: float | None) -> int:
    """Decimals that keep three significant digits of a latency in ms (0.0123, 0.210, 2.23, 110), at most 4."""
    if v is None or not math.isfinite(v) or v <= 0:
        return 2
    return min(4, max(0, 2 - math.floor(math.log10(v))))


def ms(v: float | None) -> str:
    return fmt(v, ms_digits(v))


def pm(s: stats.RepeatStats, digits: int = 2) -> str:
    if s.n == 0:
        return "-"
    if s.n == 1 or math.isnan(s.ci95):
        return fmt(s.mean, digits)
    return f"{fmt(s.mean, digits)} ±{fmt(s.ci95, digits)}"


def summarise_cells(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group engine records by cell; percentiles from the merged histograms, the rest over repeats."""
    records = [r for r in records if r.get("kind", "engine") == "engine"]
    by_cell: dict[str, list[dict[str, Any]]] = defaultdict(list)
    order: list[str] = []
    for r in records:
        cid = r["cell_id"]
        if cid not in by_cell:
            order.append(cid)
        by_cell[cid].append(r)
    rows = []
    for cid in order:
        recs = by_cell[cid]
        ok = [r for r in recs if r.get("status") == "ok"]
        first = recs[-1]
        cell = first.get("cell") or {}
        row: dict[str, Any] = {
            "cell_id": cid,
            "workload": cell.get("workload"),
            "engine": (first.get("engine") or {}).get("label") or cell.get("engine"),
            "scenario": cell.get("scenario"),
            "batch_size": cell.get("batch_size"),
            "concurrency": cell.get("concurrency"),
            "status": "ok" if ok else first.get("status"),
            "error": first.get("error"),
            "repeats": len(ok),
            "warnings": record_warnings(recs),
        }
        if ok:
            merged = histogram.merge(r["metrics"]["latency_hdr"] for r in ok)
            m0 = ok[0]["metrics"]
            row.update(
                latency=histogram.summary_ms(merged),
                histogram=merged,
                p50=stats.over_repeats([r["metrics"]["latency_ms"]["p50"] for r in ok]),
                throughput=stats.over_repeats([r["metrics"]["samples_per_s"] for r in ok]),
                cpu=stats.over_repeats([r["metrics"]["cpu_percent"] for r in ok]),
                load_s=m0.get("load_s"),
                load_cached_s=m0.get("load_cached_s"),
                first_inference_s=m0.get("first_inference_s"),
                convert_s=m0.get("convert_s"),
                artifact_mb=(m0.get("artifact_bytes") or 0) / 1e6,
                peak_rss_mb=max(r["metrics"]["peak_rss_mb"] for r in ok),
                peak_rss_delta_mb=max(r["metrics"]["peak_rss_delta_mb"] for r in ok),
                parity=ok[0].get("parity") or {},
                **_energy(ok),
            )
            _add_sanity(row, ok)
            _add_outliers(row, ok, "samples_per_s")
            per_repeat = {"p50": [r["metrics"]["latency_ms"]["p50"] for r in ok], "throughput": [r["metrics"]["samples_per_s"] for r in ok]}
            for name, unit in (("p50", "ms"), ("throughput", "samples/s")):
                if row[name].unstable:
                    cause, remedy = explain_disagreement(ok, per_repeat[name], name, unit)
                    row["warnings"].append(warning(
                        "repeats-disagree", f"repeats disagree: {name} varies {row[name].cv:.0%} (> {stats.UNSTABLE_CV:.0%}){cause}",
                        remedy, applies_to="cell",
                    ))
        rows.append(row)
    return rows


def record_warnings(records: list[dict[str, Any]]) -> list[RecordWarning]:
    """Every distinct warning of a cell's records, in first-seen order."""
    seen = {RecordWarning(**w): None for r in records for w in r.get("warnings") or []}
    return list(seen)


def _energy(ok: list[dict[str, Any]]) -> dict[str, Any]:
    """Joules per 1,000 inferences over repeats, and where the figure comes from (rapl, estimate, n/a)."""
    blocks = [r["metrics"].get("energy") or {} for r in ok]
    return {"energy_per_1000": stats.over_repeats([b.get("joules_per_1000") for b in blocks]),
            "energy_source": next((b.get("source") for b in blocks if b.get("source")), "n/a")}


def energy_cell(r: dict[str, Any]) -> str:
    e = r.get("energy_per_1000")
    if e is None or e.n == 0:
        return "n/a"
    return fmt(e.mean, 3) + (" est" if r.get("energy_source") == "estimate" else "")


def _add_outliers(row: dict[str, Any], ok: list[dict[str, Any]], key: str) -> None:
    values = [r["metrics"].get(key) for r in ok]
    found = stats.outliers(values)
    if found:
        median = float(np.median([v for v in values if v is not None]))
        listed = ", ".join(f"repeat {ok[i].get('repeat', i) + 1}: {values[i]:.4g}" for i in found)
        row["warnings"].append(warning("outlying-repeats", f"outlying repeats (kept in every figure): {listed} against a median of {median:.4g} {key}",
                                       applies_to="cell"))


def _add_sanity(row: dict[str, Any], ok: list[dict[str, Any]]) -> None:
    row["sanity"], failed = cell_sanity(ok)
    # Generator CPU and send lag already have their own warning, with the remedy.
    row["warnings"].extend(classify(f"sanity: {line}") for line in failed if not line.startswith(("generator CPU", "schedule kept")))


def engine_grid(rows: list[dict[str, Any]], title: str = "infermeter results") -> Grid:
    """Measured cells only; `not_measured` lists the others with their reasons."""
    g = Grid(title, ["workload", "engine", "scenario", "batch", "conc", "p50 ms", "p99 ms", "samples/s", "load s", "1st inf s",
                     "peak MB", "CPU %", "J/1k inf", "agree / max|diff|", "sanity"], left=3)
    p99_floor = stats.min_samples_for(99)
    for r in rows:
        if r["status"] != "ok":
            continue
        p = r["parity"]
        parity, marks = "-", {}
        if p.get("max_abs_diff") is not None:
            parity = f"{fmt(p.get('agreement'), 3)} / {p.get('max_abs_diff'):.1e}"
        elif p.get("verdict") == "mismatch":  # nothing to subtract: the shapes differ (the note says how)
            parity = "shape"
        if p.get("verdict") == "mismatch":
            parity, marks[g.columns.index("agree / max|diff|")] = f"MISMATCH {parity}", "bad"
        if r.get("sanity") == "warn":
            marks[g.columns.index("sanity")] = "warn"
        p99 = ms(r["latency"]["p99"]) + ("*" if r["latency"]["count"] < p99_floor else "")
        g.add([
            str(r["workload"]), str(r["engine"]), str(r["scenario"]), str(r["batch_size"]), str(r["concurrency"]),
            pm(r["p50"], ms_digits(r["p50"].mean)), p99, pm(r["throughput"], 1), fmt(r["load_s"]), fmt(r["first_inference_s"]),
            fmt(r["peak_rss_mb"], 0), fmt(r["cpu"].mean, 0), energy_cell(r), parity, r.get("sanity", "-"),
        ], marks)
    if any(r["status"] == "ok" and r["latency"]["count"] < p99_floor for r in rows):
        g.caption = f"* p99 from fewer than {p99_floor} samples: a rough figure; raise min_iterations for a firm one. ± is a 95% interval over repeats."
    else:
        g.caption = "± is a 95% confidence interval over repeats."
    g.caption += f" {ENERGY_NOTE}"
    return g


def comparison_table(rows: list[dict[str, Any]], title: str = "infermeter results") -> Table:
    return to_rich(engine_grid(rows, title))


def not_measured(rows: list[dict[str, Any]]) -> list[str]:
    """One line per skipped or failed cell, with its reason."""
    out = []
    for r in rows:
        if r["status"] == "ok":
            continue
        what = r.get("label") or f"{r['workload']} on {r['engine']}"
        if r.get("batch_size"):
            point = f"batch {r['batch_size']}"
        else:
            point = f"users {r['users']}" if r.get("users") is not None else f"rate {r.get('rate')}/s"
        out.append(f"{r['status']}: {what} ({r['scenario']}, {point}): {r.get('error') or ''}")
    return out


SUMMARY_COLUMNS = [
    "cell_id", "workload", "engine", "scenario", "batch_size", "concurrency", "status", "repeats",
    "p50_ms_mean", "p50_ms_ci95", "p50_ms_min", "p50_ms_max",
    "samples_per_s_mean", "samples_per_s_ci95", "samples_per_s_min", "samples_per_s_max",
    "merged_p50_ms", "merged_p90_ms", "merged_p99_ms", "merged_p99.9_ms", "merged_max_ms", "merged_count",
    "cpu_percent_mean", "load_s", "load_cached_s", "first_inference_s", "convert_s", "artifact_mb",
    "peak_rss_mb", "peak_rss_delta_mb", "energy_j_per_1000_mean", "energy_source", "parity_agreement", "parity_max_abs_diff",
    "error", "warnings",
]


def write_summary_csv(rows: list[dict[str, Any]], path: Any) -> None:
    """One row per cell: statistics over repeats and percentiles from the merged histograms."""
    import csv

    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
        w.writeheader()
        for r in rows:
            out = {k: r.get(k) for k in ("cell_id", "workload", "engine", "scenario", "batch_size", "concurrency", "status", "repeats", "error")}
            out["warnings"] = " | ".join(w.text for w in r.get("warnings") or [])
            if r["status"] == "ok":
                for name, key in (("p50_ms", "p50"), ("samples_per_s", "throughput")):
                    s: stats.RepeatStats = r[key]
                    out.update({f"{name}_mean": s.mean, f"{name}_ci95": s.ci95, f"{name}_min": s.min, f"{name}_max": s.max})
                lat = r["latency"]
                out.update({f"merged_{k}_ms": lat[k] for k in ("p50", "p90", "p99", "p99.9", "max")})
                out["merged_count"] = int(lat["count"])
                out["cpu_percent_mean"] = r["cpu"].mean
                for k in ("load_s", "load_cached_s", "first_inference_s", "convert_s", "artifact_mb", "peak_rss_mb", "peak_rss_delta_mb"):
                    out[k] = r.get(k)
                out["energy_j_per_1000_mean"] = r["energy_per_1000"].mean
                out["energy_source"] = r["energy_source"]
                out["parity_agreement"] = r["parity"].get("agreement")
                out["parity_max_abs_diff"] = r["parity"].get("max_abs_diff")
            w.writerow(out)


def _group(records: list[dict[str, Any]], kind: str) -> list[list[dict[str, Any]]]:
    by_cell: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("kind") == kind:
            by_cell.setdefault(r["cell_id"], []).append(r)
    return list(by_cell.values())


def summarise_load_cells(records: list[dict[str, Any]], kind: str = "load") -> list[dict[str, Any]]:
    """Load-test or server cells: throughput over repeats; latency percentiles from all repeats' merged
    histograms."""
    rows = []
    for recs in _group(records, kind):
        ok = [r for r in recs if r.get("status") == "ok"]
        cell = recs[-1]["cell"]
        if kind == "server":
            label = f"{cell['workload']} on {recs[-1]['server']['label']}"
            row_extra = {"workload": cell["workload"], "server": recs[-1]["server"]["label"]}
        else:
            label = cell.get("label") or cell["target"]
            row_extra = {}
        row: dict[str, Any] = row_extra | {
            "cell_id": recs[-1]["cell_id"], "label": label, "target": cell.get("target"),
            "scenario": cell["scenario"], "users": cell.get("users"), "rate": cell.get("rate"),
            "status": "ok" if ok else recs[-1].get("status"), "error": recs[-1].get("error"), "repeats": len(ok),
            "warnings": record_warnings(recs),
        }
        if ok:
            merged = histogram.merge(r["metrics"]["latency_hdr"] for r in ok)
            row.update(
                latency=histogram.summary_ms(merged),
                histogram=merged,
                cold_start_s=(ok[0].get("deployment") or {}).get("cold_start_s"),
                throughput=stats.over_repeats([r["metrics"]["throughput_rps"] for r in ok]),
                failures_per_s=stats.over_repeats([r["metrics"]["failures_per_s"] for r in ok]),
                failure_rate=stats.over_repeats([r["metrics"]["failure_rate"] for r in ok]),
                generator_cpu=max(r["metrics"]["generator_cpu_max"] for r in ok),
                outcomes=_sum_outcomes(ok),
                queue_ms=stats.over_repeats([r["metrics"].get("queue_ms_mean") for r in ok]),
                inference_ms=stats.over_repeats([r["metrics"].get("inference_ms_mean") for r in ok]),
                server_cpu=stats.over_repeats([r["metrics"].get("server_cpu_percent") for r in ok]),
                server_rss_mb=max((r["metrics"].get("server_rss_mb") or 0) for r in ok),
                cost_per_million=stats.over_repeats([(r.get("cost") or {}).get("per_million_requests") for r in ok]),
                currency=next(((r.get("cost") or {}).get("currency") for r in ok if r.get("cost")), None),
                client_cpu=stats.over_repeats([r["metrics"].get("client_cpu_percent") for r in ok]),
                client_rss_mb=max((r["metrics"].get("client_rss_mb") or 0) for r in ok),
                system_cpu=stats.over_repeats([r["metrics"].get("system_cpu_percent") for r in ok]),
                **_energy(ok),
            )
            _add_sanity(row, ok)
            _add_outliers(row, ok, "throughput_rps")
            if row["throughput"].unstable:
                row["warnings"].append(warning(
                    "repeats-disagree", f"repeats disagree: throughput varies {row['throughput'].cv:.0%} (> {stats.UNSTABLE_CV:.0%})",
                    "lengthen the windows (--duration, or load.min_seconds in a suite) or quiet the machine", applies_to="cell",
                ))
        rows.append(row)
    return rows


def _sum_outcomes(records: list[dict[str, Any]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for r in records:
        for k, v in r["metrics"]["outcomes"].items():
            total[k] = total.get(k, 0) + v
    return total


def load_grid(rows: list[dict[str, Any]], title: str = "load test", server: bool = False) -> Grid:
    """Throughput, latency and failures per load point (servers: with their queue and inference time)."""
    cols = ["target", "scenario", "users", "rate/s", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
            "fail/s", "fail %", "outcomes", "gen CPU", "sanity"]
    if server:
        cols += ["queue ms", "infer ms"]
    g = Grid(title, cols, left=2)
    for r in rows:
        base = [str(r["label"]), r["scenario"], str(r["users"] or "-"), fmt(r["rate"], 0) if r["rate"] else "-"]
        if r["status"] != "ok":
            g.add([*base, str(r["status"]), (r.get("error") or "")[:60], *[""] * (len(cols) - 6)], {cols.index("req/s"): "warn"})
            continue
        lat = r["latency"]
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(r["outcomes"].items()))
        extra = [fmt(r["queue_ms"].mean), fmt(r["inference_ms"].mean)] if server else []
        g.add([
            *base, pm(r["throughput"], 1), ms(lat["p50"]), ms(lat["p90"]), ms(lat["p99"]), ms(lat["max"]),
            fmt(r["failures_per_s"].mean), fmt(100 * r["failure_rate"].mean, 1), outcomes[:60], f"{r['generator_cpu']:.0%}",
            r.get("sanity", "-"), *extra,
        ], {cols.index("sanity"): "warn"} if r.get("sanity") == "warn" else {})
    g.caption = "latency percentiles from all repeats' merged histograms; ± is a 95% interval over repeats"
    return g


def load_table(rows: list[dict[str, Any]], title: str = "load test", server: bool = False) -> Table:
    return to_rich(load_grid(rows, title, server))


def resources_grid(rows: list[dict[str, Any]], title: str = "resources") -> Grid:
    """What each server load point cost: the server's and the client's CPU and memory, energy, money."""
    currency = next((r["currency"] for r in rows if r.get("currency")), None)
    cols = ["target", "users", "rate/s", "srv CPU %", "srv MB", "client CPU %", "client MB", "system CPU %", "J/1k req"]
    if currency:
        cols.append(f"{currency}/1M req")
    g = Grid(title, cols)
    for r in rows:
        if r["status"] != "ok":
            continue
        cells = [str(r["label"]), str(r["users"] or "-"), fmt(r["rate"], 0) if r["rate"] else "-",
                 fmt(r["server_cpu"].mean, 0), fmt(r["server_rss_mb"], 0), fmt(r["client_cpu"].mean, 0),
                 fmt(r["client_rss_mb"], 0), fmt(r["system_cpu"].mean, 0), energy_cell(r)]
        if currency:
            cells.append(fmt(r["cost_per_million"].mean, 3))
        g.add(cells)
    g.caption = (f"CPU % of one core (server: its whole process tree; system: every process on the machine, "
                 f"so 100 x cores at most); MB resident. {ENERGY_NOTE}")
    return g


def resources_table(rows: list[dict[str, Any]], title: str = "resources") -> Table:
    return to_rich(resources_grid(rows, title))
