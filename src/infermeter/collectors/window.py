"""One measurement window, and the collectors read around it.

Every window infermeter measures (an engine cell's repeat, a server's load point, an endpoint's load
point, the in-process reference of a server's pipeline) goes through `Window`: each collector is read when
the window opens and when it closes, and turns the two readings into its fields of the record's metrics
block. The bookkeeping that used to be written out in each runner (CPU before and after, the machine's
busy time, energy, the speed probe, the server's counters) is here once.

Order matters and is fixed by the list: collectors start in order and stop in reverse, so the first one
(the speed probe, which computes for ~25 ms) stays outside every other's accounting. None samples in the
background: each reads kernel or framework counters at the two ends, so nothing perturbs the window.

Some fields depend on others: "other processes' CPU" is the machine's busy time less the measured
processes' CPU; energy is attributed to the measured processes' CPU and divided by the throughput, which
only the caller knows at the end. A collector that measures the target's CPU says so with a
`measured_cpu_s` attribute; the window hands it to every collector in `Reading`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import psutil

from infermeter.collectors import process, speed
from infermeter.collectors.energy import DEFAULT_CPU_WATTS_PER_CORE, EnergyWindow


@dataclass
class Reading:
    """What a closed window knows: its length, and what collectors left for the ones after them."""

    wall_s: float
    throughput: float | None = None  # inferences (or requests) per second, from the caller
    measured_cpu_s: float | None = None  # CPU seconds of the measured processes (this one, or a server's tree)


class Collector(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def fields(self, reading: Reading) -> dict[str, Any]:
        """Its fields of the metrics block (names as in results/record.py)."""
        ...


class SpeedProbe:
    """The machine's own speed before and after (collectors/speed.py): `speed_probe_ms`, their mean. It
    computes, so it is read at the outer edges of a load window (before the warm-up, after the end)."""

    at_edges = True

    def start(self) -> None:
        self._before = speed.probe_ms()

    def stop(self) -> None:
        self._after = speed.probe_ms()

    def fields(self, reading: Reading) -> dict[str, Any]:
        return {"speed_probe_ms": (self._before + self._after) / 2}


class OwnCPU:
    """This process's CPU over the window (an engine cell runs in it): `cpu_percent`."""

    def start(self) -> None:
        self._cpu0 = process.cpu_seconds()

    def stop(self) -> None:
        self._cpu_s = process.cpu_seconds() - self._cpu0

    @property
    def measured_cpu_s(self) -> float:
        return self._cpu_s

    def fields(self, reading: Reading) -> dict[str, Any]:
        return {"cpu_percent": process.cpu_percent(self._cpu_s, reading.wall_s)}


class ProcessTree:
    """A server's process tree (listed once, when the window opens): `server_cpu_percent`, and
    `server_rss_mb` summed over the tree at the end."""

    def __init__(self, procs: Callable[[], list[psutil.Process]]) -> None:
        self._procs = procs

    @staticmethod
    def _usage(procs: list[psutil.Process]) -> tuple[float, float]:
        cpu = rss = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                cpu += t.user + t.system
                rss += p.memory_info().rss / 2**20
            except psutil.Error:  # a worker that exited meanwhile
                pass
        return cpu, rss

    def start(self) -> None:
        self._tree = self._procs()
        self._cpu0, _ = self._usage(self._tree)

    def stop(self) -> None:
        cpu1, self._rss = self._usage(self._tree)
        self._cpu_s = cpu1 - self._cpu0

    @property
    def measured_cpu_s(self) -> float:
        return self._cpu_s

    def fields(self, reading: Reading) -> dict[str, Any]:
        wall = reading.wall_s
        return {"server_cpu_percent": 100 * self._cpu_s / wall if wall else None, "server_rss_mb": self._rss}


class SystemCPU:
    """The whole machine's busy time: `system_cpu_percent` (every process, the measured ones included)
    and, with `others=True`, `other_cpu_percent` (the machine less the measured processes)."""

    def __init__(self, others: bool = False) -> None:
        self.others = others

    def start(self) -> None:
        self._busy0 = process.system_busy_seconds()

    def stop(self) -> None:
        self._busy_s = process.system_busy_seconds() - self._busy0

    def fields(self, reading: Reading) -> dict[str, Any]:
        own = reading.measured_cpu_s
        if not self.others or own is None:
            return {"system_cpu_percent": process.cpu_percent(self._busy_s, reading.wall_s)}
        others_s = max(0.0, self._busy_s - own)  # the two counters are read microseconds apart
        return {"other_cpu_percent": process.cpu_percent(others_s, reading.wall_s),
                "system_cpu_percent": process.cpu_percent(own + others_s, reading.wall_s)}


class Energy:
    """RAPL / NVML energy, and the labelled estimate from the measured processes' CPU (collectors/energy.py):
    the `energy` block. `attribute=False` where the target's processes are not known (an endpoint):
    then only what the hardware measures, never a guess."""

    def __init__(self, cpu_watts_per_core: float = DEFAULT_CPU_WATTS_PER_CORE, attribute: bool = True,
                 pids: Callable[[], Iterable[int]] | None = None) -> None:
        self._energy = EnergyWindow(cpu_watts_per_core, pids=pids)  # pids: whose GPU memory is the target's
        self.attribute = attribute

    def start(self) -> None:
        self._energy.start()

    def stop(self) -> None:
        self._energy.stop()

    def fields(self, reading: Reading) -> dict[str, Any]:
        cpu_s = reading.measured_cpu_s if self.attribute else None
        return {"energy": self._energy.result(cpu_s, reading.throughput)}


class ServerCounters:
    """A framework's own cumulative counters (requests, queue and inference microseconds) read before and
    after: `server_requests` and the per-request means `queue_ms_mean`, `inference_ms_mean`. A read that
    fails counts as no counters."""

    def __init__(self, read: Callable[[], dict[str, float]]) -> None:
        self._read = read

    def _safe(self) -> dict[str, float]:
        try:
            return self._read()
        except Exception:  # a server that does not answer its metrics endpoint now: no counters, no crash
            return {}

    def start(self) -> None:
        self._before = self._safe()

    def stop(self) -> None:
        self._after = self._safe()

    def fields(self, reading: Reading) -> dict[str, Any]:
        before, after = self._before, self._after
        n = after.get("requests_total", 0) - before.get("requests_total", 0)
        out: dict[str, Any] = {"server_requests": n}
        if n > 0:
            for key in ("queue_us_total", "inference_us_total"):
                if key in after:
                    out[key.replace("_us_total", "_ms_mean")] = (after[key] - before.get(key, 0)) / n / 1000
        return out


@dataclass
class Window:
    """Open with `start()` (or `with`), run the work, `stop()`, then `fields(throughput)`.

    A load window opens with `start_at(when)` instead: its generator warms the target up first, and the
    counters must cover the recorded requests only (a server's own counters counted 243 requests for the
    client's 193 when read before a 1 s warm-up, and its CPU and energy took the warm-up in too). The
    collectors read at the edges (the speed probe) start now; the rest from a timer thread at `when`,
    the moment the generator's recorded part begins. Reading them costs a few ms of /proc reads and one
    scrape of the server's metrics, in a thread beside an in-process generator (a request in flight then
    may wait for the interpreter lock; the generator's processes, where there are several, do not)."""

    collectors: Sequence[Collector]
    _t0: float = field(default=0.0, init=False)
    _wall: float | None = field(default=None, init=False)
    _timer: threading.Timer | None = field(default=None, init=False)
    _inner_started: threading.Event = field(default_factory=threading.Event, init=False)

    def _edges(self) -> list[Collector]:
        return [c for c in self.collectors if getattr(c, "at_edges", False)]

    def _inner(self) -> list[Collector]:
        return [c for c in self.collectors if not getattr(c, "at_edges", False)]

    def _start_inner(self) -> None:
        for c in self._inner():
            c.start()
        self._t0 = time.perf_counter()
        self._inner_started.set()

    def start(self) -> Window:
        for c in self.collectors:
            c.start()
        self._t0 = time.perf_counter()
        self._inner_started.set()
        return self

    def start_at(self, when: float) -> Window:
        """Start the edge collectors now and the others at `when` (time.time())."""
        for c in self._edges():
            c.start()
        self._timer = threading.Timer(max(0.0, when - time.time()), self._start_inner)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> float:
        """Close the window; returns its length in seconds (between the collectors' readings)."""
        if self._timer is not None:
            self._timer.cancel()  # a window that ended before its recorded part began (a failure)
            self._timer.join()
            if not self._inner_started.is_set():
                self._start_inner()
        self._wall = time.perf_counter() - self._t0
        for c in reversed(self._inner()):
            c.stop()
        for c in reversed(self._edges()):
            c.stop()
        return self._wall

    def __enter__(self) -> Window:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._wall is None:
            self.stop()

    def fields(self, throughput: float | None = None) -> dict[str, Any]:
        """Every collector's fields of the metrics block."""
        if self._wall is None:
            raise RuntimeError("the window is still open")
        cpu = [c.measured_cpu_s for c in self.collectors if getattr(c, "measured_cpu_s", None) is not None]
        reading = Reading(wall_s=self._wall, throughput=throughput, measured_cpu_s=sum(cpu) if cpu else None)
        out: dict[str, Any] = {}
        for c in self.collectors:
            out.update(c.fields(reading))
        return out


def engine_window(cpu_watts_per_core: float = DEFAULT_CPU_WATTS_PER_CORE) -> Window:
    """An engine cell's repeat, measured in this process."""
    return Window([SpeedProbe(), Energy(cpu_watts_per_core, pids=lambda: (os.getpid(),)), OwnCPU(), SystemCPU(others=True)])


def server_window(tree: Callable[[], list[psutil.Process]], counters: Callable[[], dict[str, float]],
                  cpu_watts_per_core: float = DEFAULT_CPU_WATTS_PER_CORE) -> Window:
    """A server's load point: its process tree, its own counters, the machine (the load generator's own
    CPU comes from the generator processes themselves)."""
    return Window([SpeedProbe(), Energy(cpu_watts_per_core, pids=lambda: [p.pid for p in tree()]), ProcessTree(tree),
                   ServerCounters(counters), SystemCPU()])


def endpoint_window() -> Window:
    """An endpoint's load point: its processes are not ours, so the machine and measured energy only."""
    return Window([Energy(attribute=False), SystemCPU()])


def reference_window() -> Window:
    """The in-process timing of a server's pipeline (servers/reference.py)."""
    return Window([SpeedProbe(), OwnCPU(), SystemCPU(others=True)])
