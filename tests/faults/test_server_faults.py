"""Fault injection against a real framework (LitServe, the quickest to start) inside `infermeter run`:
a server that is not ready in time, a server killed mid-window, a server that hangs (SIGSTOP), a load
generator process killed mid-window, and infermeter itself SIGKILLed mid-run. Each time the affected
cells carry the cause, the suite goes on, the exit code says cells failed, no line of results.jsonl is
torn, and no process of the run or listening socket of its servers is left."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from conftest import generator_processes, left_after, left_in_session, wait_for, whole_records, with_environment

from infermeter.servers.litserve.adapter import LitServe

pytestmark = pytest.mark.integration

LOAD = """
load: {users: [1, 2], repeats: 2, warmup_s: 0.2, min_seconds: 1.0, min_requests: 1, max_seconds: 3, timeout_s: 0.5,
       generator_processes: GENERATORS}
overhead: {reference: false}
"""


@pytest.fixture(scope="module", autouse=True)
def litserve_env():
    return with_environment(LitServe())


def suite_text(servers: str, generators: int = 1) -> str:
    return f"name: faults\nworkloads: [malware-gbt]\nservers:\n{servers}" + LOAD.replace("GENERATORS", str(generators))


def start_run(tmp_path, cache_root, text, *extra):
    (tmp_path / "suite.yaml").write_text(text)
    return subprocess.Popen(
        # A relative --out, as users type it: servers run in their own directories and must still find theirs.
        [sys.executable, "-m", "infermeter.cli.main", "run", "suite.yaml", "--out", "out", "--cache", str(cache_root), *extra],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def records(tmp_path):
    return whole_records(tmp_path / "out" / "results.jsonl")


def server_sessions(tmp_path):
    """Guards of the run's servers (session leaders), found by the server directory on their command line."""
    marker = str(tmp_path / "out" / "servers")
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "infermeter.servers.common.guard" in cmd and marker in cmd:
            found.append(p)
    return found


def session_members(sid):
    """The server's processes: its guard's session without the guard."""
    return [p for p in left_in_session(sid) if p.pid != sid]


def assert_nothing_left(tmp_path, run):
    """No process of the run (its session, its servers' sessions) and no socket of its servers."""
    left = left_after(run.pid)
    assert not left, [p.cmdline() for p in left]
    assert not server_sessions(tmp_path)


def test_not_ready_and_crashed_servers_fail_their_cells_and_the_suite_goes_on(tmp_path, cache_root):
    servers = ("  - {name: litserve, settings: {threads: 1, ready_timeout_s: 0.3}}\n"  # cannot be ready that fast
               "  - {name: litserve, settings: {threads: 1, max_batch_delay_ms: 1.0}}\n"  # killed by the test
               "  - {name: litserve, settings: {threads: 1}}\n")  # healthy
    run = start_run(tmp_path, cache_root, suite_text(servers))
    # The second server's first window has been stored: kill the server itself (not its guard).
    wait_for(lambda: any(r.get("status") == "ok" for r in records(tmp_path)), 180)
    guards = server_sessions(tmp_path)
    assert len(guards) == 1
    guards[0].children()[0].kill()
    _, err = run.communicate(timeout=300)
    assert run.returncode == 5, err
    assert "Traceback" not in err
    by_label: dict[str, list] = {}
    for r in records(tmp_path):
        by_label.setdefault(r["server"]["label"], []).append(r)
    slow = next(v for k, v in by_label.items() if "ready_timeout_s" in k)
    crashed = next(v for k, v in by_label.items() if "max_batch_delay_ms" in k)
    healthy = by_label["litserve[threads=1]"]
    assert {r["status"] for r in slow} == {"failed"} and "not ready after 0.3 s" in slow[0]["error"]
    assert "last lines of" in slow[0]["error"]
    killed = [r for r in crashed if r["status"] == "failed"]
    assert killed and "was killed by SIGKILL" in killed[0]["error"]
    assert any("not measured: during an earlier window" in r["error"] for r in killed)  # the load point after it
    assert len(healthy) == 4 and {r["status"] for r in healthy} == {"ok"}  # the suite went on
    assert_nothing_left(tmp_path, run)


def test_a_hung_server_is_detected_and_stopped(tmp_path, cache_root):
    run = start_run(tmp_path, cache_root, suite_text("  - {name: litserve, settings: {threads: 1}}\n"))
    wait_for(lambda: any(r.get("status") == "ok" for r in records(tmp_path)), 180)
    guard = server_sessions(tmp_path)[0]
    for p in session_members(guard.pid):
        p.suspend()  # SIGSTOP: the port still accepts, nothing answers
    t0 = time.time()
    _, err = run.communicate(timeout=300)
    assert run.returncode == 5, err
    assert time.time() - t0 < 60  # bounded by timeouts, not by the hang
    failed = [r for r in records(tmp_path) if r["status"] == "failed"]
    assert "timeout" in failed[0]["error"] and "stopped answering" in failed[0]["error"]
    assert all("stopped answering" in r["error"] for r in failed[1:])
    assert_nothing_left(tmp_path, run)  # stopped processes were continued and stopped for good


def test_a_dead_generator_process_fails_one_window_and_the_rest_is_measured(tmp_path, cache_root):
    run = start_run(tmp_path, cache_root, suite_text("  - {name: litserve, settings: {threads: 1}}\n", generators=2))
    generators = lambda: generator_processes(run.pid)  # noqa: E731
    wait_for(lambda: len(generators()) == 2, 180)
    time.sleep(1.7)  # past the processes' aligned start, inside the window
    generators()[0].kill()
    _, err = run.communicate(timeout=300)
    assert run.returncode == 5, err
    recs = records(tmp_path)
    # 1 user runs in one generator (in process); 2 users get two processes: the first such window failed.
    assert [(r["cell"]["users"], r["status"]) for r in recs] == [(1, "ok"), (1, "ok"), (2, "failed"), (2, "ok")]
    assert "load generator process" in recs[2]["error"] and "killed by signal 9" in recs[2]["error"]
    assert_nothing_left(tmp_path, run)


def test_sigkill_of_infermeter_leaves_no_server_and_resume_finishes(tmp_path, cache_root):
    run = start_run(tmp_path, cache_root, suite_text("  - {name: litserve, settings: {threads: 1}}\n"))
    wait_for(lambda: len(records(tmp_path)) >= 2, 180)  # the first load point is finished
    guard = server_sessions(tmp_path)[0]
    server = session_members(guard.pid)
    ports = [c.laddr.port for p in server for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    os.killpg(run.pid, signal.SIGKILL)  # infermeter and its generator: no cleanup of ours runs
    run.wait()
    wait_for(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in [guard, *server]), 30)
    assert ports and not [c for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN and c.laddr.port in ports]
    before = records(tmp_path)  # every line parses: records() would raise on a torn one
    finished = {r["cell_id"] for r in before if r["status"] == "ok" and r["repeat"] == 1}
    assert finished

    again = start_run(tmp_path, cache_root, suite_text("  - {name: litserve, settings: {threads: 1}}\n"), "--resume")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    after = records(tmp_path)
    done = {}
    for r in after:
        if r["status"] == "ok":
            done.setdefault(r["cell_id"], set()).add(r["repeat"])
    assert len(done) == 2 and all(reps == {0, 1} for reps in done.values())
    for cell_id in finished:  # not measured again
        assert sum(1 for r in after if r["cell_id"] == cell_id) == 2
    assert_nothing_left(tmp_path, again)
