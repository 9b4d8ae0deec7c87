"""Mergeable latency histograms (HdrHistogram, 1 microsecond units, 3 significant digits).

Raw nanosecond samples give each repeat's exact percentiles; the histogram is kept in every record so
percentiles over several repeats (or generator processes) come from merged counts, never from averaged
percentiles.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
SIGNIFICANT_DIGITS = 3


def new() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def from_ns(latencies_ns: np.ndarray) -> HdrHistogram:
    h = new()
    us = np.clip(np.rint(np.asarray(latencies_ns) / 1000.0).astype(np.int64), LOWEST_US, HIGHEST_US)
    values, counts = np.unique(us, return_counts=True)
    for v, c in zip(values.tolist(), counts.tolist()):
        h.record_value(v, c)
    return h


def encode(h: HdrHistogram) -> str:
    return h.encode().decode("ascii")


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode("ascii"))


def merge(encoded: Iterable[str]) -> HdrHistogram:
    total = new()
    for text in encoded:
        total.add(decode(text))
    return total


PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


def summary_ms(h: HdrHistogram) -> dict[str, float]:
    """Percentiles, mean, std, min, max in milliseconds from a (merged) histogram."""
    out = {f"p{p:g}": h.get_value_at_percentile(p) / 1000.0 for p in PERCENTILES}
    out.update(
        mean=h.get_mean_value() / 1000.0,
        std=h.get_stddev() / 1000.0,
        min=h.get_min_value() / 1000.0,
        max=h.get_max_value() / 1000.0,
        count=float(h.get_total_count()),
    )
    return out
