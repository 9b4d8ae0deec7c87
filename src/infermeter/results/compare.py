"""Compare two runs of the same suite cell by cell, and say whether each difference is real.

Cells are matched by their id (a hash of the cell's full settings), so two runs of one suite on two
machines, versions or days line up. For each cell and metric: run A's and run B's value from the cells'
summaries (latency percentiles from the merged histograms of all ok repeats, throughput as the mean over
repeats), the relative change, and Welch's t-test over the per-repeat values. The p-values of all the cell x metric tests
are adjusted together (Holm): with 40 tests at alpha 0.05, two identical runs would otherwise show about
two "significant" changes by chance. A change is called significant only when its adjusted p < alpha and
it is at least `min_change` in size: on a noisy machine a 0.5% shift can be "significant" and mean nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from infermeter.errors import ConfigError
from infermeter.results.record import AnyRecord
from infermeter.results.summary import AnySummary, LoadCellSummary, summarise

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


def _label(s: AnySummary) -> str:
    if isinstance(s, LoadCellSummary):
        point = f"users {s.users}" if s.users is not None else f"rate {s.rate}/s"
        return f"{s.workload} on {s.server}, {point}" if s.kind == "server" else f"{s.label}, {point}"
    return f"{s.workload} on {s.engine}, {s.scenario} {s.point}"


def _overall(s: AnySummary, metric: str) -> float:
    """Throughput: the mean over repeats; latency: from the merged histograms of the cell's ok repeats."""
    if metric == "throughput":
        return s.throughput.mean
    return s.latency.at(metric) if s.latency is not None else math.nan


def welch_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of Welch's t-test; nan with fewer than two values on a side."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    va, vb = np.var(a, ddof=1), np.var(b, ddof=1)
    if va == 0 and vb == 0:
        return 1.0 if np.mean(a) == np.mean(b) else 0.0
    from scipy import stats

    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def diff_metric(metric: str, a: AnySummary, b: AnySummary) -> MetricDiff | None:
    """The difference with its raw p-value; the verdict is given once every p-value is adjusted."""
    va, vb = _overall(a, metric), _overall(b, metric)
    if math.isnan(va) or math.isnan(vb) or va == 0:
        return None
    p = welch_p(a.per_repeat(metric), b.per_repeat(metric))
    return MetricDiff(metric, va, vb, (vb - va) / va, p, "")


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


def compare_runs(records_a: Sequence[AnyRecord | Mapping[str, Any]], records_b: Sequence[AnyRecord | Mapping[str, Any]],
                 alpha: float = 0.05, min_change: float = 0.02) -> tuple[list[CellDiff], list[str], list[str]]:
    """(differences of the cells both runs measured, labels only in A, labels only in B). Each side's cells
    are the summary layer's (results/summary.py): its grouping, its merged histograms, its ok repeats."""
    cells_a = {s.cell_id: s for s in summarise(records_a)}
    cells_b = {s.cell_id: s for s in summarise(records_b)}
    common = [cid for cid, s in cells_a.items() if s.measured and cid in cells_b and cells_b[cid].measured]
    raw = {cid: [d for m in METRICS if (d := diff_metric(m, cells_a[cid], cells_b[cid])) is not None] for cid in common}
    flat = [d for cid in common for d in raw[cid]]
    adjusted = iter(holm([d.p_value for d in flat]))
    out = []
    for cid in common:
        diffs = tuple(_verdict(d, next(adjusted), alpha, min_change) for d in raw[cid])
        out.append(CellDiff(cid, _label(cells_a[cid]), (cells_a[cid].repeats, cells_b[cid].repeats), diffs))
    only_a = [_label(s) for cid, s in cells_a.items() if cid not in common]
    only_b = [_label(s) for cid, s in cells_b.items() if cid not in common and cid not in cells_a]
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
