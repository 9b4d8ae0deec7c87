"""SLOs (issue 15, step 1): the text an SLO is written in, goodput from a window's histogram, and the
verdict with its confidence (MLPerf LoadGen's early-stopping rule as one-sided binomial tests); windows of
`infermeter load`, server cells and engine cells carry it; summaries and tables show it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from infermeter.errors import ConfigError
from infermeter.results import histogram
from infermeter.results.record import EngineMetrics, LoadMetrics, LoadWindow, parse_record
from infermeter.results.slo import SLO, assess, check, judge, min_requests, parse_slo, pool

# -- parsing ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, percentile, bound_ms, rate, confidence", [
    ("p99<=100ms", 99.0, 100.0, None, 0.99),
    ("p50 <= 20 ms", 50.0, 20.0, None, 0.99),
    ("p99.9<=1s", 99.9, 1000.0, None, 0.99),
    ("max<=250ms", None, 250.0, None, 0.99),
    ("p100<=250ms", None, 250.0, None, 0.99),  # every request, as max
    ("p90<=500us", 90.0, 0.5, None, 0.99),
    ("p90<=500µs", 90.0, 0.5, None, 0.99),
    ("P99 <= 100 MS, Errors <= 1%", 99.0, 100.0, 0.01, 0.99),
    ("p99<=100ms,failures<=0.5%,confidence=95%", 99.0, 100.0, 0.005, 0.95),
    ("p95 ≤ 2s, errors <= 0%", 95.0, 2000.0, 0.0, 0.99),
])
def test_an_slo_is_read_from_its_text_and_written_back_the_same(text, percentile, bound_ms, rate, confidence):
    slo = parse_slo(text)
    assert (slo.percentile, slo.bound_ms, slo.max_failure_rate, slo.confidence) == (percentile, pytest.approx(bound_ms), rate, confidence)
    assert parse_slo(slo.text) == slo  # records keep the text; pool() and reports read it back
    assert SLO.model_validate(text) == slo  # what a suite's `slo:` gets


@pytest.mark.parametrize("text, said", [
    ("nonsense", ["'nonsense' is not a bound", "p99<=100ms"]),
    ("", ["empty"]),
    ("p99<100ms", ["<="]),
    ("p99=100ms", ["<="]),
    ("p99<=100", ["no unit", "us, ms or s"]),
    ("p99<=2h", ["unknown unit 'h'"]),
    ("p0<=1ms", ["percentile"]),
    ("p101<=1ms", ["percentile"]),
    ("p99<=0ms", ["above 0"]),
    ("p99<=7200s", ["3600 s"]),
    ("errors<=1%", ["no latency bound"]),
    ("p99<=1ms,p50<=1ms", ["two latency bounds"]),
    ("p99<=1ms,errors<=1", ["percentage", "errors<=1%"]),
    ("p99<=1ms,errors<=100%", ["below 100%"]),
    ("p99<=1ms,confidence=40%", ["at least 50%"]),
    ("p99<=1ms,", ["empty clause"]),
])
def test_an_slo_that_cannot_be_read_is_a_config_error_with_a_remedy(text, said):
    with pytest.raises(ConfigError) as err:
        parse_slo(text, "--slo")
    assert err.value.message.startswith("--slo: ") and all(s in err.value.message for s in said), err.value.message
    assert "p99<=100ms" in err.value.hint


def test_a_suite_takes_an_slo_and_refuses_a_bad_one():
    from infermeter.config import parse_suite

    base = {"workloads": ["fake-tiny"], "engines": ["fake"]}
    assert parse_suite(base).slo is None
    assert parse_suite({**base, "slo": "p99 <= 100 ms, errors <= 1%"}).slo == SLO(percentile=99, bound_ms=100, max_failure_rate=0.01)
    assert parse_suite({**base, "slo": {"percentile": 99.9, "bound_ms": 5}}).slo == parse_slo("p99.9<=5ms")
    with pytest.raises(ConfigError) as err:
        parse_suite({**base, "slo": "p99 < 100ms"})
    assert "slo" in err.value.message and "<=" in err.value.message


def test_the_suite_digest_is_unchanged_without_an_slo_and_changes_with_one():
    """A run started before suites had an SLO resumes (same digest); one resumed with another SLO is refused."""
    import hashlib

    from infermeter.config import parse_suite
    from infermeter.runner import suite_digest

    base = parse_suite({"workloads": ["fake-tiny"], "engines": ["fake"]})
    before = {k: v for k, v in base.model_dump(mode="json").items() if k not in ("slo", "usability")}  # a suite's dump before the fields
    assert suite_digest(base) == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()
    scored = parse_suite({"workloads": ["fake-tiny"], "engines": ["fake"], "usability": {"scores": {"triton": {"features": 5}}}})
    assert suite_digest(scored) == suite_digest(base)  # the user's own scores are no setting of a measurement
    a = parse_suite({"workloads": ["fake-tiny"], "engines": ["fake"], "slo": "p99<=1ms"})
    b = parse_suite({"workloads": ["fake-tiny"], "engines": ["fake"], "slo": "p99<=2ms"})
    assert len({suite_digest(base), suite_digest(a), suite_digest(b)}) == 3


# -- the histogram count ----------------------------------------------------------------------------------

def test_goodput_counts_the_histogram_at_or_below_the_bound():
    ns = np.arange(1, 1001, dtype=np.int64) * 1_000_000  # 1, 2, ..., 1000 ms
    h = histogram.from_ns(ns)
    assert histogram.count_at_or_below(h, 1000) == (1, 1000)  # 1 ms: below 2,048 us a bucket is one microsecond
    count, edge = histogram.count_at_or_below(h, 100_000)  # 100 ms: buckets 64 us wide there
    assert edge <= 100_000 and 100_000 - edge < 100_000 * 1e-3  # within the 3 significant digits
    assert count == 99  # 100 ms itself sits in a bucket that reaches past the bound: not surely within it
    assert histogram.count_at_or_below(h, 100_500)[0] == 100
    assert histogram.count_at_or_below(h, 10**9)[0] == 1000
    assert histogram.count_at_or_below(histogram.new(), 5000) == (0, 4999)  # 5,000 us is inside a 2 us bucket

    slo = parse_slo("p90<=100.5ms")
    r = assess(slo, LoadMetrics(latency_hdr=histogram.encode(h), requests=1000, ok=1000, window_s=4.0))
    assert (r.requests, r.good, r.over, r.failed) == (1000, 100, 900, 0)
    assert r.goodput_rps == pytest.approx(25.0) and r.bound_used_ms <= 100.5 and r.verdict == "fail"


def test_failed_requests_are_taken_out_of_goodput_and_never_answered_ones_count_as_failed():
    ok_ns = np.full(900, 5_000_000, dtype=np.int64)  # 5 ms
    fast_failures = np.full(50, 1_000_000, dtype=np.int64)  # 1 ms 503s: fast, still not good
    slow_failures = np.full(50, 2_000_000_000, dtype=np.int64)  # 2 s timeouts
    every = histogram.from_ns(np.concatenate([ok_ns, fast_failures, slow_failures]))
    failed = histogram.from_ns(np.concatenate([fast_failures, slow_failures]))
    m = LoadMetrics(latency_hdr=histogram.encode(every), failure_latency_hdr=histogram.encode(failed), requests=1000, ok=900,
                    failures=100, unsent=20, window_s=10.0)
    r = assess(parse_slo("p99<=10ms"), m)
    assert (r.requests, r.good, r.failed) == (1020, 900, 120) and r.goodput_rps == pytest.approx(90.0)
    assert r.over == 120 and r.checks[0].requests == 1020  # no failure-rate bound: failures miss the latency bound
    r = assess(parse_slo("p99<=10ms,errors<=20%"), m)
    assert r.checks[0].requests == 900 and r.checks[0].over == 0  # with one, the latency bound is on the OK answers
    assert r.checks[1].over == 120 and r.checks[1].verdict == "pass" and r.verdict == "pass"
    # A record from before failures had their own histogram: its failures count as within the bound (conservative).
    old = assess(parse_slo("p99<=10ms"), m.model_copy(update={"failure_latency_hdr": None}))
    assert old.good == 900 - 50


def test_an_engine_window_counts_its_ok_calls_and_the_call_that_failed():
    h = histogram.from_ns(np.full(600, 3_000_000, dtype=np.int64))
    r = assess(parse_slo("p99<=10ms"), EngineMetrics(latency_hdr=histogram.encode(h), requests=600, failures=1, window_s=2.0))
    assert (r.requests, r.good, r.failed, r.over) == (601, 600, 1, 1) and r.goodput_rps == pytest.approx(300.0)
    assert assess(None, EngineMetrics()) is None and assess(parse_slo("p99<=1ms"), None) is None


def test_an_engine_open_loops_unsent_arrivals_count_as_failed_requests():
    h = histogram.from_ns(np.full(600, 3_000_000, dtype=np.int64))
    m = EngineMetrics(latency_hdr=histogram.encode(h), requests=600, failures=0, window_s=2.0, offered=700, unsent=100)
    r = assess(parse_slo("p99<=10ms"), m)
    assert (r.requests, r.good, r.failed) == (700, 600, 100) and r.verdict == "fail"


# -- the verdict ------------------------------------------------------------------------------------------

def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k), X ~ Binomial(n, p), summed term by term (independent of scipy)."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


@pytest.mark.parametrize("n, k, verdict", [
    (100, 0, "too few samples"),  # p99 at 99% needs 459 requests before even k = 0 passes
    (458, 0, "too few samples"),
    (459, 0, "pass"),
    (1000, 0, "pass"),
    (1000, 2, "pass"),
    (1000, 3, "not proven"),  # P(<= 3 of 1000 | 1%) = 1.01% > 1%
    (1000, 10, "not proven"),  # 1% observed: neither bound clears 1%
    (1000, 50, "fail"),
    (100, 10, "fail"),  # a failure can be proven with few requests
    (0, 0, "too few samples"),
])
def test_the_p99_verdict_on_known_counts(n, k, verdict):
    c = check("p99<=100ms", n, k, 0.01, 0.99)
    assert c.verdict == verdict
    if n:
        # MLPerf's rule, by hand: pass when P(<= k of n over | 1% over) <= 1 - confidence; fail when P(>= k) < 1 - confidence.
        assert (c.verdict == "pass") == (binomial_cdf(k, n, 0.01) <= 0.01)
        assert (c.verdict == "fail") == (k > 0 and 1 - binomial_cdf(k - 1, n, 0.01) < 0.01)
        assert c.lower <= k / n <= c.upper


def test_how_many_requests_a_verdict_needs():
    assert min_requests(0.01, 0.99) == 459 == math.ceil(math.log(0.01) / math.log(0.99))  # MLPerf's minimum for p99
    assert min_requests(0.001, 0.99) == 4603  # p99.9
    assert min_requests(0.5, 0.99) == 7  # p50
    for k in (1, 5, 20):
        n = min_requests(0.01, 0.99, k)
        assert binomial_cdf(k, n, 0.01) <= 0.01 < binomial_cdf(k, n - 1, 0.01)
    assert min_requests(0.0, 0.99) is None
    too_few = check("p99<=1ms", 100, 0, 0.01, 0.99)
    assert too_few.needed == 459 and too_few.upper == pytest.approx(1 - 0.01 ** (1 / 100))  # Clopper-Pearson at k = 0


def test_every_request_bounds_are_judged_on_the_window_alone():
    assert check("max<=1ms", 3, 0, 0.0, 0.99).verdict == "pass"
    assert check("max<=1ms", 10_000, 1, 0.0, 0.99).verdict == "fail"
    assert check("max<=1ms", 0, 0, 0.0, 0.99).verdict == "too few samples"
    r = judge(parse_slo("max<=1ms"), requests=5, good=5, failed=0, window_s=1.0)
    assert r.verdict == "pass" and r.checks[0].upper is None


def test_two_bounds_share_the_confidence_and_any_failure_fails_the_slo():
    slo = parse_slo("p99<=100ms,errors<=1%")
    r = judge(slo, requests=1000, good=1000, failed=0, window_s=1.0)
    assert r.verdict == "pass" and [c.confidence for c in r.checks] == [pytest.approx(0.995)] * 2  # Bonferroni: 99% together
    assert min_requests(0.01, 0.995) > 459 and judge(slo, requests=500, good=500, failed=0, window_s=1.0).verdict == "too few samples"
    assert judge(slo, requests=1000, good=940, failed=60, window_s=1.0).verdict == "fail"  # 6% failed
    assert judge(slo, requests=1000, good=990, failed=10, window_s=1.0).verdict == "not proven"


def test_windows_pooled_are_a_firmer_verdict():
    slo = parse_slo("p99<=10ms")
    windows = [judge(slo, requests=300, good=300, failed=0, window_s=3.0) for _ in range(2)]
    assert {w.verdict for w in windows} == {"too few samples"}
    pooled = pool(windows)
    assert pooled.verdict == "pass" and pooled.requests == 600 and pooled.goodput_rps == pytest.approx(100.0)
    assert pool([]) is None


# -- records, summaries, tables ---------------------------------------------------------------------------

def window_record(slo_text: str | None, repeat: int = 0, good: int | None = None, n: int = 1000) -> dict:
    h = histogram.from_ns(np.full(n, 2_000_000, dtype=np.int64))
    m = LoadMetrics(latency_ms=histogram.summary_ms(h), latency_hdr=histogram.encode(h), requests=n, ok=n, window_s=10.0,
                    throughput_rps=n / 10)
    judged = judge(parse_slo(slo_text), requests=n, good=n if good is None else good, failed=0, window_s=10.0) if slo_text else None
    return LoadWindow(run_id="r", cell_id="c", cell={"target": "http://127.0.0.1:1/", "scenario": "open-loop", "rate": 100.0},
                      status="ok", repeat=repeat, repeats=2, metrics=m, slo=judged).model_dump(mode="json")


def test_a_window_record_keeps_its_slo_block_and_one_without_reads_as_before():
    rec = parse_record(window_record("p99<=10ms"))
    assert rec.slo.verdict == "pass" and rec.slo.slo == "p99<=10ms" and rec.slo.goodput_rps == pytest.approx(100.0)
    old = window_record(None)
    del old["slo"]  # written before the field existed
    assert parse_record(old).slo is None


def test_tables_show_goodput_and_the_verdict_only_when_an_slo_was_set():
    from infermeter.reports.table import load_grid
    from infermeter.results.summary import summarise_loads

    plain = load_grid(summarise_loads([window_record(None, 0), window_record(None, 1)]))
    assert "SLO" not in plain.columns and "goodput/s" not in plain.columns

    rows = summarise_loads([window_record("p99<=10ms", 0, n=200), window_record("p99<=10ms", 1, n=200)])
    s = rows[0].slo
    assert s.windows == 2 and s.passed == 0 and s.pooled.requests == 400 and s.goodput.mean == pytest.approx(20.0)
    g = load_grid(rows)
    row = dict(zip(g.columns, g.rows[0]))
    assert row["SLO"] == "too few (needs 459)" and row["goodput/s"].startswith("20.0")
    assert "p99<=10ms at 99% confidence" in g.caption
    assert g.marks[(0, g.columns.index("SLO"))] == "warn"

    failing = load_grid(summarise_loads([window_record("p99<=10ms", 0, good=900), window_record("p99<=10ms", 1, good=900)]))
    assert dict(zip(failing.columns, failing.rows[0]))["SLO"] == "fail" and failing.marks[(0, failing.columns.index("SLO"))] == "bad"


def test_results_csv_carries_the_verdict_and_goodput(tmp_path):
    import csv

    from infermeter.results.store import ResultStore

    store = ResultStore(tmp_path)
    store.create()
    store.append(window_record("p99<=10ms"))
    store.append(window_record(None, 1))
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert (rows[0]["slo"], rows[0]["slo_verdict"], float(rows[0]["goodput_rps"])) == ("p99<=10ms", "pass", 100.0)
    assert rows[1]["slo"] == rows[1]["slo_verdict"] == ""


# -- measured windows -------------------------------------------------------------------------------------

def test_a_load_run_against_the_fake_server_writes_the_slo_block(tmp_path):
    from infermeter.loadgen.endpoint import run_load
    from infermeter.loadgen.fake_server import FakeHttpServer, FakeServerConfig
    from infermeter.loadgen.settings import LoadSettings
    from infermeter.protocols.http import HttpTarget
    from infermeter.results.store import ResultStore

    settings = LoadSettings(warmup_s=0, min_seconds=0.5, min_requests=20, max_seconds=5, repeats=1)
    with FakeHttpServer(FakeServerConfig(service_ms=2, fail_every=5)) as srv:
        run_load(HttpTarget(srv.url, "GET", b""), tmp_path, settings, users=[2], slo=parse_slo("p99<=1s,errors<=50%"))
    [rec] = ResultStore(tmp_path).read()
    m, judged = rec.metrics, rec.slo
    assert judged is not None and judged.slo == "p99<=1s,errors<=50%" and m.failures > 0
    assert histogram.decode(m.failure_latency_hdr).get_total_count() == m.failures  # the failed requests' own histogram
    assert (judged.requests, judged.failed, judged.good) == (m.requests, m.failures, m.ok)  # every OK answer within 1 s
    assert judged.goodput_rps == pytest.approx(m.ok / m.window_s)
    assert judged.checks[1].over == m.failures and judged.checks[1].verdict == "pass"  # ~20% failed, 50% allowed


def test_engine_cells_carry_the_suites_slo(tmp_path, cache_root):
    from infermeter.config import parse_suite
    from infermeter.results.store import ResultStore
    from infermeter.results.summary import summarise_engines
    from infermeter.runner import run_suite

    suite = parse_suite({
        "workloads": ["fake-tiny"], "engines": [{"name": "fake", "settings": {"service_ms": 1.0}}], "slo": "p50<=1s",
        "warmup": {"iterations": 2, "seconds": 0}, "measure": {"repeats": 2, "min_iterations": 20, "min_seconds": 0.05},
    })
    run_suite(suite, tmp_path, cache_root=cache_root, isolation="none")
    recs = ResultStore(tmp_path).read()
    assert len(recs) == 2 and all(r.slo is not None and r.slo.slo == "p50<=1s" for r in recs)
    assert all(r.slo.good == r.metrics.requests and r.slo.verdict == "pass" for r in recs)  # p50 needs 7 calls
    [cell] = summarise_engines(recs)
    assert cell.slo.verdict == "pass" and cell.slo.goodput.n == 2


def test_a_window_of_no_length_has_no_goodput_and_too_few_samples():
    """A window where nothing completed has window_s nan (generator.merge): no goodput, never a pass."""
    r = assess(parse_slo("p99<=10ms"), LoadMetrics(latency_hdr=histogram.encode(histogram.new()), window_s=float("nan")))
    assert r.goodput_rps is None and r.window_s is None and r.verdict == "too few samples" and r.checks[0].needed == 459
