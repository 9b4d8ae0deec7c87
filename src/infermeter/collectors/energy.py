"""Energy per inference, measured where the hardware says and estimated, with the estimate labelled,
where it does not.

- CPU, measured: RAPL package counters (/sys/class/powercap/intel-rapl:N/energy_uj, also AMD on recent
  kernels). They count the whole package, every process on it, so they are reported as such.
- CPU, estimated (the headline where RAPL is not readable, and kept beside it where it is): the measured
  processes' CPU seconds x a power per busy core (`cpu_watts_per_core`, default 10 W: a server core under
  load draws roughly 5-15 W). Always labelled "estimate". It is attributed to the measured processes only.
- GPU: NVML total energy (Volta and later), utilisation and memory, when an NVIDIA GPU and its driver are
  there; otherwise "n/a" with the reason.

Energy per inference is steady-state power over the window divided by throughput (J = W / (1/s)), the
E = D x W x T of the studies with D the window's work.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class Nvml:
    """NVIDIA GPUs through NVML (package nvidia-ml-py); `why_not` says why it cannot be used here."""

    def __init__(self) -> None:
        self.handles: list[Any] = []
        self.why_not: str | None = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
            self._nvml = pynvml
            if not self.handles:
                self.why_not = "NVML sees no GPU"
        except ImportError:
            self.why_not = "no NVIDIA GPU support here (nvidia-ml-py not installed)"
        except Exception as exc:  # NVMLError: no driver, no device
            self.why_not = f"no NVIDIA GPU here (NVML: {exc})"

    def energy_mj(self) -> list[int | None]:
        out: list[int | None] = []
        for h in self.handles:
            try:
                out.append(self._nvml.nvmlDeviceGetTotalEnergyConsumption(h))  # mJ since driver load
            except Exception:  # older than Volta
                out.append(None)
        return out

    def state(self) -> dict[str, float]:
        util = mem = 0.0
        for h in self.handles:
            util += self._nvml.nvmlDeviceGetUtilizationRates(h).gpu
            mem += self._nvml.nvmlDeviceGetMemoryInfo(h).used / 2**20
        return {"utilization_percent": util / len(self.handles), "memory_mb": mem}


@functools.lru_cache(maxsize=1)
def nvml() -> Nvml:
    """NVML, initialised once per process (not at every window)."""
    return Nvml()


@dataclass
class EnergyWindow:
    """Wrap one measurement window: `start()` before, `stop()` at its end, `result(...)` when the
    throughput is known (without `stop()`, the window ends at `result()`)."""

    cpu_watts_per_core: float = DEFAULT_CPU_WATTS_PER_CORE
    rapl_root: Path = RAPL_ROOT

    def start(self) -> EnergyWindow:
        self._domains = rapl_domains(self.rapl_root)
        self._rapl0 = _read_uj(self._domains) if self._domains else []
        self._gpu = nvml()
        self._gpu0 = self._gpu.energy_mj() if not self._gpu.why_not else []
        self._t0 = time.perf_counter()
        self._end: tuple[float, list[int], list[int | None]] | None = None
        return self

    def stop(self) -> None:
        """Read the counters at the window's end."""
        after_gpu = self._gpu.energy_mj() if not self._gpu.why_not else []
        self._end = (time.perf_counter() - self._t0, _read_uj(self._domains) if self._domains else [], after_gpu)

    def result(self, cpu_seconds: float | None, inferences_per_s: float | None) -> dict[str, Any]:
        """The record's energy block. `cpu_seconds`: of the measured processes over the window (None:
        unknown); `inferences_per_s`: the window's throughput."""
        if self._end is None:
            self.stop()
        assert self._end is not None
        wall, rapl1, gpu1 = self._end
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
        if self._gpu.why_not:
            out["gpu"] = {"source": "n/a", "reason": self._gpu.why_not}
        else:
            joules = [(b - a) / 1000 for a, b in zip(self._gpu0, gpu1) if a is not None and b is not None]
            out["gpu"] = {"source": "nvml", "watts": sum(joules) / wall if joules else None} | self._gpu.state()
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
