"""Real Triton (nvidia-pytriton's tritonserver binary, Python backend): closed and open loop, V2 HTTP and
gRPC, its own Prometheus metrics. Its loopback-only listeners (HTTP, gRPC, metrics) and a clean stop are
checked by the server contract (tests/contract/test_servers.py)."""

import json
import subprocess
import sys

import psutil
import pytest
from conftest import with_environment

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

