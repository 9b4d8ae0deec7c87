"""Servers started by infermeter are registered here while they run. On Linux a server's guard takes it
down when infermeter dies; where that cannot work (other systems, or the guard itself killed) a run killed
outright is noticed next time: leftovers are reported and `infermeter cleanup` stops them, by session id
and process id, never by name.

A registry file is a claim, not a proof: before anything is stopped, a process of the session must show
that it is the one registered (the guard's or the server's command line, the session, the user, and the
random token the guard and server carry in their environment, which only the user can read), and only
the user's own processes of that session are stopped. The registry is private to the user."""

from __future__ import annotations

import json
import os
import secrets
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from infermeter.errors import ConfigError
from infermeter.export.artifacts import default_cache_root
from infermeter.results.files import check_private, private_dir, replace_atomically


def registry_dir() -> Path:
    return Path(os.environ.get("INFERMETER_RUNNING", default_cache_root() / "running"))


@dataclass
class Leftover:
    pid: int
    name: str
    command: str
    started: float
    path: Path
    processes: list[psutil.Process] = field(default_factory=list)  # the verified session's processes

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"{self.name} (pid {self.pid}, started {when}): {self.command[:100]}"


TOKEN_ENV = "INFERMETER_SERVER_TOKEN"  # set in the guard's (and so the server's) environment
GUARD_MODULE = "infermeter.servers.common.guard"
# A guard started before it moved to servers/common/ (issue 13) is still recognised, so `cleanup` still
# stops what such a run left.
GUARD_MODULES = (GUARD_MODULE, "infermeter.servers.guard")


def new_token() -> str:
    return secrets.token_hex(16)


def register(pid: int, name: str, command: list[str], token: str = "") -> Path:
    d = registry_dir()
    private_dir(d, "registry of running servers")
    try:
        created = psutil.Process(pid).create_time()
    except psutil.Error:
        created = time.time()
    owner = psutil.Process(os.getpid())
    path = d / f"{pid}.json"
    replace_atomically(path, json.dumps({"pid": pid, "name": name, "command": " ".join(command), "argv": list(command),
                                         "created": created, "owner": owner.pid, "owner_created": owner.create_time(),
                                         "uid": os.geteuid(), "token": token}), mode=0o600)
    return path


def _is_registered(p: psutil.Process, info: dict) -> bool:
    """`p` is the registered guard or server: the user's, in the registered session, started no earlier
    than it, with the guard's or the server's command line and the registration's token."""
    try:
        if p.uids().real != os.geteuid() or os.getsid(p.pid) != info["pid"] or p.create_time() < info["created"] - 1.0:
            return False
        argv, cmd = p.cmdline(), [str(a) for a in info.get("argv") or []]
        guard = len(argv) > 2 and argv[1] == "-m" and argv[2] in GUARD_MODULES and argv[3:] == cmd
        # The server as the guard started it; a script's interpreter may come first (a shebang line).
        server = bool(cmd) and argv[len(argv) - len(cmd) + 1:] == cmd[1:] and len(argv) >= len(cmd) and \
            os.path.basename(cmd[0]) in {os.path.basename(a) for a in argv[:2]}
        if not (guard or server):
            return False
        token = info.get("token")
        return bool(token) and p.environ().get(TOKEN_ENV) == token
    except (psutil.Error, OSError, TypeError, KeyError):
        return False


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
    from infermeter.servers.common.process import session_tree

    out = []
    for p in session_tree(info["pid"]):
        try:
            if p.pid == info["pid"] and abs(p.create_time() - info["created"]) > 1.0:
                continue  # the pid now belongs to something else
            if p.uids().real != os.geteuid() or os.getsid(p.pid) != info["pid"]:
                continue  # only the user's own processes of that very session
            if p.create_time() >= info["created"] - 1.0 and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (psutil.Error, OSError):
            continue
    if not any(_is_registered(p, info) for p in out):
        return []  # nothing there proves to be infermeter's: a stale or planted registration
    return out


def _read(path: Path) -> dict | None:
    """A registry file of the user's own (no link), as a dict with the fields find() needs; None otherwise."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            return None
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int) or not isinstance(info.get("created"), (int, float)):
        return None
    return info


def find() -> list[Leftover]:
    """Registered servers of runs that are gone, with a process of theirs still running."""
    out = []
    d = registry_dir()
    if not d.exists():
        return out
    try:
        check_private(d, "registry of running servers")
    except ConfigError:
        return out  # someone else could have written it: nothing in it is acted on
    for path in d.glob("*.json"):
        info = _read(path)
        alive = _survivors(info) if info else []
        if not alive:
            path.unlink(missing_ok=True)
            continue
        if _owner_alive(info):
            continue
        out.append(Leftover(info["pid"], str(info.get("name")), str(info.get("command")), info["created"], path, alive))
    return out


def stop(leftover: Leftover) -> None:
    """Stop a leftover server: its session (it was started as a session leader) and its descendants."""
    from infermeter.servers.common.process import terminate

    terminate(leftover.processes, 10)  # found and verified by find(); nothing else
    unregister(leftover.path)
