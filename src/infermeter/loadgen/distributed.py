"""Load from several processes or machines on Locust's master/worker runner.

infermeter keeps its own measurement (microsecond HdrHistograms, outcomes by kind, send lag, its own CPU)
and uses Locust for what it does well: a master that workers on any machine join over ZeroMQ, with
heartbeats and lost-worker detection. The master runs in a process of its own (loadgen/locust_master.py),
because importing Locust monkey-patches the standard library with gevent; this process talks to it over
pipes. Each window, every joined worker gets one share (closed loop: a part of the users; open loop: a
part of the schedule drawn once here from the seed), runs it with infermeter's request loop, and ships
its histograms back; generator.merge makes exactly the record a one-machine window makes, with each
share's own figures kept.

Security: Locust's ZeroMQ protocol has no authentication. The master binds 127.0.0.1 unless the user
names another interface; anyone who can reach an open master can join it, receive the request bodies
and send it made-up figures.
"""

from __future__ import annotations

import ipaddress
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, IO

from infermeter.errors import ConfigError, InfermeterError
from infermeter.lifeline import child_env
from infermeter.loadgen.generator import GeneratorFailedError, LoadPlan, LoadResult
from infermeter.servers.common.process import log_tail, session_tree, terminate

DEFAULT_PORT = 5557  # Locust's: what remote workers are told when no port is named
JOIN_TIMEOUT_S = 60.0
LEAD_S = 2.0  # a window's shares are handed out this long before they start
NOT_LOOPBACK_WARNING = ("the master listens on {where}, not only this machine: Locust's ZeroMQ protocol has no "
                        "authentication, so anyone who can reach that port can join as a worker, receive the "
                        "request bodies and report made-up figures; open it on a trusted network only")


class DistributedError(InfermeterError):
    """The distributed generator could not be set up (no Locust, the master did not start, workers did not join)."""

    exit_code = 5


def locust_installed() -> bool:
    """Whether Locust is there, without importing it: an import monkey-patches this whole process."""
    import importlib.util

    return importlib.util.find_spec("locust") is not None


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def parse_bind(text: str) -> tuple[str, int]:
    """`HOST` or `HOST:PORT` (port 0 or none: any free one when every worker is local)."""
    host, sep, port = text.rpartition(":") if text.count(":") == 1 or text.startswith("[") else ("", "", "")
    host = host.strip("[]") if sep else text.strip("[]")
    if sep and not port.isdigit():
        raise ConfigError(f"--master-bind {text!r}: the port must be a number", "e.g. --master-bind 0.0.0.0:5557")
    if not host:
        raise ConfigError(f"--master-bind {text!r}: no interface named", "e.g. --master-bind 127.0.0.1 or 0.0.0.0:5557")
    return host, int(port) if sep else 0


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    log: Path


def _popen(args: list[str], log: IO[bytes], pipes: bool = False) -> subprocess.Popen[bytes]:
    # Its own session: stopped by its process group, never by name; it dies with this process (lifeline).
    return subprocess.Popen([sys.executable, "-m", *args], stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                            stdout=subprocess.PIPE if pipes else subprocess.DEVNULL, stderr=log, start_new_session=True,
                            env=child_env())


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 3.0) -> None:
    """Give it `grace_s` to end by itself (a master told to quit tells its workers), then end its session."""
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    terminate(session_tree(proc.pid), grace_s)
    proc.wait(timeout=10)


class LocustPool:
    """A Locust master and its workers, as infermeter's generators (generator.Generators): `local` workers
    started here, `remote` ones expected to join (`infermeter worker --master HOST:PORT`). Use as a context
    manager; leaving it stops the master and every process it started."""

    def __init__(self, local: int, remote: int = 0, bind: str = "127.0.0.1", port: int | None = None,
                 join_timeout_s: float = JOIN_TIMEOUT_S) -> None:
        if local < 0 or remote < 0 or local + remote < 1:
            raise ConfigError("a distributed load needs at least one worker", "e.g. --distributed 2, or --remote-workers 4")
        self.local, self.remote, self.bind = local, remote, bind
        self.port = port if port is not None else (DEFAULT_PORT if remote else 0)
        self.join_timeout_s = join_timeout_s
        self.master: subprocess.Popen[bytes] | None = None
        self.workers: list[_Worker] = []
        self.joined: list[dict[str, Any]] = []
        self._dir = Path(tempfile.mkdtemp(prefix="infermeter-locust-"))
        self._window = 0
        self._buffer = b""
        self.last_master: dict[str, Any] | None = None

    @property
    def count(self) -> int:
        return self.local + self.remote

    # generator.Generators
    def lead_s(self, plans: list[LoadPlan]) -> float:
        return LEAD_S

    def window_fields(self) -> dict[str, Any]:
        return {"generator_master": self.last_master} if self.last_master else {}

    def run(self, plans: list[LoadPlan]) -> list[LoadResult]:
        from infermeter.loadgen.wire import plan_to_wire, result_from_wire

        if len(plans) > self.count:  # fewer is fine: fewer users than workers leave some idle
            raise GeneratorFailedError(f"{len(plans)} shares for {self.count} workers")
        self._restart_lost_local()
        self._join(min(self.join_timeout_s, 30.0))
        self._window += 1
        reply = self._ask({"op": "window", "window": self._window, "plans": [plan_to_wire(p) for p in plans]},
                          timeout=max(p.warmup_s + p.max_seconds + p.timeout_s for p in plans) + 60 + LEAD_S)
        if "error" in reply:
            raise GeneratorFailedError(reply["error"] + self._local_deaths())
        self.joined = reply["workers"]
        self.last_master = reply["master"] | {"clock_offsets_ms": [w["clock_offset_ms"] for w in self.joined]}
        return [result_from_wire(r, worker=f"{w['host']}:{w['pid']}") for r, w in zip(reply["results"], reply["workers"])]

    # set-up and tear-down
    def __enter__(self) -> LocustPool:
        if not locust_installed():
            raise DistributedError("distributed load needs Locust, which is not installed", "pip install 'infermeter[distributed]'")
        try:
            self._start_master()
            for i in range(self.local):
                self.workers.append(self._start_worker(i))
            self._join(self.join_timeout_s)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.master is not None and self.master.poll() is None:
            try:
                assert self.master.stdin is not None
                self.master.stdin.write(b'{"op": "quit"}\n')
                self.master.stdin.flush()
            except OSError:
                pass
        if self.master is not None:
            _stop(self.master)
        for w in self.workers:
            _stop(w.proc)

    def _start_master(self) -> None:
        log = self._dir / "master.log"
        with log.open("wb") as f:
            self.master = _popen(["infermeter.loadgen.locust_master", "--bind", self.bind, "--port", str(self.port)], f, pipes=True)
        first = self._read(30.0)
        if "listening" not in first:
            raise DistributedError(f"the Locust master did not start: {first.get('error') or self._tail(log)}",
                                   "is the port free? give another with --master-bind HOST:PORT")
        self.port = int(first["listening"])

    def _start_worker(self, i: int) -> _Worker:
        log = self._dir / f"worker-{i + 1}.log"
        with log.open("wb") as f:
            proc = _popen(["infermeter.loadgen.locust_worker", "--master", f"127.0.0.1:{self.port}"], f)
        return _Worker(proc, log)

    def _restart_lost_local(self) -> None:
        for i, w in enumerate(self.workers):
            if w.proc.poll() is not None:
                _stop(w.proc)
                self.workers[i] = self._start_worker(i)

    def _join(self, timeout: float) -> None:
        reply = self._ask({"op": "wait", "count": self.count, "timeout": timeout}, timeout=timeout + 30)
        if "error" in reply:
            raise GeneratorFailedError(reply["error"] + self._local_deaths(),
                                       f"start the remote workers with: infermeter worker --master HOST:{self.port}"
                                       if self.remote else None)
        self.joined = reply["workers"]

    def _local_deaths(self) -> str:
        dead = [(i, w) for i, w in enumerate(self.workers) if w.proc.poll() is not None]
        return "".join(f"; local worker {i + 1} (pid {w.proc.pid}) exited with code {w.proc.returncode}: {self._tail(w.log)}"
                       for i, w in dead)

    # the line protocol with the master
    def _ask(self, cmd: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.master is not None and self.master.stdin is not None
        try:
            self.master.stdin.write(json.dumps(cmd).encode() + b"\n")
            self.master.stdin.flush()
        except OSError:
            raise GeneratorFailedError(f"the Locust master has stopped: {self._tail(self._dir / 'master.log')}") from None
        return self._read(timeout)

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.master is not None and self.master.stdout is not None
        fd = self.master.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GeneratorFailedError(f"the Locust master did not answer in {timeout:.0f} s")
                if sel.select(min(left, 0.5)):
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        raise GeneratorFailedError(f"the Locust master has stopped: {self._tail(self._dir / 'master.log')}")
                    self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    @staticmethod
    def _tail(log: Path) -> str:
        """The last line the process wrote (its error, mostly), for a message."""
        lines = [x for x in log_tail(log, 20).splitlines() if x.strip()]
        return lines[-1][-300:] if lines else "nothing in its log"
