"""Server lifecycle: ready means ready, failures carry the log, and stopping leaves nothing behind."""

import socket
import sys
import time
import urllib.request

import psutil
import pytest

from infermeter.servers.process import ServerFailedError, ServerProcess, free_port, listening_sockets


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
    cmd = [sys.executable, "-m", "infermeter.load.fake_server", "--port", str(port)]
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


def test_a_server_orphaned_by_a_killed_run_is_reported_and_cleaned_up(tmp_path, monkeypatch):
    import os
    import signal
    import subprocess

    monkeypatch.setenv("INFERMETER_RUNNING", str(tmp_path / "running"))
    # A parent that starts a server through ServerProcess, then is SIGKILLed before it can stop it.
    script = tmp_path / "victim.py"
    port = free_port()
    script.write_text(
        "import sys, time\n"
        "from pathlib import Path\n"
        "from infermeter.servers.process import ServerProcess\n"
        f"ServerProcess('fake', [sys.executable, '-m', 'infermeter.load.fake_server', '--port', '{port}'], Path(r'{tmp_path}') / 'log').start()\n"
        "print('started', flush=True)\n"
        "time.sleep(600)\n"
    )
    env = dict(os.environ, INFERMETER_RUNNING=str(tmp_path / "running"))
    victim = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    assert victim.stdout.readline().strip() == "started"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    time.sleep(1.0)

    from infermeter.servers import leftovers

    found = leftovers.find()
    assert len(found) == 1 and found[0].name == "fake"
    r = subprocess.run([sys.executable, "-m", "infermeter.cli.main", "cleanup"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "stopped fake" in r.stderr
    assert leftovers.find() == []
    assert not psutil.pid_exists(found[0].pid) or psutil.Process(found[0].pid).status() == psutil.STATUS_ZOMBIE
    assert port_free(port)
