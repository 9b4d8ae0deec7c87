"""`infermeter report` on synthetic records: which figures and tables it makes, that each warning gets a
remedy, that the HTML stands alone, and that the PNGs are drawn."""

import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from infermeter.reports.content import build_report
from infermeter.reports.remedies import advise
from infermeter.results.warnings import CATALOGUE, FALLBACK_REMEDY as FALLBACK
from infermeter.reports.report import write_report
from infermeter.results import histogram, stats
from infermeter.results.frame import read_under
from infermeter.results.summary import summarise_loads
from infermeter.results.store import ResultStore

ENERGY = {"source": "estimate", "joules_per_1000": 2.5, "joules_per_inference": 0.0025,
          "cpu_estimate": {"watts": 10, "basis": "estimate, not a measurement: 1 CPU-second x 10 W"},
          "gpu": {"source": "n/a", "reason": "no NVIDIA GPU support here"}}
MACHINE = {"hostname": "vm", "logical_cpus": 2, "cpu_model": "AMD EPYC", "gpu": None}
WORKLOAD = {"name": "w", "task": "tabular", "provenance": {"weights": "seeded random weights", "inputs": "synthetic rows"}}


def _latency(rng, ms, n=400):
    ns = rng.gamma(20, ms / 20, n) * 1e6
    return {"latency_hdr": histogram.encode(histogram.from_ns(ns)), "latency_ms": stats.latency_summary_ms(ns)}


def engine_records(rng, energy=True):
    out = []
    for engine, base in (("fast", 1.0), ("slow", 3.0)):
        for scenario, batch in (("single-stream", 1), ("offline", 1), ("offline", 2), ("offline", 4)):
            for rep in range(3):
                m = _latency(rng, base * (1 + 0.3 * batch)) | {
                    "samples_per_s": 1000 * batch / base * (1 + rng.normal(0, 0.02)), "cpu_percent": 100.0,
                    "load_s": 0.4 * base, "load_cached_s": 0.1, "first_inference_s": 0.02, "convert_s": 1.5,
                    "artifact_bytes": 1000, "peak_rss_mb": 200 + 10 * batch, "peak_rss_delta_mb": 10 * batch}
                if energy:
                    m["energy"] = ENERGY
                out.append({"kind": "engine", "cell_id": f"{engine}-{scenario}-{batch}", "status": "ok", "repeat": rep, "repeats": 3,
                            "run_id": "r1", "finished_at": f"2026-11-24T00:00:0{rep}+00:00", "machine": MACHINE, "workload": WORKLOAD,
                            "packages": {"numpy": "2.4.6"}, "engine": {"label": engine, "versions": {engine: "1.0"}},
                            "cell": {"workload": "w", "engine": engine, "scenario": scenario, "batch_size": batch, "concurrency": 1},
                            "parity": {"max_abs_diff": 0.0, "agreement": 1.0, "verdict": "match"}, "metrics": m,
                            "warnings": ["window hit max_seconds=1 with only 3 calls (< min_iterations)"] if engine == "slow" and batch == 4 else []})
    out.append({"kind": "engine", "cell_id": "tf", "status": "skipped", "cell": {"workload": "w", "engine": "tensorflow", "scenario": "offline",
                "batch_size": 1}, "error": "w cannot be exported to savedmodel (it supports onnx)"})
    return out


def server_records(rng):
    out = []
    for server, ms in (("alpha[threads=1]", 2.0), ("beta[threads=1]", 3.0)):
        for users in (1, 4):
            for rep in range(2):
                m = _latency(rng, ms * users) | {
                    "throughput_rps": users * 1000 / (ms * users), "failures_per_s": 0.0, "failure_rate": 0.0, "generator_cpu_max": 0.1,
                    "outcomes": {"200": 400}, "server_cpu_percent": 90.0, "server_rss_mb": 300.0, "client_cpu_percent": 10.0,
                    "client_rss_mb": 150.0, "system_cpu_percent": 120.0, "energy": ENERGY}
                out.append({"kind": "server", "cell_id": f"{server}-{users}", "status": "ok", "repeat": rep, "repeats": 2, "run_id": "r1",
                            "cell": {"workload": "w", "scenario": "closed-loop", "users": users, "rate": None},
                            "server": {"name": server.split("[")[0], "label": server, "settings": {"threads": 1}},
                            "deployment": {"version": "x==1", "protocol": "REST", "cold_start_s": 2.5}, "machine": MACHINE,
                            "workload": WORKLOAD, "metrics": m, "warnings": []})
    out.append({"kind": "server", "cell_id": "beta-8", "status": "failed", "repeat": 0, "cell": {"workload": "w", "scenario": "closed-loop",
                "users": 8, "rate": None}, "server": {"name": "beta", "label": "beta[threads=1]"},
                "error": "the server was killed by SIGKILL; last lines of /x/server.log: ..."})
    return out


@pytest.fixture
def results_dir(tmp_path):
    rng = np.random.default_rng(0)
    store = ResultStore(tmp_path / "run")
    store.create()
    for r in engine_records(rng) + server_records(rng):
        store.append(r)
    (tmp_path / "run" / "suite.json").write_text(json.dumps({"name": "synthetic-suite", "load": {"users": [1, 4, 8]}}))
    return tmp_path / "run"


def test_report_writes_html_markdown_and_every_figure(results_dir, tmp_path):
    files = write_report([results_dir], tmp_path / "rep")
    ids = {p.stem for p in files.figures}
    assert ids == {"throughput-vs-users-w", "latency-vs-users-w", "energy-vs-users-w", "latency-at-one-user", "mean-latency-at-one-user", "latency-cdf-one-w",
                   "latency-cdf-users-w-4", "throughput-vs-batch-w", "memory-vs-batch-w", "energy-vs-batch-w", "startup-w"}
    for png in files.figures:
        pixels = np.asarray(Image.open(png).convert("RGB"))
        assert (pixels < 250).any(axis=2).mean() > 0.02, f"{png.name} is nearly blank"
        assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # lines in several colours, not one flat fill

    md = files.markdown.read_text()
    assert md.startswith("# infermeter report: synthetic-suite")
    assert "| framework \\ virtual users | 1 | 4 |" in md  # the studies' shape: frameworks x user counts
    assert "| engine \\ batch size | 1 | 2 | 4 |" in md
    for fid in ids:
        assert f"(figures/{fid}.png)" in md
    assert "ESTIMATE, not a measurement" in md
    assert "seeded random weights" in md  # where the weights come from is part of every report
    assert '"name": "synthetic-suite"' in md  # the settings

    html = files.html.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html) and "<link" not in html  # nothing fetched
    data = json.loads(re.search(r'<script type="application/json" id="figure-data">(.*?)</script>', html, re.S).group(1))
    assert {f["id"] for f in data} == ids
    for f in data:
        assert f'data-figure="{f["id"]}"' in html


def test_every_warning_and_missing_cell_comes_with_a_remedy(results_dir):
    report = build_report(read_under([results_dir]), {})
    by_problem = {a.problem: a for a in report.advice}
    assert any(p.startswith("failed: the server was killed by SIGKILL") for p in by_problem)
    assert any(p.startswith("skipped: w cannot be exported to savedmodel") for p in by_problem)
    assert any(p.startswith("window hit max_seconds") for p in by_problem)
    assert any(p.startswith("p99 from fewer than 1000 samples") for p in by_problem)  # 400-800 samples per cell here
    assert all(a.remedy and a.remedy != FALLBACK.capitalize() for a in report.advice), [a for a in report.advice if a.remedy.startswith("No remedy")]
    assert "w on beta[threads=1], 8 users" in {a.where for a in report.advice}
    p99 = [a for a in report.advice if a.problem.startswith("p99 from fewer")]
    assert len(p99) == 1 and p99[0].where.count("samples)") == 4  # one line naming each server cell (2 x 400 samples)


@pytest.mark.parametrize("text, problem, remedy", [
    ("repeats disagree: p50 varies 12% (> 10%); close other programs, pin threads, or raise min_seconds",
     "repeats disagree: p50 varies 12% (> 10%)", "Close other programs, pin threads, or raise min_seconds"),
    ("generator saturated: a generator process used 97% of a core; the figures may show the generator's limit, not the server's. "
     "Add --workers or give the generator its own cores", None, "Add --workers or give the generator its own cores"),
    ("resnet50 needs onnxruntime\n  fix: pip install 'infermeter[onnx]'", "resnet50 needs onnxruntime", "pip install 'infermeter[onnx]'"),
    ("something nobody foresaw", "something nobody foresaw", FALLBACK.capitalize()),
])
def test_advice_splits_a_remedy_already_in_the_text(text, problem, remedy):
    a = advise("here", text)
    assert a.remedy == remedy
    assert "Add --workers" not in a.problem and "fix:" not in a.problem
    if problem:
        assert a.problem == problem


def test_every_remedy_pattern_compiles_and_old_records_without_energy_still_report(tmp_path):
    for pattern, _ in CATALOGUE.values():
        re.compile(pattern)
    rng = np.random.default_rng(1)
    store = ResultStore(tmp_path / "old")
    store.create()
    for r in engine_records(rng, energy=False):
        store.append(r)
    files = write_report([tmp_path / "old"], tmp_path / "old")
    assert "energy-vs-batch-w" not in {p.stem for p in files.figures}
    assert any("energy against batch size" in line for line in files.not_drawn)
    assert "n/a" in files.markdown.read_text()


def test_two_runs_of_one_suite_stay_apart(results_dir, tmp_path):
    shutil.copytree(results_dir, tmp_path / "after")
    records = read_under([results_dir, tmp_path / "after"])
    report = build_report(records, {})
    fig = next(f for f in report.figures if f.id == "throughput-vs-users-w")
    assert sorted(s.name for s in fig.series) == ["alpha[threads=1] @after", "alpha[threads=1] @run", "beta[threads=1] @after", "beta[threads=1] @run"]
    rows = summarise_loads(records, kind="server")
    assert {r.repeats for r in rows if r.status == "ok"} == {2}  # each run's own repeats, not 4 pooled


def test_load_test_results_report_under_the_endpoint(tmp_path):
    """`infermeter load` points have a target, not a workload and framework."""
    rng = np.random.default_rng(2)
    store = ResultStore(tmp_path / "load")
    store.create()
    for users in (1, 4):
        for rep in range(2):
            m = _latency(rng, 2.0 * users) | {"throughput_rps": 500.0, "failures_per_s": 0.0, "failure_rate": 0.0, "generator_cpu_max": 0.1,
                                             "outcomes": {"200": 400}, "system_cpu_percent": 150.0}
            store.append({"kind": "load", "cell_id": f"u{users}", "status": "ok", "repeat": rep, "repeats": 2, "metrics": m, "warnings": [],
                          "cell": {"target": "http://127.0.0.1:9/p", "label": "my endpoint", "scenario": "closed-loop", "users": users, "rate": None}})
    files = write_report([tmp_path / "load"], tmp_path / "load")
    assert {"throughput-vs-users-http-endpoint", "latency-vs-users-http-endpoint", "latency-cdf-users-http-endpoint-4"} <= {p.stem for p in files.figures}
    assert "| my endpoint | 500.0 ±0.0 | 500.0 ±0.0 |" in files.markdown.read_text()


def test_a_window_with_a_time_series_is_drawn_over_time(results_dir, tmp_path):
    records = [json.loads(x) for x in (results_dir / "results.jsonl").read_text().splitlines()]
    first = next(r for r in records if r["kind"] == "server" and r["status"] == "ok")
    first["metrics"]["series"] = {"interval_s": 1.0, "first_s": -1, "completed": [50, 200, 0, 210], "failures": [0, 0, 0, 3],
                                  "active": [4, 4, 4, 4], "p50_ms": [9.0, 2.0, None, 2.1], "p99_ms": [30.0, 4.0, None, 5.0]}
    store = ResultStore(tmp_path / "ts")
    store.create()
    for r in records:
        store.append(r)
    files = write_report([tmp_path / "ts"], tmp_path / "rep")
    over = sorted(p.stem for p in files.figures if p.stem.startswith("over-time"))
    assert len(over) == 2, over  # latency, and requests and users, of the one window with a series
    md = files.markdown.read_text()
    assert "## Over time" in md and "a stall" in md
