"""GPU metrics of each window as a table (collectors/gpu.py: NVML sampled over the window), shown only
where a window ran with a GPU in the machine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infermeter.reports.grid import Grid
from infermeter.reports.table import fmt
from infermeter.results.record import AnyRecord, EngineWindow, ServerWindow


def _gpu_block(r: EngineWindow | ServerWindow) -> dict[str, Any] | None:
    energy = r.metrics.energy if r.metrics is not None else None
    gpu = energy.gpu if energy is not None else None
    return gpu if gpu and gpu["source"] == "nvml" and gpu["devices"] else None


def _where(r: EngineWindow | ServerWindow) -> tuple[str, str]:
    if isinstance(r, EngineWindow):
        return f"{r.cell['workload']} on {r.engine.label}", f"batch {r.cell['batch_size']}"
    load = f"{r.cell['users']} users" if r.cell.get("users") else f"{r.cell['rate']}/s"
    return f"{r.cell['workload']} on {r.server.label}", load


def gpu_grid(records: Sequence[AnyRecord]) -> Grid | None:
    """One row per window and device: utilisation mean / max, memory peaks, power and its source, clocks and
    temperature at start -> end. None when no window has NVML figures."""
    g = Grid("GPU over each window", ["target", "load", "repeat", "device", "util mean %", "util max %", "memory peak MB",
                                       "process MB", "W", "energy from", "SM MHz", "temp C"], left=4)
    for r in records:
        if not isinstance(r, (EngineWindow, ServerWindow)) or r.status != "ok" or (gpu := _gpu_block(r)) is None:
            continue
        target, load = _where(r)
        for d in gpu["devices"]:
            clocks, temps = d["sm_clock_mhz"], d["temperature_c"]  # as collectors/gpu.GpuWindow writes them
            g.add([target, load, str(r.repeat), f"{d['index']}: {d['name']}", fmt(d["utilization_mean_percent"], 0),
                   fmt(d["utilization_max_percent"], 0), fmt(d["memory_peak_mb"], 0), fmt(d["process_memory_peak_mb"], 0),
                   fmt(d["watts"], 0), str(d["energy_source"]), f"{fmt(clocks[0], 0)} -> {fmt(clocks[1], 0)}",
                   f"{fmt(temps[0], 0)} -> {fmt(temps[1], 0)}"])
    if not g.rows:
        return None
    g.caption = ("NVML sampled every 0.1 s over the window: utilisation is the mean and max of its samples (NVML's own "
                 "sampling period, not the window's last reading alone); memory peak is the device's, process MB the measured "
                 "processes' own (the engine's worker, or the server's process tree); W from the device's energy counter where "
                 "it has one, else sampled power x time.")
    return g
