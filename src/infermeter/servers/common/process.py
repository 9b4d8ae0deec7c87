"""Start a server as a child process in its own session; wait until it is really ready; stop the whole
tree on exit, on errors and on Ctrl-C.

The server runs under a small guard (servers/common/guard.py), the session leader, which takes the session down
if infermeter itself is killed. The session id is the handle: every process it starts (Java workers, Python workers, Ray
helpers) stays in that session unless it makes its own, and those are found through the process tree
snapshot taken before stopping. Nothing is ever stopped by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from infermeter.errors import InfermeterError
from infermeter.lifeline import child_env


class ServerFailedError(InfermeterError):
    """A server that exited or never became ready; the message carries its log tail."""

    exit_code = 6


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


@dataclass
class ServerProcess:
    """A running server. Use as a context manager: `with ServerProcess(...).start() as server:`."""

    name: str
    command: list[str]
    log_path: Path
    cwd: Path | None = None
    env: dict[str, str] | None = None
    ready: Callable[[], bool] = lambda: True
    ready_timeout_s: float = 120.0
    stop_timeout_s: float = 15.0
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _registration: Path | None = field(default=None, init=False)
    started_s: float = field(default=0.0, init=False)
    ready_s: float | None = field(default=None, init=False)

    def start(self) -> ServerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if shutil.which(self.command[0], path=(self.env or os.environ).get("PATH")) is None:
            raise ServerFailedError(f"{self.name}: cannot start {self.command[0]!r}: not found", "install the server's environment")
        from infermeter.servers.common import leftovers

        token = leftovers.new_token()  # what proves to `cleanup` that a process is this server's
        log = self.log_path.open("ab")
        t0 = time.perf_counter()
        try:
            # Through the guard, which takes the server's session down if infermeter dies (servers/common/guard.py).
            self.proc = subprocess.Popen(
                [sys.executable, "-m", leftovers.GUARD_MODULE, *self.command], cwd=self.cwd,
                env=child_env(self.env) | {leftovers.TOKEN_ENV: token},
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            log.close()
        self.started_s = t0
        self._registration = leftovers.register(self.proc.pid, self.name, self.command, token)
        return self

    def wait_ready(self) -> float:
        """Poll readiness until it holds; returns seconds from start to ready (the cold start)."""
        assert self.proc is not None
        deadline = self.started_s + self.ready_timeout_s
        while time.perf_counter() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise ServerFailedError(
                    f"{self.name} {describe_exit(code)} before it was ready; last lines of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            try:
                if self.ready():
                    self.ready_s = time.perf_counter() - self.started_s
                    return self.ready_s
            except Exception:
                pass
            time.sleep(0.25)
        raise ServerFailedError(
            f"{self.name} was not ready after {self.ready_timeout_s:g} s; last lines of {self.log_path}:\n{log_tail(self.log_path)}",
            "raise the ready timeout, or read the log for the cause",
        )

    def tree(self) -> list[psutil.Process]:
        """The server and every process it started (its session and their descendants), without the guard."""
        if self.proc is None:
            return []
        return [p for p in session_tree(self.proc.pid) if p.pid != self.proc.pid]

    def exit_code(self) -> int | None:
        """None while the server runs; its exit code (128 + N: killed by signal N) once it has exited."""
        if self.proc is None:
            return None
        code = self.proc.poll()
        if code is None and not self._server_alive():
            try:  # the server is gone; its guard is still stopping the helpers it left
                code = self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        return code

    def _server_alive(self) -> bool:
        assert self.proc is not None
        try:
            return any(c.status() != psutil.STATUS_ZOMBIE for c in psutil.Process(self.proc.pid).children())
        except psutil.Error:
            return False

    def stop(self) -> None:
        """SIGTERM the whole session, guard included, wait, then SIGKILL what is left."""
        if self.proc is None:
            return
        terminate(session_tree(self.proc.pid), self.stop_timeout_s)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self._registration is not None:
            from infermeter.servers.common import leftovers

            leftovers.unregister(self._registration)
            self._registration = None

    def __enter__(self) -> ServerProcess:
        if self.proc is None:
            self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def describe_exit(code: int) -> str:
    """How a server (behind its guard: 128 + N for signal N) ended, in words."""
    if code > 128:
        try:
            return f"was killed by {signal.Signals(code - 128).name}"
        except ValueError:
            pass
    return f"exited with code {code}"


def session_tree(pid: int) -> list[psutil.Process]:
    """A session leader `pid`, its descendants, and every process still in its session (helpers that
    were re-parented when their parent died keep the session id)."""
    found: dict[int, psutil.Process] = {}
    try:
        root = psutil.Process(pid)
        found[root.pid] = root
        for child in root.children(recursive=True):
            found[child.pid] = child
    except psutil.NoSuchProcess:
        pass
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getsid(p.pid) == pid:
                found[p.pid] = p
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return list(found.values())


def terminate(procs: list[psutil.Process], grace_s: float) -> None:
    """SIGTERM, wait up to `grace_s`, then SIGKILL whatever is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in procs:
            try:
                p.send_signal(sig)
                if sig == signal.SIGTERM:
                    p.send_signal(signal.SIGCONT)  # a stopped (hung) process acts on SIGTERM only once continued
            except psutil.Error:
                pass
        _, procs = psutil.wait_procs(procs, timeout=grace_s if sig == signal.SIGTERM else 5)
        if not procs:
            return


def listening_sockets(procs: list[psutil.Process]) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every listening TCP socket of these processes."""
    out = []
    for p in procs:
        try:
            conns = p.net_connections(kind="inet")
        except (psutil.Error, AttributeError):
            continue
        for c in conns:
            if c.status == psutil.CONN_LISTEN:
                out.append((p.pid, c.laddr.ip, c.laddr.port))
    return out
