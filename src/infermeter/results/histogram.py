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


def count_at_or_below(h: HdrHistogram, value_us: int) -> tuple[int, int]:
    """(samples surely at or below `value_us`, the bound that count used). A bucket counts only when every
    value it stands for is at or below `value_us`, so the bound used is the highest value of the last such
    bucket: `value_us` itself where a bucket ends there, else up to one bucket width below it (3 significant
    digits: within 0.1%, and exact to the microsecond below 2,048 us). Samples were rounded to the nearest
    microsecond when recorded (from_ns)."""
    value_us = min(max(int(value_us), 0), HIGHEST_US)
    if h.get_highest_equivalent_value(value_us) == value_us:
        edge = value_us
    else:
        edge = h.get_lowest_equivalent_value(value_us) - 1
    idx, counts = _nonempty(h)
    if not idx:
        return 0, edge
    lowest = np.array([h.get_value_from_index(i) for i in idx], dtype=np.int64)
    return int(counts[lowest <= edge].sum()), edge


def _nonempty(h: HdrHistogram) -> tuple[list[int], np.ndarray]:
    """Indices and counts of the non-empty buckets. hdrh's own percentile, mean and stddev walk all
    ~24,000 buckets in Python for every call (seconds for a report); this walks the few that hold values
    and keeps hdrh's exact definitions."""
    counts = np.ctypeslib.as_array(h.counts)[: h.counts_len]
    idx = np.flatnonzero(counts)
    return idx.tolist(), counts[idx].astype(np.float64)


def bucket_values_us(h: HdrHistogram) -> tuple[np.ndarray, np.ndarray]:
    """The histogram's recorded values as (each non-empty bucket's median value in microseconds, its count):
    the samples, to the histogram's resolution, for a model fed with them (e.g. a queue simulated on a
    window's service times)."""
    idx, counts = _nonempty(h)
    lowest = [h.get_value_from_index(i) for i in idx]
    values = np.array([(v + h.get_highest_equivalent_value(v)) / 2 for v in lowest], dtype=np.float64)
    return values, counts.astype(np.int64)


def values_at_percentiles(h: HdrHistogram, percentiles: Iterable[float]) -> dict[float, int]:
    """Same as h.get_value_at_percentile(p) for each p (highest equivalent value of the bucket reached;
    lowest for p = 0), in one pass."""
    idx, counts = _nonempty(h)
    total = h.get_total_count()
    if not idx:
        return {p: 0 for p in percentiles}
    cumulative = np.cumsum(counts)
    out = {}
    for p in percentiles:
        target = max(int(min(p, 100.0) * total / 100 + 0.5), 1)
        k = min(int(np.searchsorted(cumulative, target)), len(idx) - 1)
        value = h.get_value_from_index(idx[k])
        out[p] = h.get_highest_equivalent_value(value) if p else h.get_lowest_equivalent_value(value)
    return out


def summary_ms(h: HdrHistogram) -> dict[str, float]:
    """Percentiles, mean, std, min, max in milliseconds from a (merged) histogram."""
    at = values_at_percentiles(h, PERCENTILES)
    out = {f"p{p:g}": at[p] / 1000.0 for p in PERCENTILES}
    idx, counts = _nonempty(h)
    total = counts.sum()
    if total:
        mids = np.array([h._hdr_median_equiv_value(h.get_value_from_index(i)) for i in idx], dtype=np.float64)
        mean = float((mids * counts).sum() / total)
        std = float(np.sqrt((counts * (mids - mean) ** 2).sum() / total))
    else:
        mean = std = 0.0
    out.update(
        mean=mean / 1000.0,
        std=std / 1000.0,
        min=h.get_min_value() / 1000.0,
        max=h.get_max_value() / 1000.0,
        count=float(h.get_total_count()),
    )
    return out
