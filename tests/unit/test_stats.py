import math

import numpy as np
import pytest

from infermeter.results import histogram, stats


def test_window_percentiles_are_exact_and_in_ms():
    ns = np.arange(1, 1001, dtype=np.int64) * 1_000_000  # 1..1000 ms
    s = stats.latency_summary_ms(ns)
    assert s["p50"] == pytest.approx(500.5)
    assert s["p99"] == pytest.approx(np.percentile(np.arange(1, 1001), 99))
    assert s["min"] == 1.0 and s["max"] == 1000.0 and s["count"] == 1000


def test_over_repeats_mean_and_t_interval():
    r = stats.over_repeats([10.0, 12.0, 14.0])
    assert r.n == 3 and r.mean == pytest.approx(12.0)
    assert r.ci95 == pytest.approx(4.303 * 2.0 / math.sqrt(3), rel=1e-4)
    assert (r.min, r.max) == (10.0, 14.0)
    assert r.cv == pytest.approx(2.0 / 12.0)
    assert r.unstable  # 17% > 10%


def test_single_repeat_has_no_interval_and_none_is_ignored():
    r = stats.over_repeats([5.0, None])
    assert r.n == 1 and math.isnan(r.ci95) and not r.unstable


def test_stable_repeats_are_not_flagged():
    assert not stats.over_repeats([100.0, 101.0, 99.5, 100.2, 100.4]).unstable


def test_percentile_sample_support():
    assert stats.min_samples_for(99) == 1000
    assert stats.min_samples_for(50) == 20


def test_merged_histogram_percentiles_come_from_all_samples_not_averages():
    fast = np.full(900, 1_000_000, dtype=np.int64)  # 900 x 1 ms
    slow = np.full(100, 100_000_000, dtype=np.int64)  # 100 x 100 ms
    merged = histogram.merge([histogram.encode(histogram.from_ns(fast)), histogram.encode(histogram.from_ns(slow))])
    s = histogram.summary_ms(merged)
    assert s["count"] == 1000
    assert s["p50"] == pytest.approx(1.0, rel=1e-3)
    assert s["p95"] == pytest.approx(100.0, rel=1e-3)  # an average of the two p95s would say 50.5
    assert s["mean"] == pytest.approx(10.9, rel=1e-3)


def test_histogram_keeps_microsecond_resolution():
    h = histogram.from_ns(np.array([150_000, 151_000, 152_000], dtype=np.int64))  # 150, 151, 152 us
    assert h.get_min_value() == 150 and h.get_max_value() == 152


def test_outlying_repeats_are_found_and_reported_not_dropped():
    from infermeter.results.summary import summarise_loads

    assert stats.outliers([100, 101, 99, 100.5, 60]) == [4]
    assert stats.outliers([100, 101, 99, 100.5]) == []  # no outlier
    assert stats.outliers([100, 60, 99]) == []  # too few repeats to call one
    assert stats.outliers([5, 5, 5, 5, 9]) == []  # no spread to measure against
    recs = [{"kind": "load", "cell_id": "c", "status": "ok", "repeat": i, "cell": {"target": "t", "scenario": "closed-loop", "users": 1},
             "metrics": {"latency_hdr": histogram.encode(histogram.from_ns(np.full(100, 1e6))), "throughput_rps": v,
                         "failures_per_s": 0.0, "failure_rate": 0.0, "generator_cpu_max": 0.1, "outcomes": {"200": 100}}}
            for i, v in enumerate([100, 101, 99, 100.5, 60])]
    row = summarise_loads(recs)[0]
    assert any(w.code == "outlying-repeats" and "repeat 5: 60" in w.text for w in row.warnings)
    assert row.repeats == 5 and row.throughput.n == 5  # kept


def test_fast_histogram_summary_matches_hdrh_exactly():
    """summary_ms walks only the non-empty buckets; it must keep hdrh's own definitions to the bit."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        ns = rng.lognormal(rng.uniform(8, 22), rng.uniform(0.1, 2), int(rng.integers(1, 3000)))
        h = histogram.from_ns(ns)
        quantiles = [0, 0.5, 10, 50, 90, 99, 99.9, 99.99, 100]
        assert histogram.values_at_percentiles(h, quantiles) == {q: h.get_value_at_percentile(q) for q in quantiles}
        s = histogram.summary_ms(h)
        assert s["mean"] == pytest.approx(h.get_mean_value() / 1000, rel=1e-12)
        assert s["std"] == pytest.approx(h.get_stddev() / 1000, rel=1e-9, abs=1e-12)
        assert s["p99"] == h.get_value_at_percentile(99) / 1000
    empty = histogram.new()
    assert histogram.summary_ms(empty)["mean"] == 0.0 and histogram.values_at_percentiles(empty, [50]) == {50: 0}


@pytest.mark.parametrize("dof, t", [(1, 12.706), (2, 4.303), (30, 2.042), (40, 2.021), (60, 2.000), (120, 1.980)])
def test_t_quantiles_follow_the_t_distribution_past_30_degrees_of_freedom(dof, t):
    # A hand table used to jump to the normal 1.96 past 30 degrees of freedom (dof 40 is 2.021).
    assert stats.t95(dof) == pytest.approx(t, abs=5e-4)


def test_interval_of_41_repeats_uses_the_t_quantile_of_40_dof():
    v = [100.0 + (i % 5) for i in range(41)]
    r = stats.over_repeats(v)
    assert r.ci95 == pytest.approx(2.021 * float(np.std(v, ddof=1)) / math.sqrt(41), rel=5e-4)


def test_no_degrees_of_freedom_no_quantile():
    assert math.isnan(stats.t95(0))


def test_a_histograms_bucket_values_give_back_its_samples_to_its_resolution():
    rng = np.random.default_rng(3)
    ns = rng.gamma(2.0, 5e6, 5000)  # ~10 ms, spread
    values_us, counts = histogram.bucket_values_us(histogram.from_ns(ns))
    samples = np.repeat(values_us, counts)
    assert counts.sum() == 5000
    for q in (10, 50, 90, 99):
        assert np.percentile(samples, q) == pytest.approx(np.percentile(ns / 1000, q), rel=2e-3)
