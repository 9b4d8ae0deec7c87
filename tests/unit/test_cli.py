"""Bad input at the command line: a clear message, a distinct exit code, never a traceback."""

import subprocess
import sys

import pytest


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "infermeter.cli.main", *args], capture_output=True, text=True, cwd=cwd)


def write(tmp_path, text):
    p = tmp_path / "suite.yaml"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize(
    "make_args, code, message",
    [
        (lambda t: ["run", str(t / "missing.yaml")], 2, "does not exist"),
        (lambda t: ["run", write(t, "workloads: [resnet50\n")], 2, "not valid YAML"),
        (lambda t: ["run", write(t, "workloads: [nope]\nengines: [pytorch]\n")], 2, "unknown workload 'nope'"),
        (lambda t: ["run", write(t, "workloads: [resnet50]\nengines: [tensorrtx]\n")], 2, "unknown engine 'tensorrtx'"),
        (lambda t: ["run", write(t, "workloads: [resnet50]\nengines: [{name: openvino, settings: {streams: -1}}]\n")], 2, "streams"),
        (lambda t: ["frobnicate"], 2, "No such command"),
        (lambda t: ["run", write(t, "workloads: [malware-gbt]\nservers: [{name: nope}]\n")], 2, "unknown server 'nope'"),
        (lambda t: ["run", write(t, "workloads: [malware-gbt]\nservers: [{name: mlserver, settings: {runtime: tf}}]\n")], 2,
         "unknown runtime 'tf'; choose one of: onnxruntime"),
        (lambda t: ["run", write(t, "workloads: [malware-gbt]\nservers: [{name: kserve, settings: {protocol: v2, max_batch_size: 4}}]\n")],
         2, "no request batching without Kubernetes"),
        (lambda t: ["run", write(t, "workloads: [malware-gbt]\nservers: [{name: mlflow, settings: {max_batch_size: 8}}]\n")], 2,
         "MLflow's model server has no request batching"),
        (lambda t: ["run", write(t, "workloads: [malware-gbt]\nservers: [{name: triton, settings: {runtime: sklearn}}]\n")], 2,
         "use runtime onnxruntime"),
        (lambda t: ["run", write(t, "workloads: [malware-gbt]\nservers: [mlserver]\ncost: {price_per_hour: -1}\n")], 2, "price_per_hour"),
        (lambda t: ["run", write(t, "workloads: [malware-gbt]\nservers: [mlserver]\nload: {users: [0]}\n")], 2, "virtual users must be >= 1"),
        (lambda t: ["run", write(t, "workloads: [malware-gbt]\nservers: [mlserver]\nload: {rates: [-5]}\n")], 2, "rates must be > 0"),
        (lambda t: ["selftest", "--seconds", "0"], 2, "--seconds"),
    ],
)
def test_bad_input_gives_message_and_exit_code(tmp_path, make_args, code, message):
    r = cli(*make_args(tmp_path))
    assert r.returncode == code, r.stderr
    assert message in r.stderr + r.stdout
    assert "Traceback" not in r.stderr + r.stdout


def test_failed_cells_exit_non_zero_but_keep_results(tmp_path):
    suite = write(tmp_path, "workloads: [fake-tiny]\nengines: [{name: fake, settings: {fail_on_load: true}}]\n"
                  "measure: {repeats: 1, min_iterations: 2, min_seconds: 0}\n")
    r = cli("run", suite, "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"))
    assert r.returncode == 5, r.stderr
    assert "1 failed" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "out" / "results.jsonl").read_text().count('"failed"') == 1


def test_listing_commands_work():
    r = cli("engines")
    assert r.returncode == 0 and "onnxruntime" in r.stdout and "fake" not in r.stdout
    assert "tensorrt" in r.stdout
    assert cli("workloads").returncode == 0


def _free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize(
    "args, message",
    [
        (["load", "ftp://127.0.0.1/x", "--users", "1"], "not an http:// URL"),
        (["load", "http://127.0.0.1:{port}/", "--users", "1"], "nothing answers at 127.0.0.1"),
        (["load", "http://192.0.2.1:80/", "--users", "1"], "not this machine"),
        (["load", "http://127.0.0.1:{port}/", "--users", "one"], "not a comma-separated list"),
        (["load", "http://127.0.0.1:{port}/", "--arrival", "bursty", "--rate", "5"], "unknown arrival process"),
        (["load", "http://127.0.0.1:{port}/", "-H", "NoColon", "--users", "1"], "is not 'Name: value'"),
        (["load", "http://127.0.0.1:{port}/", "--body", "/nonexistent/body.json", "--users", "1"], "body file"),
    ],
)
def test_load_command_rejects_bad_input(args, message):
    port = _free_port()
    r = cli(*[a.format(port=port) for a in args])
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


def test_load_command_measures_a_server_and_counts_failures(tmp_path):
    from infermeter.load.fake_server import FakeHttpServer, FakeServerConfig

    with FakeHttpServer(FakeServerConfig(service_ms=2, fail_every=10)) as srv:
        r = cli("load", srv.url, "--users", "1,3", "--duration", "0.5", "--repeats", "2", "--warmup", "0.1", "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    assert "closed-loop" in r.stdout and "503" in r.stdout
    import json

    recs = [json.loads(x) for x in (tmp_path / "o" / "results.jsonl").read_text().splitlines()]
    assert len(recs) == 4 and {x["kind"] for x in recs} == {"load"}
    assert all(x["metrics"]["failure_rate"] == pytest.approx(0.1, abs=0.03) for x in recs)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_interrupting_a_load_test_keeps_results_and_exits_130(tmp_path, sig):
    import signal
    import time

    from infermeter.load.fake_server import FakeHttpServer, FakeServerConfig

    with FakeHttpServer(FakeServerConfig(service_ms=2)) as srv:
        p = subprocess.Popen(
            [sys.executable, "-m", "infermeter.cli.main", "load", srv.url, "--users", "1", "--duration", "0.5",
             "--warmup", "0", "--repeats", "200", "--out", str(tmp_path / "o")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            # A shell's background job inherits SIGINT ignored (so would this child): restore it, Ctrl-C is the test.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        time.sleep(4)
        p.send_signal(getattr(signal, sig))
        _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err
    lines = (tmp_path / "o" / "results.jsonl").read_text().splitlines()
    assert len(lines) >= 1  # the windows measured before the interrupt are kept
