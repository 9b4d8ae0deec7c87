"""Compare two runs of the same suite cell by cell, and say whether each difference is real.

Cells are matched by their id (a hash of the cell's full settings), so two runs of one suite on two
machines, versions or days line up. For each cell and metric: run A's and run B's value (latency
percentiles from the merged histograms of all ok repeats, throughput as the mean over repeats), the
relative change, and Welch's t-test over the per-repeat values. The p-values of all the cell x metric tests
are adjusted together (Holm): with 40 tests at alpha 0.05, two identical runs would otherwise show about
two "significant" changes by chance. A change is called significant only when its adjusted p < alpha and
it is at least `min_change` in size: on a noisy machine a 0.5% shift can be "significant" and mean nothing.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from infermeter.errors import ConfigError
from infermeter.results import histogram

# metric -> True if higher is better
METRICS: dict[str, bool] = {"throughput": True, "p50": False, "p90": False, "p99": False, "mean": False}


@dataclass(frozen=True)
class MetricDiff:
    metric: str
    a: float
    b: float
    change: float  # (b - a) / a
    p_value: float  # Welch's t-test, Holm-adjusted over every test of the comparison; nan: too few repeats
    verdict: str  # "better", "worse", "not significant", "too few repeats"

    @property
    def significant(self) -> bool:
        return self.verdict in ("better", "worse")


@dataclass(frozen=True)
class CellDiff:
    cell_id: str
    label: str
    repeats: tuple[int, int]
    diffs: tuple[MetricDiff, ...]


def _label(r: dict[str, Any]) -> str:
    cell = r.get("cell") or {}
    if r.get("kind") == "server":
        point = f"users {cell.get('users')}" if cell.get("users") is not None else f"rate {cell.get('rate')}/s"
        return f"{cell.get('workload')} on {r.get('server', {}).get('label')}, {point}"
    if r.get("kind") == "load":
        point = f"users {cell.get('users')}" if cell.get("users") is not None else f"rate {cell.get('rate')}/s"
        return f"{cell.get('label') or cell.get('target')}, {point}"
    engine = (r.get("engine") or {}).get("label") or cell.get("engine")
    return f"{cell.get('workload')} on {engine}, {cell.get('scenario')} b={cell.get('batch_size')} c={cell.get('concurrency')}"


def _throughput(m: dict[str, Any]) -> float | None:
    return m.get("throughput_rps") if m.get("throughput_rps") is not None else m.get("samples_per_s")


def _per_repeat(ok: list[dict[str, Any]], metric: str) -> list[float]:
    vals = []
    for r in ok:
        m = r.get("metrics") or {}
        v = _throughput(m) if metric == "throughput" else (m.get("latency_ms") or {}).get(metric)
        if v is not None and not math.isnan(v):
            vals.append(float(v))
    return vals


def latency_summary(ok: list[dict[str, Any]]) -> dict[str, float]:
    """Latency percentiles and mean (ms) from the merged histograms of a cell's ok repeats ({}: none kept)."""
    hdrs = [r["metrics"]["latency_hdr"] for r in ok if (r.get("metrics") or {}).get("latency_hdr")]
    return histogram.summary_ms(histogram.merge(hdrs)) if hdrs else {}


def _overall(ok: list[dict[str, Any]], metric: str, latency: dict[str, float]) -> float:
    if metric == "throughput":
        vals = _per_repeat(ok, metric)
        return float(np.mean(vals)) if vals else math.nan
    return float(latency.get(metric, math.nan))


def welch_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of Welch's t-test; nan with fewer than two values on a side."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    va, vb = np.var(a, ddof=1), np.var(b, ddof=1)
    if va == 0 and vb == 0:
        return 1.0 if np.mean(a) == np.mean(b) else 0.0
    from scipy import stats

    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def diff_metric(metric: str, ok_a: list[dict[str, Any]], ok_b: list[dict[str, Any]],
                latency_a: dict[str, float], latency_b: dict[str, float]) -> MetricDiff | None:
    """The difference with its raw p-value; the verdict is given once every p-value is adjusted.
    `latency_a/b`: each side's latency_summary, merged once per cell rather than once per metric."""
    a, b = _overall(ok_a, metric, latency_a), _overall(ok_b, metric, latency_b)
    if math.isnan(a) or math.isnan(b) or a == 0:
        return None
    p = welch_p(_per_repeat(ok_a, metric), _per_repeat(ok_b, metric))
    return MetricDiff(metric, a, b, (b - a) / a, p, "")


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (nan stays nan and does not count as a test)."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    out = list(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        out[i] = running
    return out


def _verdict(d: MetricDiff, p: float, alpha: float, min_change: float) -> MetricDiff:
    if math.isnan(p):
        verdict = "too few repeats"
    elif p < alpha and abs(d.change) >= min_change:
        verdict = "better" if (d.change > 0) == METRICS[d.metric] else "worse"
    else:
        verdict = "not significant"
    return MetricDiff(d.metric, d.a, d.b, d.change, p, verdict)


def _ok_by_cell(records: list[dict[str, Any]]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    ok: dict[str, list[dict[str, Any]]] = defaultdict(list)
    labels: dict[str, str] = {}
    for r in records:
        cid = r.get("cell_id")
        if cid is None:
            continue
        labels.setdefault(cid, _label(r))
        if r.get("status") == "ok":
            ok[cid].append(r)
    return ok, labels


def compare_runs(records_a: list[dict[str, Any]], records_b: list[dict[str, Any]], alpha: float = 0.05,
                 min_change: float = 0.02) -> tuple[list[CellDiff], list[str], list[str]]:
    """(differences of the cells both runs measured, labels only in A, labels only in B)."""
    ok_a, labels_a = _ok_by_cell(records_a)
    ok_b, labels_b = _ok_by_cell(records_b)
    common = [cid for cid in labels_a if cid in ok_a and cid in ok_b]
    raw = {}
    for cid in common:
        lat_a, lat_b = latency_summary(ok_a[cid]), latency_summary(ok_b[cid])
        raw[cid] = [d for m in METRICS if (d := diff_metric(m, ok_a[cid], ok_b[cid], lat_a, lat_b)) is not None]
    flat = [d for cid in common for d in raw[cid]]
    adjusted = iter(holm([d.p_value for d in flat]))
    out = []
    for cid in common:
        diffs = tuple(_verdict(d, next(adjusted), alpha, min_change) for d in raw[cid])
        out.append(CellDiff(cid, labels_a[cid], (len(ok_a[cid]), len(ok_b[cid])), diffs))
    only_a = [labels_a[c] for c in labels_a if c not in common]
    only_b = [labels_b[c] for c in labels_b if c not in common and c not in labels_a]
    return out, only_a, only_b


_THRESHOLD = re.compile(r"^\s*([a-z0-9]+)\s*:\s*([+-])\s*(\d+(?:\.\d+)?)\s*%\s*$")


def parse_fail_on(spec: str) -> dict[str, float]:
    """'p99:+5%,throughput:-5%' -> {'p99': 0.05, 'throughput': -0.05}."""
    out: dict[str, float] = {}
    for part in spec.split(","):
        m = _THRESHOLD.match(part)
        if not m:
            raise ConfigError(f"--fail-on part {part.strip()!r} is not like 'p99:+5%'",
                              "give metric:+N% or metric:-N%, comma-separated, e.g. --fail-on 'p99:+5%,throughput:-5%'")
        metric, sign, size = m.group(1), m.group(2), float(m.group(3))
        if metric not in METRICS:
            raise ConfigError(f"--fail-on names unknown metric {metric!r}", f"choose among: {', '.join(METRICS)}")
        out[metric] = size / 100 if sign == "+" else -size / 100
    return out


def breaches(cells: list[CellDiff], thresholds: dict[str, float]) -> list[str]:
    """Significant changes past a threshold in its direction (+: rose by more, -: fell by more)."""
    out = []
    for cell in cells:
        for d in cell.diffs:
            limit = thresholds.get(d.metric)
            if limit is None or not d.significant:
                continue
            if (limit >= 0 and d.change > limit) or (limit < 0 and d.change < limit):
                out.append(f"{cell.label}: {d.metric} {d.a:.4g} -> {d.b:.4g} ({d.change:+.1%}, p={d.p_value:.3g}), past {limit:+.0%}")
    return out
