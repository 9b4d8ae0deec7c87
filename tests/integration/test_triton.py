"""Real Triton (nvidia-pytriton's tritonserver binary, Python backend): closed and open loop, V2 HTTP."""

import json
import subprocess
import sys

import psutil
import pytest
from conftest import assert_listens_on_loopback_only, with_environment

from infermeter.servers.triton.adapter import Triton

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def triton_env():
    return with_environment(Triton())


def triton_processes():
    return [p for p in psutil.process_iter(["cmdline"]) if "tritonserver" in " ".join(p.info["cmdline"] or [])
            or "triton_python_backend_stub" in " ".join(p.info["cmdline"] or [])]


@pytest.mark.parametrize("runtime, protocol", [("pytorch", "http"), ("onnxruntime", "grpc")])
def test_closed_and_open_loop_against_real_triton(triton_env, tmp_path, cache_root, runtime, protocol):
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"""
name: triton
workloads: [all-minilm-l6-v2]
servers: [{{name: triton, settings: {{workers: 1, threads: 1, runtime: {runtime}, protocol: {protocol}}}}}]
load: {{users: [1, 3], rates: [8], warmup_s: 0.5, min_seconds: 2, min_requests: 5, repeats: 1, timeout_s: 30}}
overhead: {{reference_seconds: 0.3, reference_calls: 5}}
""")
    r = subprocess.run(
        [sys.executable, "-m", "infermeter.cli.main", "run", str(suite), "--out", str(tmp_path / "out"), "--cache", str(cache_root)],
        capture_output=True, text=True, timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    recs = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert len(recs) == 3 and all(x["status"] == "ok" for x in recs), [x.get("error") for x in recs]
    for x in recs:
        m = x["metrics"]
        assert m["outcomes"] == {("grpc:OK" if protocol == "grpc" else "200"): m["requests"]}
        assert m["inference_ms_mean"] > 0 and m["queue_ms_mean"] >= 0  # Triton's own Prometheus metrics
    assert recs[0]["deployment"]["runtime"] == runtime
    assert ("gRPC" in recs[0]["deployment"]["protocol"]) == (protocol == "grpc")
    assert not triton_processes()


def test_triton_listens_on_loopback_only(triton_env, tmp_path, cache_root):
    from infermeter.export.artifacts import Exporter
    from infermeter.workloads.registry import get_workload

    w = get_workload("all-minilm-l6-v2")
    d = triton_env.deploy(w, Exporter(w, cache_root), tmp_path)
    with d.process as proc:
        assert_listens_on_loopback_only(proc.tree(), at_least=3)  # HTTP, gRPC, metrics
    assert not triton_processes()
