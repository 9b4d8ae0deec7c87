"""The serving-overhead check on a real server: sentiment-minilm (ONNX Runtime inside) on LitServe at one
user. Every window carries the in-process reference of the server's own pipeline, timed just before and
after it, and the decomposition; the check must pass. It failed while text workloads built a BERT tokenizer
for every request (30-70 ms of pre-processing per request in process here, flagged "something is built per
request"). The serving budget here is 12 ms, not the product's 5: on a VM slowed from outside the same
window measured 5.5-6.7 ms beyond the model (2.3-3.0 ms on a quiet one), which says nothing about the
harness; what this test guards is a per-request set-up, an order of magnitude above either."""

import json
import subprocess
import sys

import pytest
from conftest import with_environment

from infermeter.servers.registry import server_class

pytestmark = pytest.mark.integration
BUDGET_MS = 12.0


def test_sentiment_on_litserve_spends_little_beyond_the_model(tmp_path, cache_root):
    with_environment(server_class("litserve")())
    suite = tmp_path / "suite.yaml"
    suite.write_text(json.dumps({
        "name": "overhead", "workloads": ["sentiment-minilm"],
        "servers": [{"name": "litserve", "settings": {"workers": 1, "threads": 2, "runtime": "onnxruntime"}}],
        "load": {"users": [1], "warmup_s": 1, "min_seconds": 3, "min_requests": 20, "repeats": 2, "timeout_s": 60},
        "overhead": {"serving_budget_ms": BUDGET_MS},
    }))
    r = subprocess.run(
        [sys.executable, "-m", "infermeter.cli.main", "run", str(suite), "--out", str(tmp_path / "out"), "--cache", str(cache_root)],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    recs = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert len(recs) == 2
    for rec in recs:
        assert rec["status"] == "ok", rec.get("error")
        # Each window's reference: the pipeline timed just before and just after it, with the server up.
        ref = rec["inprocess"]
        assert ref["status"] == "ok" and ref["runtime"] == "onnxruntime" and ref["threads"] == 2
        assert ref["pairing"] == "bracketed"
        assert [b["batch_size"] for b in ref["batches"]] == [1] and ref["batches"][0]["calls"] >= 40
        d = rec["decomposition"]
        assert d["client_p50_ms"] == rec["metrics"]["latency_ms"]["p50"]
        assert d["model_ms"] > 0 and d["pipeline_ms"] >= d["model_ms"]
        [check] = [c for c in rec["sanity"]["checks"] if c["check"] == "serving overhead"]
        assert check["ok"], check["detail"]
        assert not [w for w in rec["warnings"] if w.startswith("serving overhead")]
        # The tokenizer is kept for the process: tokenising a short review takes well under a millisecond
        # on a quiet machine (2.2 ms once on a CI machine whose client p50 was 59 ms); one built per request
        # took 30-70 ms. The bound sits between the two.
        assert d["pre_post_ms"] < 10.0, d
        # Beyond the model: within the serving budget at the p50 or at the floor, unless other work on the
        # machine took the CPU during the window (then the check says so and does not judge it).
        within = min(d["serving_ms"], d["serving_floor_ms"]) <= BUDGET_MS
        assert within or "serving not judged" in check["detail"], check["detail"]
