"""Queueing theory, the sanity verdict and the self-test's verdicts, with deterministic inputs (no timing)."""

import math
import sys

import pytest

from infermeter import selftest
from infermeter.results.summary import cell_sanity
from infermeter.validity import sanity, theory


def test_littles_law_and_closed_loop_throughput():
    assert theory.littles_law_users(200.0, 0.02) == pytest.approx(4.0)
    assert theory.closed_loop_throughput(users=4, workers=1, service_s=0.005) == pytest.approx(200.0)
    assert theory.closed_loop_throughput(users=4, workers=2, service_s=0.005) == pytest.approx(400.0)
    assert theory.closed_loop_throughput(users=1, workers=2, service_s=0.005) == pytest.approx(200.0)


def test_open_loop_single_server_formulas():
    # M/M/1 with mu = 200/s, lambda = 100/s: mean time in system 1 / (mu - lambda) = 10 ms.
    assert theory.mm1_mean_response(100.0, 0.005) == pytest.approx(0.010)
    # M/D/1 at rho = 0.5, D = 5 ms: wait rho D / (2 (1 - rho)) = 2.5 ms, so 7.5 ms in all.
    assert theory.md1_mean_response(100.0, 0.005) == pytest.approx(0.0075)
    # P-K reduces to both; the median of an exponential with rate 100/s is ln 2 / 100.
    assert theory.mg1_mean_response(100.0, 0.005, 2 * 0.005**2) == pytest.approx(0.010)
    assert theory.mm1_response_percentile(100.0, 0.005, 0.5) == pytest.approx(math.log(2) / 100)
    assert theory.mm1_mean_response(250.0, 0.005) == math.inf  # overloaded: no steady state


def test_little_check_passes_a_consistent_closed_loop_and_names_a_slow_generator():
    ok = sanity.little_check(users=10, throughput=100.0, mean_ms=100.0, requests=10_000)
    assert ok["ok"] and "ratio 1.000" in ok["detail"]
    slow = sanity.little_check(users=10, throughput=100.0, mean_ms=60.0, requests=10_000)
    assert not slow["ok"] and "generator or client was a bottleneck" in slow["detail"]
    # Few completions: the window-edge allowance (users / requests) widens the tolerance.
    assert sanity.little_check(users=10, throughput=100.0, mean_ms=80.0, requests=100)["ok"]


def test_load_sanity_flags_a_saturated_generator_a_late_schedule_and_thin_percentiles():
    merged = {"requests": 500, "window_s": 10.0, "latency_ms": {"mean": 12.0}, "generator_cpu_max": 0.97,
              "issue_lag_ms": {"p99": 12.0}}
    v = sanity.load_sanity(merged, users=1)
    failed = {c["check"] for c in v["checks"] if not c["ok"]}
    assert v["verdict"] == "warn"
    assert failed == {"generator CPU", "schedule kept", "samples for p99", "little's law"}
    good = {"requests": 5000, "window_s": 10.0, "latency_ms": {"mean": 2.0}, "generator_cpu_max": 0.3}
    assert sanity.load_sanity(good, users=1)["verdict"] == "ok"


def test_engine_sanity_flags_other_processes_competing_for_the_cpu():
    v = sanity.engine_sanity(n=5000, concurrency=1, calls_per_s=50.0, mean_ms=20.0, other_cpu_percent=85.0)
    assert v["verdict"] == "warn" and "something else was running" in v["checks"][-1]["detail"]
    assert sanity.engine_sanity(n=5000, concurrency=4, calls_per_s=200.0, mean_ms=20.0, other_cpu_percent=3.0)["verdict"] == "ok"


def test_cell_sanity_ignores_per_window_sample_counts_but_keeps_real_problems():
    thin = {"sanity": sanity.verdict([sanity.samples_check(100)])}
    assert cell_sanity([thin, thin]) == ("ok", [])
    bad = {"sanity": sanity.verdict([sanity.little_check(4, 100.0, 20.0, 10_000)])}
    verdict, failed = cell_sanity([thin, bad])
    assert verdict == "warn" and failed[0].startswith("little's law")
    assert cell_sanity([{}]) == ("-", [])


def test_selftest_checks_pass_and_fail_on_their_tolerances():
    assert selftest.relative("x", 100.0, 104.0, "req/s", 0.05).passed
    assert not selftest.relative("x", 100.0, 106.0, "req/s", 0.05).passed
    assert not selftest.relative("x", 100.0, math.nan, "req/s", 0.05).passed
    assert selftest.relative("x", 100.0, 94.0, "req/s", 0.05).error == pytest.approx(-0.06)
    assert selftest.at_most("lag", 5.0, 4.9, "ms").passed and not selftest.at_most("lag", 5.0, 7.0, "ms").passed
    assert selftest.info("n", 3.0, "x").passed and selftest.info("n", 3.0, "x").error is None


def test_selftest_command_exits_7_naming_the_failed_checks(monkeypatch, capsys):
    from infermeter.cli import main as cli

    failing = [selftest.relative("M/D/1 rho=0.50: mean response", 7.5, 12.0, "ms", 0.15),
               selftest.at_most("generator keeps a 20000/s schedule (p99 send lag)", 5.0, 40.0, "ms")]
    monkeypatch.setattr(selftest, "run_selftest", lambda *a, **k: failing)
    monkeypatch.setattr(sys, "argv", ["infermeter", "selftest"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 7
    err = capsys.readouterr().err
    assert "2 of 2 checks failed" in err and "send lag" in err and "Traceback" not in err


def test_selftest_capacity_check_runs_a_real_search_and_says_when_no_rate_meets_the_slo():
    """The capacity checks' wiring (the search on the calibrated target, its verdict as a check), on the bound
    below the 1 ms service: one unloaded probe decides it. The other bound's answer against M/D/1 is timing,
    for `infermeter selftest` on a quiet machine."""
    [check] = selftest._capacity_checks(lambda s: None, bounds=(("p99<=0.5ms,confidence=95%", False),))
    assert check.passed and check.measured == 0.0 and "no load meets it" in check.note
