"""Statistics over raw samples and over repeats. Pure numpy: no ML dependency."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from infermeter.results.histogram import PERCENTILES

# Two-sided 95% Student t critical values by degrees of freedom (1..30); 1.96 beyond.
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)

# Repeats whose coefficient of variation exceeds this get an "unstable" warning.
UNSTABLE_CV = 0.10


def t95(dof: int) -> float:
    if dof < 1:
        return math.nan
    return _T95[dof - 1] if dof <= len(_T95) else 1.96


def latency_summary_ms(latencies_ns: np.ndarray) -> dict[str, float]:
    """Exact percentiles (linear interpolation) and moments of one window, in milliseconds."""
    ms = np.asarray(latencies_ns, dtype=np.float64) / 1e6
    if ms.size == 0:
        return {}
    out = {f"p{p:g}": float(np.percentile(ms, p)) for p in PERCENTILES}
    out.update(
        mean=float(ms.mean()),
        std=float(ms.std(ddof=1)) if ms.size > 1 else 0.0,
        min=float(ms.min()),
        max=float(ms.max()),
        count=float(ms.size),
    )
    return out


def min_samples_for(percentile: float) -> int:
    """Samples needed before a percentile means anything: at least 10 beyond it (p99 -> 1,000)."""
    return math.ceil(10 / (1 - percentile / 100.0))


@dataclass(frozen=True)
class RepeatStats:
    n: int
    mean: float
    ci95: float  # half-width; nan with a single repeat
    min: float
    max: float
    cv: float  # coefficient of variation (std / mean)

    @property
    def unstable(self) -> bool:
        return self.n > 1 and self.cv > UNSTABLE_CV


def over_repeats(values: Sequence[float]) -> RepeatStats:
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if v.size == 0:
        return RepeatStats(0, math.nan, math.nan, math.nan, math.nan, math.nan)
    mean = float(v.mean())
    if v.size == 1:
        return RepeatStats(1, mean, math.nan, mean, mean, 0.0)
    std = float(v.std(ddof=1))
    return RepeatStats(
        int(v.size), mean, t95(v.size - 1) * std / math.sqrt(v.size), float(v.min()), float(v.max()),
        std / mean if mean else math.nan,
    )


# A repeat further than this many scaled median absolute deviations from the median is an outlier.
OUTLIER_MADS = 3.5


def outliers(values: Sequence[float | None]) -> list[int]:
    """Indices of outlying repeats (modified z-score > OUTLIER_MADS, Iglewicz and Hoaglin). They are
    reported, never dropped: a slow repeat is part of what the machine did. Needs at least 4 values."""
    v = np.asarray([math.nan if x is None else x for x in values], dtype=np.float64)
    ok = v[~np.isnan(v)]
    if ok.size < 4:
        return []
    med = float(np.median(ok))
    mad = float(np.median(np.abs(ok - med)))
    if mad == 0:
        return []
    return [i for i, x in enumerate(v) if not math.isnan(x) and 0.6745 * abs(x - med) / mad > OUTLIER_MADS]
