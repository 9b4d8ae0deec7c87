"""`python -m infermeter.servers.common.guard COMMAND...`: run one server as a child and take its whole session
down when infermeter dies, even by SIGKILL, which leaves infermeter no chance to stop anything (the OOM
killer does that too). The kernel sends this process SIGTERM when infermeter dies (lifeline); it then
stops every process of its session, as ServerProcess.stop would have.

It is the session leader, so the server and every helper it starts stay in its session. Standard library
only: it starts in tens of milliseconds and is left out of the server's measured CPU and memory. Its exit
code is the server's (128 + N when the server was killed by signal N).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from infermeter.lifeline import die_with_parent


def _session_members() -> list[int]:
    """Every other process of this session (Linux /proc)."""
    me, sid = os.getpid(), os.getsid(0)
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != b"Z":  # fields after "pid (comm)": state, ppid, pgrp, session
            out.append(int(entry))
    return out


def stop_session(grace_s: float = 10.0) -> None:
    """SIGTERM (and SIGCONT, for stopped processes) to the session, then SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGCONT):
        for pid in _session_members():
            try:
                os.kill(pid, sig)
            except OSError:
                pass
    deadline = time.monotonic() + grace_s
    while _session_members() and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in _session_members():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m infermeter.servers.common.guard COMMAND [ARGS...]", file=sys.stderr)
        return 2
    stopping = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    die_with_parent(signal.SIGTERM)
    try:
        server = subprocess.Popen(argv)  # inherits our session, cwd, environment and log
    except OSError as exc:
        print(f"cannot start {argv[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127
    while not stopping:
        try:
            code = server.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            continue
    else:
        stop_session()
        code = server.wait()
    stop_session(2.0)  # helpers the server left behind when it exited on its own
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
