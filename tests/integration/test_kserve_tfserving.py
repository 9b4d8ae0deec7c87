"""TF Serving's REST protocol, exercised against KServe's V1 endpoint serving the same SavedModel (no
tensorflow_model_server binary exists here), and TF Serving's clear refusal when it cannot run. KServe's
loopback-only listeners and a clean stop are checked by the server contract (tests/contract/test_servers.py;
its app patches its listeners to 127.0.0.1 before it serves either protocol)."""

import json
import subprocess
import sys

import psutil
import pytest
from conftest import with_environment

from infermeter.servers.kserve.adapter import KServe
from infermeter.servers.tfserving.adapter import TfServing, TfServingSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kserve_env():
    pytest.importorskip("tensorflow")
    return with_environment(KServe())


def kserve_processes():
    return [p for p in psutil.process_iter(["cmdline"]) if "kserve_app.py" in " ".join(p.info["cmdline"] or [])]


def test_v1_instances_on_kserve_are_reported_as_kserve(kserve_env, tmp_path, cache_root):
    suite = tmp_path / "suite.yaml"
    suite.write_text("""
name: v1
workloads: [resnet50]
servers: [{name: kserve, settings: {threads: 2}}, tfserving]
load: {users: [1], rates: [4], warmup_s: 0.5, min_seconds: 2, min_requests: 4, repeats: 1, timeout_s: 60}
overhead: {reference: false}
""")
    r = subprocess.run(
        [sys.executable, "-m", "infermeter.cli.main", "run", str(suite), "--out", str(tmp_path / "out"), "--cache", str(cache_root)],
        capture_output=True, text=True, timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    recs = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    kserve = [x for x in recs if x["server"]["name"] == "kserve"]
    assert len(kserve) == 2 and all(x["status"] == "ok" and x["metrics"]["outcomes"] == {"200": x["metrics"]["requests"]} for x in kserve)
    assert kserve[0]["deployment"]["framework"] == "kserve" and "instances" in kserve[0]["deployment"]["protocol"]
    tfs = [x for x in recs if x["server"]["name"] == "tfserving"]
    assert tfs and all(x["status"] == "skipped" and "tensorflow_model_server" in x["error"] for x in tfs)
    assert not kserve_processes()


def test_tf_serving_says_why_it_cannot_run(tmp_path, monkeypatch):
    monkeypatch.delenv("TENSORFLOW_MODEL_SERVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "not installable from PyPI or Debian" in TfServing().missing()
    fake = tmp_path / "tensorflow_model_server"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    assert "0.0.0.0" in TfServing().missing()  # found, but it would listen beyond loopback
    assert TfServing(TfServingSettings(allow_all_interfaces=True)).missing() is None
