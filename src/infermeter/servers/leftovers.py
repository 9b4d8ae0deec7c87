"""Servers started by infermeter are registered here while they run. On Linux a server's guard takes it
down when infermeter dies; where that cannot work (other systems, or the guard itself killed) a run killed
outright is noticed next time: leftovers are reported and `infermeter cleanup` stops them, by session id
and process id, never by name."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from infermeter.export.artifacts import default_cache_root


def registry_dir() -> Path:
    return Path(os.environ.get("INFERMETER_RUNNING", default_cache_root() / "running"))


@dataclass
class Leftover:
    pid: int
    name: str
    command: str
    started: float
    path: Path

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"{self.name} (pid {self.pid}, started {when}): {self.command[:100]}"


def register(pid: int, name: str, command: list[str]) -> Path:
    d = registry_dir()
    d.mkdir(parents=True, exist_ok=True)
    try:
        created = psutil.Process(pid).create_time()
    except psutil.Error:
        created = time.time()
    owner = psutil.Process(os.getpid())
    path = d / f"{pid}.json"
    path.write_text(json.dumps({"pid": pid, "name": name, "command": " ".join(command), "created": created,
                                "owner": owner.pid, "owner_created": owner.create_time()}))
    return path


def _owner_alive(info: dict) -> bool:
    """A server whose infermeter process still runs belongs to that run, not a leftover."""
    try:
        return abs(psutil.Process(info["owner"]).create_time() - info["owner_created"]) <= 1.0
    except (psutil.Error, KeyError):
        return False


def unregister(path: Path) -> None:
    path.unlink(missing_ok=True)


def _survivors(info: dict) -> list[psutil.Process]:
    """Processes still running from that server's session (its guard, the server, helpers), by session id
    and start time, so that a reused pid is never mistaken for it."""
    from infermeter.servers.process import session_tree

    out = []
    for p in session_tree(info["pid"]):
        try:
            if p.pid == info["pid"] and abs(p.create_time() - info["created"]) > 1.0:
                continue  # the pid now belongs to something else
            if p.create_time() >= info["created"] - 1.0 and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            continue
    return out


def find() -> list[Leftover]:
    """Registered servers of runs that are gone, with a process of theirs still running."""
    out = []
    d = registry_dir()
    if not d.exists():
        return out
    for path in d.glob("*.json"):
        try:
            info = json.loads(path.read_text())
            alive = _survivors(info)
        except (ValueError, KeyError, OSError):
            alive = []
        if not alive:
            path.unlink(missing_ok=True)
            continue
        if _owner_alive(info):
            continue
        out.append(Leftover(info["pid"], info["name"], info["command"], info["created"], path))
    return out


def stop(leftover: Leftover) -> None:
    """Stop a leftover server: its session (it was started as a session leader) and its descendants."""
    from infermeter.servers.process import session_tree, terminate

    terminate(session_tree(leftover.pid), 10)
    unregister(leftover.path)
