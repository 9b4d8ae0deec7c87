"""Children that must not outlive infermeter, even when it is killed with SIGKILL (no cleanup runs then):
the kernel signals them when their parent dies (Linux PR_SET_PDEATHSIG). Elsewhere this is a no-op and
`infermeter cleanup` remains the way out.

The signal fires when the *thread* that started the child ends, so children are started from the main
thread only.
"""

from __future__ import annotations

import os
import signal
import sys

PARENT_ENV = "INFERMETER_PARENT_PID"


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: ours) plus the variable that tells a child who its infermeter parent is."""
    return dict(os.environ if env is None else env) | {PARENT_ENV: str(os.getpid())}


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask for `sig` when the infermeter process named in the environment dies, however it dies."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(sig))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != int(parent):  # the parent died before the request took effect
        os.kill(os.getpid(), sig)
