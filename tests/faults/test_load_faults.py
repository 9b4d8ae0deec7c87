"""Fault injection against `infermeter load` and the fake server, for real: the server is SIGKILLed or
SIGSTOPped (hung) mid-run, a generator process is killed mid-window, the results file hits a size limit
the kernel enforces. Each time: the window says why it failed, the run goes on to the next window, the
exit code says windows failed (5) or results could not be written (8), no line of results.jsonl is torn,
and no process or listening socket is left."""

import json
import os
import resource
import signal
import subprocess
import sys
import time

import pytest
from conftest import generator_processes, left_after, wait_for, whole_records

from infermeter.servers.common.process import free_port


def cli(*args):
    return [sys.executable, "-m", "infermeter.cli.main", *args]


def records(out):
    return whole_records(out / "results.jsonl")


def port_free(port):
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def fake_server(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "infermeter.loadgen.fake_server", "--port", str(port), "--service-ms", "2"],
                            start_new_session=True)
    wait_for(lambda: not port_free(port), 20)
    yield proc, f"http://127.0.0.1:{port}/predict"
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGCONT)
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def start_load(out, url, *extra, preexec_fn=None):
    return subprocess.Popen(
        cli("load", url, "--duration", "0.6", "--warmup", "0.1", "--min-requests", "1", "--timeout", "0.5",
            "--max-duration", "3", "--out", str(out), *extra),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=preexec_fn,
    )


def assert_nothing_left(proc):
    """The load command and every process it started are gone."""
    left = left_after(proc.pid)
    assert not left, [p.cmdline() for p in left]


def test_a_server_killed_mid_run_fails_the_later_windows_with_the_cause(tmp_path, fake_server):
    server, url = fake_server
    out = tmp_path / "o"
    run = start_load(out, url, "--users", "1,2", "--repeats", "2")
    wait_for(lambda: len(records(out)) >= 1)
    server.kill()
    _, err = run.communicate(timeout=120)
    recs = records(out)
    assert run.returncode == 5, err
    assert len(recs) == 4  # every window was still tried and recorded
    assert recs[0]["status"] == "ok"
    failed = [r for r in recs if r["status"] == "failed"]
    assert failed and all("connection-error" in r["error"] for r in failed)
    assert "load points have failed windows" in err and "Traceback" not in err
    assert_nothing_left(run)


def test_a_hung_server_times_out_and_the_run_finishes(tmp_path, fake_server):
    server, url = fake_server
    out = tmp_path / "o"
    run = start_load(out, url, "--users", "1,2", "--repeats", "1")
    wait_for(lambda: len(records(out)) >= 1)
    os.killpg(server.pid, signal.SIGSTOP)  # the process is there, the port accepts, nothing answers
    t0 = time.time()
    _, err = run.communicate(timeout=120)
    assert run.returncode == 5, err
    assert time.time() - t0 < 20  # bounded by --max-duration and --timeout, not by the hang
    hung = records(out)[1]
    assert hung["status"] == "failed" and "timeout" in hung["error"]
    assert_nothing_left(run)


def test_a_dead_generator_process_fails_its_window_only(tmp_path, fake_server):
    _, url = fake_server
    out = tmp_path / "o"
    run = start_load(out, url, "--users", "4", "--repeats", "3", "--generator-processes", "2", "--duration", "3", "--max-duration", "5")
    generators = lambda: generator_processes(run.pid)  # noqa: E731
    wait_for(lambda: len(generators()) == 2)
    time.sleep(1.0)  # inside the first window
    generators()[0].kill()
    _, err = run.communicate(timeout=120)
    recs = records(out)
    assert run.returncode == 5, err
    assert [r["status"] for r in recs] == ["failed", "ok", "ok"]
    assert "generator process" in recs[0]["error"] and "killed by signal 9" in recs[0]["error"]
    assert_nothing_left(run)


def test_a_full_results_disk_stops_with_exit_8_and_resume_finishes(tmp_path, fake_server):
    _, url = fake_server
    out = tmp_path / "o"
    limit = 12_000  # bytes: a few records fit, then the kernel refuses (EFBIG, as a full disk gives ENOSPC)
    run = start_load(out, url, "--users", "1,2,3", "--repeats", "2",
                     preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    _, err = run.communicate(timeout=120)
    assert run.returncode == 8, err
    assert "cannot write results" in err and "--resume" in err and "Traceback" not in err
    text = (out / "results.jsonl").read_text()
    assert text.endswith("\n")
    kept = [json.loads(line) for line in text.splitlines()]  # every line whole
    assert 1 <= len(kept) < 6
    assert_nothing_left(run)

    again = subprocess.run(cli("load", url, "--users", "1,2,3", "--repeats", "2", "--duration", "0.6", "--warmup", "0.1",
                               "--min-requests", "1", "--timeout", "0.5", "--max-duration", "3", "--out", str(out), "--resume"),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    recs = records(out)
    assert {(r["cell"]["users"], r["repeat"]) for r in recs if r["status"] == "ok"} == {(u, k) for u in (1, 2, 3) for k in (0, 1)}


def test_a_port_held_by_something_that_is_not_http_fails_with_the_cause(tmp_path):
    """Something else owns the port (here: a line-based service that greets and hangs up)."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"220 mail.example ESMTP ready\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        out = tmp_path / "o"
        run = start_load(out, f"http://127.0.0.1:{listener.getsockname()[1]}/", "--users", "1", "--repeats", "1")
        _, err = run.communicate(timeout=120)
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert run.returncode == 5, err
    rec = records(out)[0]
    assert rec["status"] == "failed" and "every request failed" in rec["error"]
    assert "Traceback" not in err
    assert_nothing_left(run)
