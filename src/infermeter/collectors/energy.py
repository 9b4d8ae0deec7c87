"""Energy per inference, measured where the hardware says and estimated, with the estimate labelled,
where it does not.

- CPU, measured: RAPL package counters (/sys/class/powercap/intel-rapl:N/energy_uj, also AMD on recent
  kernels). They count the whole package, every process on it, so they are reported as such.
- CPU, estimated (the headline where RAPL is not readable, and kept beside it where it is): the measured
  processes' CPU seconds x a power per busy core (`cpu_watts_per_core`, default 10 W: a server core under
  load draws roughly 5-15 W). Always labelled "estimate". It is attributed to the measured processes only.
- GPU: NVML over the whole window (collectors/gpu.py: the energy counter where the device has one,
  sampled power otherwise, labelled; utilisation and memory sampled), when an NVIDIA GPU and its driver
  are there; otherwise "n/a" with the reason.

Energy per inference is steady-state power over the window divided by throughput (J = W / (1/s)), the
E = D x W x T of the studies with D the window's work.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infermeter.collectors.gpu import GpuWindow, NvmlApi, open_nvml

DEFAULT_CPU_WATTS_PER_CORE = 10.0
RAPL_ROOT = Path("/sys/class/powercap")


def rapl_domains(root: Path = RAPL_ROOT) -> list[Path]:
    """Readable package-level RAPL domains (intel-rapl:0, not the sub-domains intel-rapl:0:0)."""
    out = []
    for d in sorted(root.glob("intel-rapl:*")):
        if d.name.count(":") != 1:
            continue
        try:
            int((d / "energy_uj").read_text())
            out.append(d)
        except (OSError, ValueError):  # often root-only since 2020 (CVE-2020-8694)
            continue
    return out


def _read_uj(domains: list[Path]) -> list[int]:
    return [int((d / "energy_uj").read_text()) for d in domains]


def _rapl_joules(domains: list[Path], before: list[int], after: list[int]) -> float:
    total = 0
    for d, a, b in zip(domains, before, after):
        if b < a:  # the counter wrapped
            b += int((d / "max_energy_range_uj").read_text())
        total += b - a
    return total / 1e6


@functools.lru_cache(maxsize=1)
def nvml() -> tuple[NvmlApi | None, str | None]:
    """NVML, initialised once per process (not at every window): (its readings, None) or (None, why not)."""
    return open_nvml()


@dataclass
class EnergyWindow:
    """Wrap one measurement window: `start()` before, `stop()` at its end, `result(...)` when the
    throughput is known (without `stop()`, the window ends at `result()`)."""

    cpu_watts_per_core: float = DEFAULT_CPU_WATTS_PER_CORE
    rapl_root: Path = RAPL_ROOT
    # the measured processes, for their share of GPU memory (None: not known, as for an endpoint)
    pids: Callable[[], Iterable[int]] | None = None
    gpus: Callable[[], tuple[NvmlApi | None, str | None]] = field(default_factory=lambda: nvml)

    def start(self) -> EnergyWindow:
        self._domains = rapl_domains(self.rapl_root)
        self._rapl0 = _read_uj(self._domains) if self._domains else []
        api, self._gpu_why_not = self.gpus()
        self._gpu = GpuWindow(api, self.pids).start() if api is not None else None
        self._t0 = time.perf_counter()
        self._end: tuple[float, list[int]] | None = None
        return self

    def stop(self) -> None:
        """Read the counters at the window's end."""
        if self._gpu is not None:
            self._gpu.stop()
        self._end = (time.perf_counter() - self._t0, _read_uj(self._domains) if self._domains else [])

    def result(self, cpu_seconds: float | None, inferences_per_s: float | None) -> dict[str, Any]:
        """The record's energy block. `cpu_seconds`: of the measured processes over the window (None:
        unknown); `inferences_per_s`: the window's throughput."""
        if self._end is None:
            self.stop()
        assert self._end is not None
        wall, rapl1 = self._end
        out: dict[str, Any] = {"window_s": wall}
        est_w = None
        if cpu_seconds is not None and wall > 0:
            est_w = cpu_seconds / wall * self.cpu_watts_per_core
            out["cpu_estimate"] = {
                "watts": est_w,
                "basis": f"estimate, not a measurement: {cpu_seconds:.2f} CPU-seconds in {wall:.2f} s x "
                         f"{self.cpu_watts_per_core:g} W per busy core (setting energy.cpu_watts_per_core)",
            }
        if self._domains:
            watts = _rapl_joules(self._domains, self._rapl0, rapl1) / wall
            out["cpu_rapl"] = {"watts": watts, "basis": f"measured: RAPL, {len(self._domains)} CPU package(s), every process on them"}
        out["gpu"] = self._gpu.result() if self._gpu is not None else {"source": "n/a", "reason": self._gpu_why_not}
        # The headline figure: measured where RAPL is readable, else the labelled estimate (both are kept).
        watts, source = (out["cpu_rapl"]["watts"], "rapl") if "cpu_rapl" in out else (est_w, "estimate")
        gpu_w = out["gpu"].get("watts") or 0.0
        out["source"] = source if watts is not None else "n/a"
        if watts is None:
            out["reason"] = "no readable RAPL counters here, and no process of the target known to attribute CPU time to"
        if watts is not None and inferences_per_s:
            per = (watts + gpu_w) / inferences_per_s
            out["joules_per_inference"] = per
            out["joules_per_1000"] = per * 1000
        return out
