"""Server lifecycle: ready means ready, failures carry the log, and stopping leaves nothing behind."""

import socket
import sys
import time
import urllib.request

import psutil
import pytest

from infermeter.servers.common.process import ServerFailedError, ServerProcess, free_port, listening_sockets


def http_ok(port):
    def check():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
            return r.status == 200

    return check


def port_free(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_server_starts_listens_on_loopback_and_stops_completely(tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "infermeter.loadgen.fake_server", "--port", str(port)]
    with ServerProcess("fake", cmd, tmp_path / "log", ready=http_ok(port), ready_timeout_s=20) as srv:
        assert srv.ready_s is not None and srv.ready_s < 20
        tree = srv.tree()
        socks = listening_sockets(tree)
        assert socks and all(addr == "127.0.0.1" for _, addr, _ in socks)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tree)
    assert port_free(port)


def test_children_that_ignore_sigterm_are_killed_too(tmp_path):
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
        "time.sleep(600)\n"
    )
    srv = ServerProcess("stubborn", [sys.executable, str(script)], tmp_path / "log", stop_timeout_s=1).start()
    time.sleep(1.0)
    tree = srv.tree()
    assert len(tree) == 2
    srv.stop()
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tree)


def test_a_server_that_exits_reports_its_log(tmp_path):
    cmd = [sys.executable, "-c", "import sys; print('config error: no model store'); sys.exit(3)"]
    with pytest.raises(ServerFailedError, match="exited with code 3") as err:
        with ServerProcess("broken", cmd, tmp_path / "log", ready=lambda: False):
            pass
    assert "no model store" in str(err.value)


def test_a_server_that_never_gets_ready_times_out_and_is_stopped(tmp_path):
    cmd = [sys.executable, "-c", "import time; time.sleep(600)"]
    srv = ServerProcess("slow", cmd, tmp_path / "log", ready=lambda: False, ready_timeout_s=1.0)
    with pytest.raises(ServerFailedError, match="not ready after 1 s"):
        with srv:
            pass
    assert srv.proc.poll() is not None


VICTIM = """
import sys, time
from pathlib import Path
from infermeter.servers.common.process import ServerProcess
srv = ServerProcess('fake', [sys.executable, '-m', 'infermeter.loadgen.fake_server', '--port', sys.argv[1]], Path(sys.argv[2]) / 'log').start()
print(srv.proc.pid, flush=True)
time.sleep(600)
"""


def start_victim(tmp_path, port):
    """A parent that starts a server through ServerProcess and would never stop it; returns (parent, guard pid)."""
    import os
    import subprocess

    env = dict(os.environ, INFERMETER_RUNNING=str(tmp_path / "running"))
    victim = subprocess.Popen([sys.executable, "-c", VICTIM, str(port), str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    guard = int(victim.stdout.readline())
    deadline = time.time() + 20
    while port_free(port) and time.time() < deadline:
        time.sleep(0.1)
    assert not port_free(port)
    return victim, guard, env


def test_sigkill_of_infermeter_takes_its_servers_down(tmp_path, monkeypatch):
    """The guard hears of its parent's death from the kernel and stops the server's whole session."""
    import signal

    monkeypatch.setenv("INFERMETER_RUNNING", str(tmp_path / "running"))
    port = free_port()
    victim, guard, _ = start_victim(tmp_path, port)
    session = [guard] + [p.pid for p in psutil.Process(guard).children(recursive=True)]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    deadline = time.time() + 15
    while any(psutil.pid_exists(p) for p in session) and time.time() < deadline:
        time.sleep(0.1)
    assert not [p for p in session if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert port_free(port)
    from infermeter.servers.common import leftovers

    assert leftovers.find() == []


def test_a_server_orphaned_by_a_killed_run_is_reported_and_cleaned_up(tmp_path, monkeypatch):
    """Where the guard cannot act (it was killed too, or not Linux): the next start finds the leftover
    by its session and `infermeter cleanup` stops it."""
    import os
    import signal
    import subprocess

    monkeypatch.setenv("INFERMETER_RUNNING", str(tmp_path / "running"))
    port = free_port()
    victim, guard, env = start_victim(tmp_path, port)
    os.kill(guard, signal.SIGKILL)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    time.sleep(0.5)
    assert not port_free(port)  # the server itself still runs, orphaned

    from infermeter.servers.common import leftovers

    found = leftovers.find()
    assert len(found) == 1 and found[0].name == "fake"
    r = subprocess.run([sys.executable, "-m", "infermeter.cli.main", "cleanup"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "stopped fake" in r.stderr
    assert leftovers.find() == []
    assert port_free(port)
