"""NVIDIA GPUs over a whole window: NVML sampled on a thread (utilisation mean and max, device memory peak,
the measured processes' GPU memory peak, power), the energy counter read at both ends where the device has
one (Volta and later; sampled power x time otherwise, labelled), and clocks and temperature at start and
end: what one reading at the window's end (utilisation is NVML's last sample period, not the window's)
cannot say.

The NVML calls sit behind `NvmlApi`: `PynvmlApi` is the real one (nvidia-ml-py), `FakeNvml` a test double
with scripted readings, so the bookkeeping runs on a machine without a GPU.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

SAMPLE_S = 0.1  # NVML refreshes utilisation every 1/6 s to 1 s depending on the device; 10 Hz sees every refresh


class NvmlApi(Protocol):
    """The NVML readings a window takes, per device index."""

    def count(self) -> int: ...

    def name(self, i: int) -> str: ...

    def utilization_percent(self, i: int) -> float: ...

    def memory_used_mb(self, i: int) -> float: ...

    def process_memory_mb(self, i: int) -> dict[int, float]:
        """GPU memory of each process with a context on device i (pid: MB; may be empty where NVML cannot say)."""
        ...

    def power_w(self, i: int) -> float | None: ...

    def energy_mj(self, i: int) -> int | None:
        """The device's energy counter (mJ since the driver loaded); None where it has none."""
        ...

    def sm_clock_mhz(self, i: int) -> float | None: ...

    def temperature_c(self, i: int) -> float | None: ...


class PynvmlApi:
    """nvidia-ml-py; construct through `open_nvml`, which says why not when it cannot."""

    def __init__(self) -> None:
        import pynvml

        pynvml.nvmlInit()
        self.nv = pynvml
        self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]

    def count(self) -> int:
        return len(self.handles)

    def name(self, i: int) -> str:
        name = self.nv.nvmlDeviceGetName(self.handles[i])
        return name.decode() if isinstance(name, bytes) else str(name)

    def utilization_percent(self, i: int) -> float:
        return float(self.nv.nvmlDeviceGetUtilizationRates(self.handles[i]).gpu)

    def memory_used_mb(self, i: int) -> float:
        return self.nv.nvmlDeviceGetMemoryInfo(self.handles[i]).used / 2**20

    def process_memory_mb(self, i: int) -> dict[int, float]:
        try:
            procs = self.nv.nvmlDeviceGetComputeRunningProcesses(self.handles[i])
        except self.nv.NVMLError:
            return {}
        return {p.pid: p.usedGpuMemory / 2**20 for p in procs if p.usedGpuMemory is not None}

    def _maybe(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except self.nv.NVMLError:  # not supported on this device
            return None

    def power_w(self, i: int) -> float | None:
        mw = self._maybe(lambda: self.nv.nvmlDeviceGetPowerUsage(self.handles[i]))
        return mw / 1000 if mw is not None else None

    def energy_mj(self, i: int) -> int | None:
        return self._maybe(lambda: self.nv.nvmlDeviceGetTotalEnergyConsumption(self.handles[i]))

    def sm_clock_mhz(self, i: int) -> float | None:
        return self._maybe(lambda: self.nv.nvmlDeviceGetClockInfo(self.handles[i], self.nv.NVML_CLOCK_SM))

    def temperature_c(self, i: int) -> float | None:
        return self._maybe(lambda: self.nv.nvmlDeviceGetTemperature(self.handles[i], self.nv.NVML_TEMPERATURE_GPU))


def open_nvml() -> tuple[NvmlApi | None, str | None]:
    """(the real NVML, None), or (None, why it cannot be used here)."""
    try:
        api = PynvmlApi()
    except ImportError:
        return None, "no NVIDIA GPU support here (nvidia-ml-py not installed)"
    except Exception as exc:  # NVMLError: no driver, no device
        return None, f"no NVIDIA GPU here (NVML: {exc})"
    return (api, None) if api.count() else (None, "NVML sees no GPU")


@dataclass
class FakeNvml:
    """Test double: readings from `script(i, t)` (t: seconds since it was made), one device per entry of
    `names`; the energy counter integrates the scripted power unless `energy_counter` is off."""

    names: list[str]
    script: Callable[[int, float], dict[str, float]]
    energy_counter: bool = True
    pids: dict[int, float] = field(default_factory=dict)  # pid: MB on every device
    t0: float = field(default_factory=time.monotonic)

    def _now(self, i: int) -> dict[str, float]:
        return self.script(i, time.monotonic() - self.t0)

    def count(self) -> int:
        return len(self.names)

    def name(self, i: int) -> str:
        return self.names[i]

    def utilization_percent(self, i: int) -> float:
        return self._now(i)["util"]

    def memory_used_mb(self, i: int) -> float:
        return self._now(i)["mem"]

    def process_memory_mb(self, i: int) -> dict[int, float]:
        return dict(self.pids)

    def power_w(self, i: int) -> float | None:
        return self._now(i)["power"]

    def energy_mj(self, i: int) -> int | None:
        return int(self._now(i)["energy_mj"]) if self.energy_counter else None

    def sm_clock_mhz(self, i: int) -> float | None:
        return self._now(i).get("clock")

    def temperature_c(self, i: int) -> float | None:
        return self._now(i).get("temp")


class GpuWindow:
    """Sample every device from start() to stop(); result() is the record's GPU block. `pids`: the measured
    processes (the worker, or the server's process tree), asked at each sample (a server may add some)."""

    def __init__(self, api: NvmlApi, pids: Callable[[], Iterable[int]] | None = None, interval_s: float = SAMPLE_S) -> None:
        self.api, self.pids, self.interval_s = api, pids, interval_s
        n = api.count()
        self._util: list[list[float]] = [[] for _ in range(n)]
        self._power: list[list[float]] = [[] for _ in range(n)]
        self._mem_peak = [0.0] * n
        self._proc_peak = [0.0] * n
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        watched = set(self.pids()) if self.pids is not None else set()
        for i in range(self.api.count()):
            self._util[i].append(self.api.utilization_percent(i))
            self._mem_peak[i] = max(self._mem_peak[i], self.api.memory_used_mb(i))
            mine = sum(mb for pid, mb in self.api.process_memory_mb(i).items() if pid in watched)
            self._proc_peak[i] = max(self._proc_peak[i], mine)
            if (w := self.api.power_w(i)) is not None:
                self._power[i].append(w)

    def _edge(self) -> list[dict[str, Any]]:
        return [{"energy_mj": self.api.energy_mj(i), "sm_clock_mhz": self.api.sm_clock_mhz(i), "temperature_c": self.api.temperature_c(i)}
                for i in range(self.api.count())]

    def start(self) -> GpuWindow:
        self._start, self._t0 = self._edge(), time.perf_counter()
        self._sample()

        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                self._sample()

        self._thread = threading.Thread(target=loop, name="gpu-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self._sample()
        self._wall, self._end = time.perf_counter() - self._t0, self._edge()

    def result(self) -> dict[str, Any]:
        """Per device: utilisation (mean, max, samples), memory peaks, watts and joules over the window with
        their source, clocks and temperature at start and end; `watts` in all (the energy block adds it)."""
        self.stop()
        devices = []
        for i in range(self.api.count()):
            a, b = self._start[i]["energy_mj"], self._end[i]["energy_mj"]
            if a is not None and b is not None and self._wall > 0:
                joules, source = (b - a) / 1000, "energy counter"
            elif self._power[i]:
                joules, source = sum(self._power[i]) / len(self._power[i]) * self._wall, "sampled power x time (the device has no energy counter)"
            else:
                joules, source = None, "n/a: the device reports neither energy nor power"
            util = self._util[i]
            devices.append({
                "index": i, "name": self.api.name(i), "samples": len(util),
                "utilization_mean_percent": sum(util) / len(util) if util else None, "utilization_max_percent": max(util, default=None),
                "memory_peak_mb": self._mem_peak[i], "process_memory_peak_mb": self._proc_peak[i] if self.pids is not None else None,
                "joules": joules, "watts": joules / self._wall if joules is not None and self._wall > 0 else None, "energy_source": source,
                "sm_clock_mhz": [self._start[i]["sm_clock_mhz"], self._end[i]["sm_clock_mhz"]],
                "temperature_c": [self._start[i]["temperature_c"], self._end[i]["temperature_c"]],
            })
        watts = [d["watts"] for d in devices if d["watts"] is not None]
        return {"source": "nvml", "window_s": self._wall, "interval_s": self.interval_s, "devices": devices,
                "watts": sum(watts) if watts else None,
                "utilization_percent": (sum(d["utilization_mean_percent"] or 0 for d in devices) / len(devices)) if devices else None,
                "memory_mb": sum(d["memory_peak_mb"] for d in devices)}
