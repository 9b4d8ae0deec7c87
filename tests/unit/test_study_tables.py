"""The studies' table shapes in the report (mean latency, failures/s, framework x model at one and at the
most users) and every table written again as CSV and LaTeX for a paper."""

import csv
import io
import json

import numpy as np

from infermeter.reports.grid import Grid
from infermeter.reports.grid_files import file_stem, grid_csv, grid_latex, latex_escape
from infermeter.reports.pivots import across_models, server_pivots
from infermeter.reports.report import write_report
from infermeter.results import histogram, stats
from infermeter.results.store import ResultStore
from infermeter.results.summary import summarise_loads


def _record(server, users, rep, rps, mean_ms, workload="resnet50", failures=0.0):
    ns = np.full(50, mean_ms * 1e6)
    return {"schema_version": 2, "kind": "server", "cell_id": f"{server}-{workload}-{users}", "status": "ok", "repeat": rep,
            "repeats": 2, "run_id": "r1", "cell": {"workload": workload, "server": server, "server_settings": {},
                                                   "scenario": "closed-loop", "users": users, "rate": None},
            "server": {"name": server, "label": server},
            "metrics": {"latency_hdr": histogram.encode(histogram.from_ns(ns)), "latency_ms": stats.latency_summary_ms(ns),
                        "throughput_rps": rps, "failures_per_s": failures, "failure_rate": failures / rps}}


def _records(workloads=("resnet50", "bert"), failures=0.0):
    out = []
    for w_i, workload in enumerate(workloads):
        for s_i, server in enumerate(("alpha", "beta")):
            for users in (1, 4, 16):
                for rep, jitter in enumerate((-1.0, 1.0)):
                    mean = 10.0 * (1 + w_i) * (1 + s_i) * users ** 0.5 + jitter
                    out.append(_record(server, users, rep, 100.0 / (1 + w_i) + jitter, mean, workload, failures))
    return out


def _grid(grids, title):
    [g] = [g for g in grids if g.title == title]
    return {row[0]: row[1:] for row in g.rows}, g


def test_mean_latency_pivot_averages_each_windows_mean_over_repeats():
    rows = summarise_loads(_records(("resnet50",)), kind="server")
    cells, g = _grid(server_pivots(rows), "resnet50: mean latency (ms) by framework and virtual users")
    assert g.columns == ["framework \\ virtual users", "1", "4", "16"]
    # windows of 9 and 11 ms: their mean 10, and a t interval over the two repeats (12.71 x 1.414 / 1.414)
    assert cells["alpha"][0] == "10.0 ±12.7"
    assert cells["beta"][1].startswith("40.0 ±")
    assert "means" in g.caption


def test_failures_per_second_pivot_only_where_requests_failed():
    clean = server_pivots(summarise_loads(_records(("resnet50",)), kind="server"))
    assert not [g for g in clean if "failures/s" in g.title]
    failing = server_pivots(summarise_loads(_records(("resnet50",), failures=2.5), kind="server"))
    cells, _ = _grid(failing, "resnet50: failures/s by framework and virtual users")
    assert cells["alpha"] == ["2.50 ±0.00"] * 3


def test_across_models_at_one_user_and_at_the_most_users():
    rows = summarise_loads(_records(), kind="server")
    titles = [g.title for g in across_models(rows)]
    assert titles == ["across models at one virtual user: mean latency (ms)", "across models at one virtual user: requests/s",
                      "across models at 16 virtual users: mean latency (ms)", "across models at 16 virtual users: requests/s"]
    cells, g = _grid(across_models(rows), "across models at 16 virtual users: mean latency (ms)")
    assert g.columns == ["framework \\ workload", "bert", "resnet50"]
    assert cells["alpha"][1].startswith("40.0 ±") and cells["beta"][0].startswith("160 ±")
    assert g.title in [x.title for x in server_pivots(rows)]  # part of the report's server tables


def test_across_models_needs_two_workloads():
    assert across_models(summarise_loads(_records(("resnet50",)), kind="server")) == []


def test_latex_escapes_specials_and_symbols():
    assert latex_escape("p99 ≤ 100 ms & 5% of $x_1 ± 2 #{a}~^\\") == (
        r"p99 $\le$ 100 ms \& 5\% of \$x\_1 $\pm$ 2 \#\{a\}\textasciitilde{}\textasciicircum{}\textbackslash{}")
    g = Grid("a & b: p50 (ms)", ["framework \\ users", "1"], [["x_y", "1.0 ±0.1"]], caption="50% of runs", left=1)
    tex = grid_latex(g)
    assert r"\caption{a \& b: p50 (ms)}" in tex and r"\begin{tabular}{lr}" in tex
    assert r"x\_y & 1.0 $\pm$0.1 \\" in tex and r"50\% of runs" in tex and tex.count(r"\toprule") == 1


def test_csv_keeps_the_cells_as_shown():
    g = Grid("t", ["framework", "p50, ms"], [["a, b", "1.0 ±0.1"]])
    assert list(csv.reader(io.StringIO(grid_csv(g)))) == [["framework", "p50, ms"], ["a, b", "1.0 ±0.1"]]
    assert file_stem(3, "resnet50: p99 latency (ms) by framework") == "03-resnet50-p99-latency-ms-by-framework"
    assert file_stem(1, "±") == "01-table"


def test_report_writes_every_table_and_removes_only_its_stale_ones(tmp_path):
    store = ResultStore(tmp_path / "run")
    store.create()
    for r in _records():
        store.append(r)
    files = write_report([tmp_path / "run"], tmp_path / "run")
    names = {p.name for p in files.tables}
    assert len(names) == len(files.tables) and len(names) % 2 == 0
    mean = [p for p in files.tables if p.name.endswith("-across-models-at-16-virtual-users-mean-latency-ms.csv")]
    assert len(mean) == 1 and mean[0].read_text().startswith("framework \\ workload,bert,resnet50\n")
    manifest = json.loads((tmp_path / "run" / ".infermeter-report.json").read_text())["files"]
    assert {f"tables/{n}" for n in names} <= set(manifest)

    mine = tmp_path / "run" / "tables" / "notes.csv"  # not the report's: never removed
    mine.write_text("mine")
    stale = tmp_path / "run" / "tables" / "99-old.tex"
    stale.write_text("old")
    manifest.append("tables/99-old.tex")
    (tmp_path / "run" / ".infermeter-report.json").write_text(json.dumps({"files": manifest}))
    write_report([tmp_path / "run"], tmp_path / "run")
    assert mine.exists() and not stale.exists()


def test_the_latency_distribution_under_load_sits_with_the_load_tables():
    from infermeter.reports.content import build_report
    from infermeter.results.record import parse_record

    report = build_report([parse_record(r) for r in _records()], {})
    where = {f.id: s.title for s in report.sections for f in s.figures}
    assert where["latency-cdf-users-bert-16"] == "Serving frameworks under load"
    assert where["latency-cdf-one-bert"] == "Latency one request at a time"


def _engine_record(workload, batch, rep, per_sample_ms, artifact_mb):
    ns = np.full(40, per_sample_ms * batch * 1e6)
    return {"schema_version": 2, "kind": "engine", "cell_id": f"ort-{workload}-{batch}", "status": "ok", "repeat": rep, "repeats": 2,
            "run_id": "r1", "cell": {"workload": workload, "engine": "onnxruntime", "engine_settings": {}, "scenario": "offline",
                                     "batch_size": batch, "concurrency": 1},
            "engine": {"name": "onnxruntime", "label": "onnxruntime"},
            "metrics": {"latency_hdr": histogram.encode(histogram.from_ns(ns)), "latency_ms": stats.latency_summary_ms(ns),
                        "samples_per_s": 1000.0 / per_sample_ms * (1 + 0.1 * (batch > 1)) + rep, "cpu_percent": 150.0 + batch,
                        "peak_rss_mb": 300.0 * artifact_mb / 100, "artifact_bytes": int(artifact_mb * 1e6)}}


def test_every_metric_of_one_configuration_as_bars_one_per_model():
    """The ORT-vs-TensorRT study's Fig. 1/2 shape: one configuration, each model a bar per metric; throughput,
    CPU and memory at the sweep's best batch, latency at batch 1."""
    from infermeter.reports.figure_data import Colours
    from infermeter.reports.figures import multi_metric_figures
    from infermeter.results.record import parse_record
    from infermeter.results.summary import summarise

    records = [parse_record(_engine_record(w, b, rep, ms, mb)) for w, ms, mb in (("resnet50", 40.0, 100.0), ("bert-base", 160.0, 440.0))
               for b in (1, 8) for rep in (0, 1)]
    [fig] = multi_metric_figures(summarise(records), Colours())
    assert fig.id == "metrics-onnxruntime" and fig.y_scale == "log10" and [s.name for s in fig.series] == ["resnet50", "bert-base"]
    bert = {p.x: p for p in fig.series[1].points}
    assert abs(bert["p50 latency, batch 1 (ms)"].y - 160.0) < 0.5 and "batch 1" in bert["p50 latency, batch 1 (ms)"].note
    assert bert["throughput (samples/s)"].y == 1000 / 160 * 1.1 + 0.5 and "at batch 8" in bert["throughput (samples/s)"].note
    assert bert["CPU (%)"].y == 158.0 and bert["model size (MB)"].y == 440.0
    assert "GPU utilisation (%)" not in bert  # no NVML figures: no bar, not a zero
    assert not multi_metric_figures(summarise(records[:4]), Colours())  # one model: nothing to hold side by side


def test_mean_latency_at_one_user_per_model_and_framework_with_its_spread_over_runs():
    """The DL-serving study's Fig. 1: each repeat's mean at one user; the bar their mean, the whisker lowest to highest."""
    from infermeter.reports.figure_data import Colours
    from infermeter.reports.figures import mean_latency_at_one_user_figure

    fig = mean_latency_at_one_user_figure(summarise_loads(_records(), kind="server"), Colours())
    assert fig.kind == "bar" and fig.categories == ["resnet50", "bert"] and [s.name for s in fig.series] == ["alpha", "beta"]
    alpha_resnet, alpha_bert = fig.series[0].points
    assert (alpha_resnet.lo, alpha_resnet.hi) == (9.0, 11.0) and abs(alpha_resnet.y - 10.0) < 0.05
    assert abs(alpha_bert.y - 20.0) < 0.1 and "over 2 repeats" in alpha_bert.note
