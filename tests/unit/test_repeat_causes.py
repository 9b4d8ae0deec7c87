"""Repeats that disagree are reported with the cause the records measured, and the machine is blamed only
when other processes' CPU shows it (synthetic engine records, as `infermeter report` reads them)."""

import numpy as np
import pytest

from infermeter.results.summary import summarise_engines
from infermeter.results import histogram, stats
from infermeter.validity import sanity

STEADY = {"calls": 48, "seconds": 12.1, "steady": True, "hit_max": False, "window": 40, "statistic": -0.05,
          "p_value": 0.6, "early_ms": 233.0, "late_ms": 232.0, "max_seconds": 60.0}
DRIFTING = STEADY | {"calls": 240, "seconds": 60.2, "steady": False, "hit_max": True, "statistic": -0.41, "p_value": 0.0002,
                     "early_ms": 301.0, "late_ms": 262.0}


def cell(p50s, other_cpu=None, warmup=STEADY, probe=None, cpu=200.0, cpus=None):
    out = []
    for rep, p50 in enumerate(p50s):
        ns = np.linspace(0.98, 1.02, 301) * p50 * 1e6  # its p50 exactly
        out.append({
            "kind": "engine", "cell_id": "bert", "status": "ok", "repeat": rep, "repeats": len(p50s),
            "cell": {"workload": "bert-base", "engine": "pytorch", "scenario": "single-stream", "batch_size": 1, "concurrency": 1},
            "engine": {"label": "pytorch"}, "parity": {"verdict": "match", "agreement": 1.0, "max_abs_diff": 0.0},
            "metrics": {"latency_hdr": histogram.encode(histogram.from_ns(ns)), "latency_ms": stats.latency_summary_ms(ns),
                        "samples_per_s": 1000 / p50, "cpu_percent": cpu, "peak_rss_mb": 900.0, "peak_rss_delta_mb": 500.0,
                        "other_cpu_percent": (other_cpu or [3.0] * len(p50s))[rep],
                        "speed_probe_ms": (probe or [2.0] * len(p50s))[rep]},
            "warnings": [], "sanity": sanity.engine_sanity(5000, 1, 1000 / p50, p50, 3.0, warmup),
            **({"warmup": warmup} if warmup is not None else {}),
            **({"machine": {"affinity_cpus": cpus, "logical_cpus": cpus}} if cpus else {}),
        })
    return out


def disagreement(records):
    row = summarise_engines(records)[0]
    found = [w for w in row.warnings if w.code == "repeats-disagree" and w.text.startswith("repeats disagree: p50")]
    assert found, row.warnings
    return found[0]


def test_a_slow_first_repeat_after_warm_up_is_named_not_the_machine():
    w = disagreement(cell([467.0, 232.0, 253.0, 240.0, 236.0]))
    assert "repeat 1 gave p50 467 ms against 232-253 in the others after a warm-up judged steady" in w.text
    assert "close other programs" not in w.text + w.remedy
    assert "warmup.seconds" in w.remedy


def test_a_fast_first_repeat_is_not_blamed_on_warm_up():
    # Measured here (bert-base, PyTorch eager, threads 1): the first repeat was the fastest, and warm-up was blamed.
    w = disagreement(cell([282.0, 342.0, 344.0, 288.0, 357.0]))
    assert "warming up" not in w.text and "warmup.seconds" not in w.remedy


def test_a_warm_up_that_never_settled_is_named_with_its_drift():
    w = disagreement(cell([467.0, 232.0, 253.0, 240.0, 236.0], warmup=DRIFTING))
    assert "warm-up was not steady after 240 calls (60 s, median 301 -> 262 ms over its last 40 calls)" in w.text
    assert "close other programs" not in w.text + w.remedy
    assert w.remedy.startswith("Raise warmup.max_seconds (now 60)")


def test_the_machine_is_blamed_only_with_the_cpu_figure_that_shows_it():
    w = disagreement(cell([240.0, 236.0, 330.0, 238.0, 241.0], other_cpu=[4.0, 2.0, 85.0, 6.0, 3.0]))
    assert "other processes used CPU during the windows (85% in repeat 3 against at most 6% in the others, limit 25%)" in w.text
    assert "close other programs" in w.remedy.lower()


def test_a_trend_across_repeats_is_named():
    w = disagreement(cell([200.0, 230.0, 260.0, 290.0, 320.0]))
    assert "p50 rose from repeat to repeat (200, 230, 260, 290, 320 ms" in w.text


def test_without_evidence_the_cause_is_said_to_be_unmeasured():
    w = disagreement(cell([240.0, 320.0, 236.0, 330.0, 238.0]))
    assert "cause not measured (warm-up steady, other processes used at most 3% CPU)" in w.text
    assert "close other programs" not in w.text + w.remedy
    # Records written before warm-up was recorded: the same, without the warm-up's word.
    w = disagreement(cell([240.0, 320.0, 236.0, 330.0, 238.0], warmup=None))
    assert "cause not measured, other processes used at most 3% CPU" in w.text


def test_a_warm_up_that_hit_its_maximum_puts_not_steady_in_the_sanity_verdict():
    bad = sanity.engine_sanity(5000, 1, 4.0, 250.0, 3.0, DRIFTING)
    check = next(c for c in bad["checks"] if c["check"] == "steady warm-up")
    assert bad["verdict"] == "warn" and not check["ok"]
    assert check["detail"].startswith("not steady: still drifting when warmup.max_seconds=60 was reached, after 240 calls (60.2 s)")
    assert "median 301 -> 262 ms over the last 40 calls (Kendall tau -0.41" in check["detail"]
    good = sanity.engine_sanity(5000, 1, 4.0, 250.0, 3.0, STEADY)
    assert good["verdict"] == "ok" and "steady after 48 calls (12.1 s)" in good["checks"][0]["detail"]
    assert sanity.engine_sanity(5000, 1, 4.0, 250.0, 3.0)["verdict"] == "ok"  # older records: no warm-up check

    row = summarise_engines(cell([240.0, 236.0, 238.0], warmup=DRIFTING))[0]
    assert row.sanity == "warn"
    line = next(w for w in row.warnings if w.code == "warmup-not-steady")
    assert "warmup.max_seconds" in line.remedy


@pytest.mark.parametrize("p50s", [[240.0, 236.0, 238.0, 241.0]])
def test_agreeing_repeats_raise_nothing(p50s):
    row = summarise_engines(cell(p50s))[0]
    assert not [w for w in row.warnings if w.code == "repeats-disagree"]


def test_a_machine_that_changed_speed_is_named_with_the_probe_that_shows_it():
    """Measured here: bert-base repeats of 450, 424, 243, 263, 251 ms with other processes at 2-3% CPU and a
    warm-up judged steady; an idle 384x384 matrix product meanwhile took 1.5-4.0 ms."""
    w = disagreement(cell([450.0, 424.0, 243.0, 263.0, 251.0], probe=[3.4, 3.1, 1.9, 2.1, 2.0]))
    assert "the machine itself changed speed: a fixed reference computation took 1.9-3.4 ms" in w.text and "Spearman 1.00" in w.text
    assert "repeat 1 gave" not in w.text  # not blamed on warm-up
    assert "dedicated cores" in w.remedy
    flat = disagreement(cell([450.0, 424.0, 243.0, 263.0, 251.0], probe=[2.0, 2.05, 1.98, 2.02, 2.0]))
    assert "machine itself" not in flat.text
    unrelated = disagreement(cell([450.0, 424.0, 243.0, 263.0, 251.0], probe=[1.9, 2.0, 3.4, 3.1, 2.1]))
    assert "machine itself" not in unrelated.text


def test_threads_that_keep_every_cpu_busy_are_named_with_their_cpu_figure():
    # As measured on 2 vCPUs: bert-base at threads 2 (198% CPU, OMP_PROC_BIND) p50 173-250 ms; at threads 1, 1.7% apart.
    w = disagreement(cell([204.0, 173.0, 205.0, 250.0, 223.0], cpu=198.0, cpus=2))
    assert "the cell's threads kept every CPU busy (198% CPU of 2 CPUs)" in w.text
    assert "threads: 1" in w.remedy
    assert "cause not measured" not in w.text
    # A cell that leaves a core free is not told so.
    w = disagreement(cell([240.0, 320.0, 236.0, 330.0, 238.0], cpu=100.0, cpus=2))
    assert "every CPU busy" not in w.text and "cause not measured" in w.text


def test_a_spread_just_past_the_bound_shows_the_digit_that_puts_it_past():
    # The quickstart printed "throughput varies 10% (> 10%)" for 10.4%: a reader sees no reason for the warning.
    w = disagreement(cell([100.0, 100.0, 119.0]))
    assert "p50 varies 10.3% (> 10%)" in w.text, w.text
    assert "p50 varies 12% (> 10%)" in disagreement(cell([100.0, 100.0, 122.0])).text
