"""Real general-purpose serving frameworks (MLServer, MLflow, BentoML, KServe, LitServe, Ray Serve) serving the
malware-detection model: single- and multi-stream rows written by `infermeter run` (answers checked against
scikit-learn, with server-side batching on where the framework has it), nothing left running after it. The V2 speakers (MLServer,
KServe, Triton) are driven by the same V2 client code over gRPC (over REST in the contract suite).

Deploy, ready, answers, loopback-only sockets and a clean stop of each adapter with its default settings are
the server contract's (tests/contract/test_servers.py), not checked again here."""

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from conftest import assert_listens_on_loopback_only, with_environment

from infermeter.export.artifacts import Exporter
from infermeter.servers.answers import expected_answers, same_answer
from infermeter.servers.registry import server_class
from infermeter.workloads.registry import get_workload

pytestmark = pytest.mark.integration

WORKLOAD = "malware-gbt"


def adapter_for(name: str, settings: dict):
    cls = server_class(name)
    return with_environment(cls(cls.Settings(**settings)))


def processes_under(path: Path) -> list[psutil.Process]:
    """Processes whose command line or working directory lies under `path` (this test's server)."""
    found = []
    for p in psutil.process_iter(["cmdline", "cwd"]):
        if str(path) in " ".join(p.info["cmdline"] or []) or str(path) in (p.info["cwd"] or ""):
            found.append(p)
    return found


@pytest.fixture(scope="module")
def malware(cache_root):
    w = get_workload(WORKLOAD)
    ex = Exporter(w, cache_root)
    return w, ex, expected_answers(ex)


# Over REST the same client is each V2 speaker's answer check in the server contract.
V2_GRPC = [("mlserver", {"protocol": "grpc"}), ("kserve", {"protocol": "v2-grpc"}), ("triton", {"protocol": "grpc"})]


@pytest.mark.parametrize("name, settings", V2_GRPC, ids=[n for n, _ in V2_GRPC])
def test_one_v2_client_drives_mlserver_kserve_and_triton_over_grpc(name, settings, malware, tmp_path):
    workload, exporter, expected = malware
    adapter = adapter_for(name, settings | {"threads": 1})
    d = adapter.deploy(workload, exporter, tmp_path)
    with d.process as proc:
        assert d.v2 is not None
        outputs = d.v2.infer([d.v2.payload_tensor(p) for p in workload.payloads()[:1]], protocol="grpc")
        result = outputs["result"]
        assert result.datatype == "BYTES" and len(result.data) == 1
        assert same_answer(expected[0], json.loads(result.data[0]))
        # KServe opens its gRPC port (patched to loopback in its app) only with v2-grpc, which the contract
        # does not deploy.
        assert_listens_on_loopback_only(proc.tree(), at_least=2)


# BentoML, LitServe and Ray Serve with server-side batching on: the run's answer check (64 payloads) and its
# 3-user window go through the framework's batching path (batched bodies, answers unbatched again).
RUNS = [("mlserver", {}), ("mlflow", {}), ("bentoml", {"max_batch_size": 4, "max_batch_delay_ms": 5}), ("kserve", {"protocol": "v2"}),
        ("litserve", {"max_batch_size": 4}), ("rayserve", {"max_batch_size": 4})]


@pytest.mark.parametrize("name, settings", RUNS, ids=[n for n, _ in RUNS])
def test_run_writes_single_and_multi_stream_rows_with_cost(name, settings, tmp_path, cache_root):
    adapter_for(name, settings)
    suite = tmp_path / "suite.yaml"
    suite.write_text(json.dumps({
        "name": name, "workloads": [WORKLOAD], "servers": [{"name": name, "settings": settings | {"threads": 1}}],
        "load": {"users": [1, 3], "warmup_s": 0.5, "min_seconds": 1.5, "min_requests": 5, "repeats": 1, "timeout_s": 30},
        "cost": {"price_per_hour": 0.1}, "overhead": {"reference": name == "mlserver", "reference_calls": 5, "reference_seconds": 0.3},
    }))
    r = subprocess.run(
        [sys.executable, "-m", "infermeter.cli.main", "run", str(suite), "--out", str(tmp_path / "out"), "--cache", str(cache_root)],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    recs = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [x["cell"]["users"] for x in recs] == [1, 3]
    for x in recs:
        assert x["status"] == "ok", x.get("error")
        assert x["answers"]["verdict"] == "match" and x["answers"]["checked"] == 64
        if "max_batch_size" in settings:
            assert x["deployment"]["batching"] is True
        assert x["metrics"]["outcomes"] == {"200": x["metrics"]["requests"]}
        rps = x["metrics"]["throughput_rps"]
        assert x["cost"]["per_million_requests"] == pytest.approx(0.1 / (rps * 3600) * 1e6)
        m = x["metrics"]  # the client's and the server's own cost, and energy (measured or labelled estimate)
        assert m["client_cpu_percent"] > 0 and m["client_rss_mb"] > 10 and m["server_cpu_percent"] > 0 and m["server_rss_mb"] > 10
        # the whole machine: at least the server's share (same window), at most every core
        assert 0.8 * m["server_cpu_percent"] <= m["system_cpu_percent"] <= 105 * psutil.cpu_count()
        assert m["energy"]["source"] in ("rapl", "estimate") and m["energy"]["joules_per_1000"] > 0
        assert m["energy"]["gpu"]["source"] in ("nvml", "n/a")
    assert "cost per million requests, malware-gbt: 1. " + name in r.stdout
    assert not processes_under(tmp_path)
