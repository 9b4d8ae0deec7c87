"""Real TorchServe: a short closed- and open-loop run, 503s past its queue bound, nothing left behind."""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
from conftest import with_environment

from infermeter.servers.torchserve.adapter import TorchServe

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def torchserve_env():
    if shutil.which("java") is None:
        pytest.skip("Java is not installed (apt-get install openjdk-17-jre-headless)")
    return with_environment(TorchServe())


def run_suite(tmp_path, cache_root, text):
    suite = tmp_path / "suite.yaml"
    suite.write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "infermeter.cli.main", "run", str(suite), "--out", str(tmp_path / "out"), "--cache", str(cache_root)],
        capture_output=True, text=True, timeout=1200,
    )


def records(tmp_path):
    return [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]


STANDIN = "infermeter-test-standin"


def torchserve_processes():
    return [p for p in psutil.process_iter(["cmdline"])
            if "org.pytorch.serve" in " ".join(p.info["cmdline"] or []) and STANDIN not in (p.info["cmdline"] or [])]


@pytest.fixture
def another_torchserve_running():
    """What TorchServe sees when another TorchServe runs on the machine: its pid file in the temporary
    directory, naming a live process (without a directory of its own, it refuses to start: "TorchServe is
    already running")."""
    pid_file = Path(tempfile.gettempdir()) / ".model_server.pid"
    if pid_file.exists() and pid_file.read_text().strip().isdigit() and psutil.pid_exists(int(pid_file.read_text())):
        pytest.skip(f"{pid_file} names a live process: a TorchServe runs here")
    # TorchServe believes the file when the process's command line names its frontend's class.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "org.pytorch.serve.ModelServer", STANDIN])
    pid_file.write_text(str(other.pid))
    yield
    pid_file.unlink(missing_ok=True)
    other.kill()
    other.wait()


def test_closed_and_open_loop_against_real_torchserve(torchserve_env, another_torchserve_running, tmp_path, cache_root):
    r = run_suite(tmp_path, cache_root, """
name: ts
workloads: [all-minilm-l6-v2]
servers: [{name: torchserve, settings: {workers: 1, threads: 1}}]
load: {users: [1, 3], rates: [10], warmup_s: 0.5, min_seconds: 2, min_requests: 5, repeats: 1, timeout_s: 30}
overhead: {reference_seconds: 0.3, reference_calls: 5}
""")
    assert r.returncode == 0, r.stderr[-3000:]
    recs = records(tmp_path)
    assert len(recs) == 3 and all(x["kind"] == "server" and x["status"] == "ok" for x in recs)
    for x in recs:
        m = x["metrics"]
        assert m["failures"] == 0 and m["throughput_rps"] > 0
        assert m["latency_ms"]["p50"] > 0 and m["server_rss_mb"] > 50
        assert m.get("inference_ms_mean", 0) > 0  # read from TorchServe's Prometheus metrics
    assert recs[0]["deployment"]["token_auth"] is True and recs[0]["deployment"]["cold_start_s"] > 0
    assert {x["cell"]["scenario"] for x in recs} == {"closed-loop", "open-loop"}
    assert not torchserve_processes()


def test_past_the_queue_bound_503s_are_failures_and_the_run_finishes(torchserve_env, tmp_path, cache_root):
    r = run_suite(tmp_path, cache_root, """
name: ts-overload
workloads: [all-minilm-l6-v2]
servers: [{name: torchserve, settings: {workers: 1, threads: 1, job_queue_size: 1}}]
load: {users: [12], warmup_s: 0, min_seconds: 2, min_requests: 5, repeats: 1, timeout_s: 30}
overhead: {reference: false}
""")
    assert r.returncode == 0, r.stderr[-3000:]
    (rec,) = records(tmp_path)
    assert rec["metrics"]["outcomes"].get("503", 0) > 0, rec["metrics"]["outcomes"]
    assert rec["metrics"]["failures_per_s"] > 0 and rec["metrics"]["ok"] > 0
    assert not torchserve_processes()


def test_ctrl_c_mid_run_leaves_no_server_behind(torchserve_env, tmp_path, cache_root):
    import signal
    import time

    suite = tmp_path / "suite.yaml"
    suite.write_text("""
name: ts-interrupt
workloads: [all-minilm-l6-v2]
servers: [{name: torchserve, settings: {workers: 1, threads: 1}}]
load: {users: [2], warmup_s: 0, min_seconds: 60, min_requests: 5, repeats: 3, timeout_s: 30}
overhead: {reference: false}
""")
    proc = subprocess.Popen(
        [sys.executable, "-m", "infermeter.cli.main", "run", str(suite), "--out", str(tmp_path / "out"), "--cache", str(cache_root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell's background job inherits SIGINT ignored (so would this child): restore it, Ctrl-C is the test.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 300
    while time.time() < deadline and not torchserve_processes():  # wait until the server is up...
        time.sleep(0.5)
    assert torchserve_processes(), "TorchServe never started"
    time.sleep(8)  # ...and the measurement is under way
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err and "Traceback" not in err
    time.sleep(1)
    assert not torchserve_processes()
