"""The report's deployment recommendation: per workload and SLO the configuration with the highest capacity
of every capacity search and measured tuning trial, its headroom at a traffic level, and what it is not."""

from __future__ import annotations

from infermeter.reports.content import build_report
from infermeter.reports.recommendation import configuration, recommend, recommendation_grid
from infermeter.results.record import CapacityResult, TuningTrial

MACHINE = {"cpu_model": "Test CPU", "affinity_cpus": 2, "gpu": None}


def result(label, capacity, *, workload="resnet50", slo="p99<=100ms", stopped="resolution", engine=True, tuning=None, mode="rate"):
    cell = {"workload": workload, "label": label} | ({"engine": label.split(" on ")[-1], "callers": 1} if engine else {"server": "triton"})
    return CapacityResult(run_id="r", cell_id=label, cell=cell, status="ok", mode=mode, slo=slo, capacity=capacity,
                          upper=capacity * 1.05 if capacity else None, resolution=0.05, stopped=stopped, machine=MACHINE, tuning=tuning)


def test_the_highest_capacity_per_workload_and_slo_is_recommended_with_its_caveats():
    trial = TuningTrial(study="s", number=3, role="trial", params={}, settings={"threads": 1}, callers=2, cores=2.0)
    rows = [result("resnet50 on onnxruntime", 20.0), result("resnet50 on onnxruntime[threads=1]", 31.0, tuning=trial),
            result("resnet50 on triton", 12.0, engine=False), result("resnet50 on openvino", 50.0, stopped="pruned"),
            result("resnet50 on pytorch", 40.0, mode="users"), result("bert-base on onnxruntime", 8.0, workload="bert-base"),
            result("resnet50 on openvino", 9.0, slo="p90<=50ms")]
    recs = {(r.workload, r.slo): r for r in recommend(rows)}
    assert set(recs) == {("resnet50", "p99<=100ms"), ("bert-base", "p99<=100ms"), ("resnet50", "p90<=50ms")}
    best = recs["resnet50", "p99<=100ms"]
    # A pruned trial and a closed-loop search never win: neither is an open-loop capacity measured to the end.
    assert best.chosen.capacity == 31.0 and [r.capacity for r in best.others] == [20.0, 12.0]
    assert any("2 cores of Test CPU" in c for c in best.caveats) and any("in process" in c for c in best.caveats)
    assert best.headroom(20.0) == 31.0 / 20.0 - 1
    grid = recommendation_grid([best], traffic=40.0)
    row = grid.rows[0]
    assert row[2].endswith("2 callers") and row[4] == "-22% at 40/s" and row[5] == f"{2 / (31 * 3600) * 1e6:.3f}"
    assert (0, 4) in grid.marks  # below the traffic asked for: marked


def test_the_report_opens_with_the_recommendation_when_there_is_a_capacity():
    report = build_report([], {}, capacity=[result("resnet50 on onnxruntime", 20.0)], traffic=10.0)
    assert report.sections[0].title == "Deployment recommendation"
    assert "What this is not" in report.sections[0].intro and "+100% at 10/s" in report.sections[0].grids[0].rows[0]
    assert not any(s.title == "Deployment recommendation" for s in build_report([], {}, capacity=[]).sections)


def test_a_configuration_measured_again_stands_by_its_median_search_not_its_luckiest():
    trial = TuningTrial(study="s", number=3, role="trial", params={}, settings={"threads": 1}, callers=2, cores=2.0)
    again = trial.model_copy(update={"role": "confirm"})
    label = "resnet50 on onnxruntime[threads=1]"
    rows = [result(label, 40.0, tuning=trial), result(label, 26.0, tuning=again), result(label, 27.0, tuning=again),
            result("resnet50 on onnxruntime", 25.0)]
    [rec] = recommend(rows)
    assert rec.chosen.capacity == 27.0  # the lucky 40 is one search of three
    assert [configuration(r) for r in rec.others] == ["resnet50 on onnxruntime, 1 callers"]  # the runner-up is another configuration
    assert any("searched 3 times (26, 27, 40/s)" in c for c in rec.caveats)
