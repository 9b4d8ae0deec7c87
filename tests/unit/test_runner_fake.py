"""The whole pipeline on the fake engine and fake workload: no ML package needed."""

import json

import pytest

from infermeter import SCHEMA_VERSION
from infermeter.config import parse_suite
from infermeter.errors import ConfigError
from infermeter.results.summary import summarise_engines
from infermeter.results.store import ResultStore
from infermeter.runner import run_suite


def suite(**over):
    base = {
        "workloads": ["fake-tiny"],
        "engines": [{"name": "fake", "settings": {"service_ms": 2.0}}],
        "scenarios": [{"kind": "offline", "batch_sizes": [1, 4]}],
        "warmup": {"iterations": 2, "seconds": 0},
        "measure": {"repeats": 2, "min_iterations": 20, "min_seconds": 0.05, "max_seconds": 5},
    }
    base.update(over)
    return parse_suite(base)


@pytest.mark.parametrize("isolation", ["none", "process"])
def test_every_repeat_is_stored_with_metrics_and_parity(tmp_path, cache_root, isolation):
    summary = run_suite(suite(), tmp_path / "out", cache_root=cache_root, isolation=isolation)
    assert (summary.measured, summary.failed) == (2, 0)
    recs = list(ResultStore(tmp_path / "out").records())
    assert len(recs) == 4 and all(r["status"] == "ok" for r in recs)
    r = recs[0]
    assert r["schema_version"] == SCHEMA_VERSION and r["machine"]["logical_cpus"] >= 1
    m = r["metrics"]
    assert m["requests"] >= 20 and m["latency_ms"]["p50"] >= 2.0
    for key in ("samples_per_s", "cpu_percent", "load_s", "first_inference_s", "load_cached_s", "peak_rss_mb", "artifact_bytes", "convert_s"):
        assert m[key] is not None, key
    assert r["parity"]["agreement"] == 1.0 and r["parity"]["max_abs_diff"] == 0.0
    b4 = [x for x in recs if x["cell"]["batch_size"] == 4][0]["metrics"]
    assert b4["samples_per_s"] == pytest.approx(4 * b4["batches_per_s"])


def test_parity_catches_an_engine_that_drifts(tmp_path, cache_root):
    run_suite(suite(engines=[{"name": "fake", "settings": {"noise": 0.5}}]), tmp_path, cache_root=cache_root, isolation="none")
    r = next(ResultStore(tmp_path).records())
    assert r["parity"]["max_abs_diff"] == pytest.approx(0.5, rel=1e-5)


def test_a_failing_cell_is_recorded_and_the_suite_goes_on(tmp_path, cache_root):
    s = suite(engines=[{"name": "fake", "settings": {"fail_on_load": True}}, {"name": "fake", "settings": {"service_ms": 1.0}}])
    summary = run_suite(s, tmp_path, cache_root=cache_root, isolation="process")
    assert (summary.failed, summary.measured) == (2, 2)
    failed = [r for r in ResultStore(tmp_path).records() if r["status"] == "failed"]
    assert "fail on load" in failed[0]["error"]
    assert any(p.name.startswith("cell-") for p in (tmp_path / "logs").iterdir())


def test_resume_runs_only_what_is_missing(tmp_path, cache_root):
    out = tmp_path / "out"
    run_suite(suite(scenarios=[{"kind": "offline", "batch_sizes": [1]}]), out, cache_root=cache_root, isolation="none")
    with pytest.raises(ConfigError, match="already holds results"):
        run_suite(suite(), out, cache_root=cache_root, isolation="none")
    with pytest.raises(ConfigError, match="different suite"):  # a grown suite is another suite: said so
        run_suite(suite(), out, cache_root=cache_root, isolation="none", resume=True)
    summary = run_suite(suite(), out, cache_root=cache_root, isolation="none", resume=True, force_suite=True)
    assert (summary.resumed, summary.measured) == (1, 1)
    assert len(list(ResultStore(out).records())) == 4


def test_skipped_cells_are_stored_with_their_reason(tmp_path, cache_root):
    run_suite(suite(engines=["onnxruntime"]), tmp_path, cache_root=cache_root, isolation="none")
    recs = list(ResultStore(tmp_path).records())
    assert {r["status"] for r in recs} == {"skipped"}
    assert "cannot be exported to onnx" in recs[0]["error"]


def test_summary_merges_histograms_and_counts_repeats(tmp_path, cache_root):
    run_suite(suite(), tmp_path, cache_root=cache_root, isolation="none")
    rows = summarise_engines(ResultStore(tmp_path).read())
    assert len(rows) == 2 and rows[0].repeats == 2
    total = sum(r["metrics"]["requests"] for r in ResultStore(tmp_path).records() if r["cell_id"] == rows[0].cell_id)
    assert rows[0].latency.count == total
    json.dumps(rows[0].latency.as_dict())


def test_ensemble_runs_members_on_one_engine_and_averages_probabilities(tmp_path, cache_root):
    s = suite(workloads=["ensemble(fake-tiny,fake-tiny)"], scenarios=[{"kind": "offline", "batch_sizes": [2]}])
    summary = run_suite(s, tmp_path, cache_root=cache_root, isolation="none")
    assert summary.failed == 0
    r = next(ResultStore(tmp_path).records())
    assert r["workload"]["name"] == "ensemble(fake-tiny,fake-tiny)"
    assert len(r["engine"]["runtime"]["members"]) == 2
    assert r["metrics"]["latency_ms"]["p50"] >= 2 * 2.0  # two members at 2 ms each, one after the other
    assert r["parity"]["agreement"] == 1.0 and r["parity"]["max_abs_diff"] < 1e-6


def test_ensemble_of_models_with_different_inputs_is_refused():
    from infermeter.workloads.registry import get_workload

    with pytest.raises(ConfigError, match="different inputs"):
        get_workload("ensemble(fake-tiny,resnet50)")


def test_summary_csv_has_one_row_per_cell_with_repeat_statistics(tmp_path, cache_root):
    import csv

    from infermeter.reports.table import write_summary_csv

    run_suite(suite(), tmp_path, cache_root=cache_root, isolation="none")
    write_summary_csv(summarise_engines(ResultStore(tmp_path).read()), tmp_path / "summary.csv")
    rows = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert len(rows) == 2
    assert float(rows[0]["p50_ms_min"]) <= float(rows[0]["p50_ms_mean"]) <= float(rows[0]["p50_ms_max"])
    assert int(rows[0]["merged_count"]) >= 40 and rows[0]["parity_agreement"] == "1.0"


def test_parity_verdict_flags_drift_beyond_tolerance(tmp_path, cache_root):
    run_suite(suite(engines=[{"name": "fake", "settings": {"noise": 0.5}}]), tmp_path / "a", cache_root=cache_root, isolation="none")
    bad = next(ResultStore(tmp_path / "a").records())
    assert bad["parity"]["verdict"] == "mismatch"
    assert [w["code"] for w in bad["warnings"]] == ["parity-mismatch"] and "outputs differ" in bad["warnings"][0]["text"]
    run_suite(suite(), tmp_path / "b", cache_root=cache_root, isolation="none")
    assert next(ResultStore(tmp_path / "b").records())["parity"]["verdict"] == "match"


def test_engine_labels_with_settings_survive_the_table(tmp_path, cache_root):
    from rich.console import Console

    from infermeter.reports.table import comparison_table

    run_suite(suite(engines=[{"name": "fake", "settings": {"service_ms": 1.5}}]), tmp_path, cache_root=cache_root, isolation="none")
    console = Console(width=250, record=True)
    console.print(comparison_table(summarise_engines(ResultStore(tmp_path).read())))
    assert "fake[service_ms=1.5]" in console.export_text()


def test_warm_up_waits_out_a_slow_start_and_is_recorded(tmp_path, cache_root):
    """The fake engine starts 4x slower and settles over ~60 calls. A warm-up of 2 calls (the suite's
    minimum) used to leave repeat 1 measuring that transient."""
    s = suite(engines=[{"name": "fake", "settings": {"service_ms": 2.0, "settle_calls": 15}}],
              scenarios=[{"kind": "single-stream"}], warmup={"iterations": 2, "seconds": 0, "max_seconds": 20},
              measure={"repeats": 2, "min_iterations": 20, "min_seconds": 0.05, "max_seconds": 5})
    run_suite(s, tmp_path, cache_root=cache_root, isolation="none")
    recs = list(ResultStore(tmp_path).records())
    p50 = [r["metrics"]["latency_ms"]["p50"] for r in recs]
    assert p50[0] == pytest.approx(p50[1], rel=0.15), p50
    w = recs[0]["warmup"]
    assert w["steady"] and not w["hit_max"] and w["calls"] >= 40 and w["seconds"] > 0
    assert w["late_ms"] < w["early_ms"] * 1.1 and w["statistic"] is not None
    assert recs[1]["warmup"] == w  # one warm-up per cell, in each of its records
    assert any(c["check"] == "steady warm-up" and c["ok"] for c in recs[0]["sanity"]["checks"])


def test_a_failing_call_in_the_single_stream_window_is_counted(tmp_path, cache_root):
    # Fails at call 400: warm-up (at most 0.3 s of 2 ms calls: 150) and parity come first, and the window
    # (at least 5 s: 2,500 calls) would go on well past it.
    s = suite(engines=[{"name": "fake", "settings": {"service_ms": 2.0, "fail_after_calls": 400}}],
              scenarios=[{"kind": "single-stream"}], warmup={"iterations": 2, "seconds": 0, "max_seconds": 0.3},
              measure={"repeats": 1, "min_iterations": 20, "min_seconds": 5.0, "max_seconds": 10})
    summary = run_suite(s, tmp_path, cache_root=cache_root, isolation="process")
    assert summary.measured == 1  # the cell ran; its window recorded the failure instead of dying
    (r,) = ResultStore(tmp_path).records()
    assert r["status"] == "failed" and r["metrics"]["failures"] == 1
    assert 200 < r["metrics"]["requests"] < 400  # the calls before the failure are kept
    assert "fake engine told to fail" in r["error"]
    assert any(w["code"] == "calls-failed" and "1 predict calls failed" in w["text"] for w in r["warnings"])
    assert not any("max_seconds" in w["text"] for w in r["warnings"])


def test_an_output_of_the_wrong_shape_is_a_parity_mismatch(tmp_path, cache_root):
    from infermeter.reports.table import engine_grid

    run_suite(suite(engines=[{"name": "fake", "settings": {"wrong_shape": True}}], scenarios=[{"kind": "offline", "batch_sizes": [2]}]),
              tmp_path, cache_root=cache_root, isolation="none")
    recs = list(ResultStore(tmp_path).records())
    p = recs[0]["parity"]
    assert p["verdict"] == "mismatch" and p["max_abs_diff"] is None and "output shape" in p["note"]
    assert any(w["text"].startswith("outputs differ from fake: output shape") for w in recs[0]["warnings"])
    grid = engine_grid(summarise_engines(recs))
    col = grid.columns.index("agree / max|diff|")
    assert grid.rows[0][col] == "MISMATCH shape"


def test_a_process_the_cell_started_and_left_is_stopped_with_its_worker(tmp_path, cache_root):
    # Workers leave without the interpreter's teardown (os._exit); what they started (inductor's compile
    # workers) must not outlive them.
    import psutil

    pid_file = tmp_path / "child.pid"
    s = suite(engines=[{"name": "fake", "settings": {"service_ms": 1.0, "child_pid_file": str(pid_file)}}],
              scenarios=[{"kind": "single-stream", "batch_sizes": [1]}])
    summary = run_suite(s, tmp_path / "out", cache_root=cache_root, isolation="process")
    assert summary.measured == 1
    pid = int(pid_file.read_text())
    try:
        child = psutil.Process(pid)
        child.wait(timeout=5)  # gone, or a zombie until init reaps it
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        child.kill()
        pytest.fail("the process the cell's engine started still runs after the run")


def test_an_open_loop_suite_runs_end_to_end_and_records_its_rate_and_saturation(tmp_path, cache_root):
    """Poisson arrivals at 20/s and 400/s against a 5 ms engine, one caller: the first keeps up, the second
    (twice what one caller serves) completes about 200/s, leaves a backlog and says it did not keep up."""
    from infermeter.loadgen.schedule import arrivals
    from infermeter.reports.table import engine_grid

    s = suite(engines=[{"name": "fake", "settings": {"service_ms": 5.0}}],
              scenarios=[{"kind": "open-loop", "rates": [20, 400]}],
              measure={"repeats": 2, "min_iterations": 20, "min_seconds": 0.5, "max_seconds": 10})
    summary = run_suite(s, tmp_path, cache_root=cache_root, isolation="none")
    assert (summary.measured, summary.failed) == (2, 0)
    recs = list(ResultStore(tmp_path).records())
    assert len(recs) == 4 and {r["cell"]["rate"] for r in recs} == {20.0, 400.0}
    assert {r["cell"]["scenario"] for r in recs} == {"open-loop"}
    assert recs[0]["cell_id"] != recs[2]["cell_id"]
    low, high = recs[0]["metrics"], recs[2]["metrics"]
    assert low["offered"] == low["requests"] and low["unsent"] == 0 and low["backlog"] <= 1
    assert low["latency_ms"]["p50"] >= 5.0 and low["issue_lag_hdr"] and low["offered_per_s"] > 0
    assert high["batches_per_s"] < 0.7 * high["offered_per_s"] and high["backlog"] > 0.25 * high["offered"]
    assert any(w["code"] == "open-loop-saturated" for w in recs[2]["warnings"])
    assert not any(w["code"] == "open-loop-saturated" for w in recs[0]["warnings"])
    assert not any(c["check"] == "little's law" for c in recs[2]["sanity"]["checks"])
    # Repeat r's schedule is the suite's seed + r, over max(min_seconds, min_iterations / rate) = 1 s at 20/s.
    assert [r["metrics"]["offered"] for r in recs[:2]] == [len(arrivals(20.0, 1.0, "poisson", seed=k)) for k in (0, 1)]
    rows = summarise_engines(ResultStore(tmp_path).read())
    assert [r.rate for r in rows] == [20.0, 400.0] and rows[1].backlog == max(recs[2]["metrics"]["backlog"], recs[3]["metrics"]["backlog"])
    assert rows[1].unsent == 0 and rows[1].issue_lag is not None and rows[1].issue_lag.p50 > 100
    grid = engine_grid(rows)
    assert [row[grid.columns.index("rate/s")] for row in grid.rows] == ["20", "400"]
    assert "open-loop: Poisson arrivals" in grid.caption
    csv_rows = (tmp_path / "results.csv").read_text().splitlines()
    assert "rate" in csv_rows[0].split(",")


def test_a_reduced_precision_engine_is_judged_on_its_predictions_not_every_value(tmp_path, cache_root):
    import numpy as np

    from infermeter.export.parity import check_parity
    from infermeter.testing.engine import FakeEngine, FakeSettings
    from infermeter.testing.workload import FakeTiny

    # 0.5 off every value, every prediction the same: beyond the FP32 tolerance, within a bf16 engine's.
    run_suite(suite(engines=[{"name": "fake", "settings": {"noise": 0.5, "precision": "bf16"}}]), tmp_path, cache_root=cache_root,
              isolation="none")
    r = next(ResultStore(tmp_path).records())
    assert r["parity"]["verdict"] == "match" and r["parity"]["precision"] == "bf16" and r["parity"]["max_abs_diff"] > r["parity"]["tolerance"]
    assert "judged on its predictions" in r["parity"]["note"] and not r["warnings"]

    class Shuffled(FakeEngine):  # bf16 whose predictions change: a mismatch however it is judged
        def predict(self, batch):
            return super().predict(batch)[:, ::-1]

    workload = FakeTiny()
    engine = Shuffled(FakeSettings(service_ms=0, precision="bf16"))
    engine.input_names, engine._weights, engine._calls = ["x"], workload.weights(), 0
    reference = np.concatenate([workload.batch(1, offset=i)["x"] @ workload.weights() for i in range(8)])
    parity = check_parity(workload, engine, 1, reference, "fake")
    assert parity["verdict"] == "mismatch" and parity["agreement"] < 0.99
