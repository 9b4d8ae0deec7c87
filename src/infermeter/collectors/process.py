"""This process's CPU time and memory, read from the kernel: no sampling thread, nothing perturbed.

Peak RSS is the kernel's high-water mark (getrusage ru_maxrss); every cell runs in a fresh process, so
the peak belongs to that cell alone.
"""

from __future__ import annotations

import os
import resource

import psutil

_MB = 1024 * 1024


def rss_mb() -> float:
    return psutil.Process(os.getpid()).memory_info().rss / _MB


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def cpu_seconds() -> float:
    """CPU seconds (user + system, all threads) of this process so far."""
    t = psutil.Process(os.getpid()).cpu_times()
    return t.user + t.system


def cpu_percent(cpu_seconds: float, wall_seconds: float) -> float:
    """Process CPU use over a window: 100 = one core busy the whole time."""
    return 100.0 * cpu_seconds / wall_seconds if wall_seconds > 0 else float("nan")


def system_busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine (all cores, all processes) since boot."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
