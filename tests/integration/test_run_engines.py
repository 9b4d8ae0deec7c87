"""`infermeter run` on real engines: ResNet-50 on ONNX Runtime and OpenVINO at batch 1 and 2."""

import csv
import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_resnet50_on_onnxruntime_and_openvino_agrees_with_pytorch(tmp_path, cache_root):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("openvino")
    pytest.importorskip("transformers")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: it\nworkloads: [resnet50]\nengines: [onnxruntime, openvino]\n"
        "scenarios: [{kind: offline, batch_sizes: [1, 2]}]\n"
        "warmup: {iterations: 1, seconds: 0, max_seconds: 3, window: 8}\nmeasure: {repeats: 2, min_iterations: 3, min_seconds: 0.2}\n"
    )
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, "-m", "infermeter.cli.main", "run", str(suite), "--out", str(out), "--cache", str(cache_root)],
        capture_output=True, text=True, timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 2 * 2 * 2
    for rec in records:
        assert rec["status"] == "ok"
        assert rec["parity"]["agreement"] == 1.0, rec["parity"]
        assert rec["parity"]["max_abs_diff"] < 1e-3 and rec["parity"]["verdict"] == "match"
        assert "seeded random" in rec["workload"]["provenance"]["weights"]
    ov = [x for x in records if x["engine"]["name"] == "openvino"][0]
    assert ov["metrics"]["load_cached_s"] is not None  # OpenVINO has a model cache
    assert ov["engine"]["runtime"]["inference_precision"].lower().startswith("f32")
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 8 and all(rows[0][k] for k in ("latency_p99.9_ms", "samples_per_s", "peak_rss_mb", "artifact_bytes"))
    assert "resnet50" in r.stdout and "openvino" in r.stdout
