"""Statistics over raw samples and over repeats. numpy and scipy: no ML dependency."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from infermeter.results.histogram import PERCENTILES

# Repeats whose coefficient of variation exceeds this get an "unstable" warning.
UNSTABLE_CV = 0.10
# % of one core used by other processes during an in-process window: above it, the machine was not quiet.
# The sanity verdict (validity/sanity.py), the overhead check (validity/overhead.py) and the causes of
# disagreeing repeats (results/repeats.py) all judge by it, so it sits below all three.
OTHER_CPU_LIMIT = 25.0


@functools.lru_cache(maxsize=256)
def t95(dof: int) -> float:
    """Two-sided 95% Student t critical value (the 97.5% quantile) for `dof` degrees of freedom."""
    if dof < 1:
        return math.nan
    from scipy.stats import t  # here, not at import: scipy.stats costs a noticeable fraction of a second

    return float(t.ppf(0.975, dof))


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
