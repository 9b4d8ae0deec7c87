"""Capacity probes on an engine in process: one worker keeps the engine loaded, warmed up and its parity
checked (runner.CellSession), and measures each probe as a window of a variant of the cell: callers in a
closed loop (mode users), or Poisson arrivals at a rate served by `callers` threads (mode rate: the open
loop of loadgen/openloop.py, MLPerf's server scenario). Each probe is an engine record of its own cell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infermeter.capacity.search import Mode, probe_window, schedule_seed
from infermeter.config import Cell, MeasureSettings
from infermeter.results.record import EngineWindow
from infermeter.results.slo import SLO
from infermeter.runner import CellSession

class EngineTarget:
    """An engine cell under closed-loop callers or open-loop arrivals, one window per probe."""

    def __init__(self, cell: Cell, session: CellSession, slo: SLO, min_seconds: float, max_seconds: float, callers: int = 1,
                 schedule: int = 0) -> None:
        self.cell, self.session, self.slo, self.callers, self.schedule = cell, session, slo, callers, schedule
        self.min_seconds, self.max_seconds = min_seconds, max_seconds

    def variant(self, mode: Mode, load: float, requests: int) -> Cell:
        """The cell at this load with this many requests (at a low rate, its window stretched to hold what a
        verdict needs: search.probe_window): its id names the probe."""
        n, max_seconds = probe_window(mode, load, requests, self.slo, self.max_seconds)
        measure = MeasureSettings(repeats=1, min_iterations=n, min_seconds=self.min_seconds, max_seconds=max_seconds)
        if mode == "rate":
            return self.cell.model_copy(update={"scenario": "open-loop", "rate": load, "concurrency": self.callers, "measure": measure,
                                                "schedule": self.schedule})
        users = int(load)
        return self.cell.model_copy(update={"scenario": "concurrent" if users > 1 else "single-stream", "rate": None,
                                            "concurrency": users, "measure": measure})

    def cell_id(self, mode: Mode, load: float, requests: int) -> str:
        return self.variant(mode, load, requests).cell_id

    def offered_per_s(self, load: float, requests: int) -> float | None:
        return None  # the open loop's own record says what it offered

    def measure(self, mode: Mode, load: float, requests: int) -> EngineWindow:
        return self.session.window(self.variant(mode, load, requests), 0, schedule_seed(self.cell.seed, load, self.schedule))


def engine_cell(workload: str, engine: str, settings: dict[str, Any], batch_size: int, seed: int) -> Cell:
    """A workload's single-stream cell on an engine with these settings, checked against the registries and
    the machine (ConfigError: an unknown name, a setting the engine refuses, an engine not installed)."""
    from pydantic import ValidationError

    from infermeter.config import Suite, plan
    from infermeter.errors import ConfigError

    try:
        suite = Suite(name="capacity", workloads=[workload], engines=[{"name": engine, "settings": settings}],
                      scenarios=[{"kind": "single-stream", "batch_sizes": [batch_size]}], seed=seed, cached_load=False)
    except ValidationError as exc:
        raise ConfigError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors()),
                          "infermeter workloads and infermeter engines list the names and each engine's settings") from None
    cell = plan(suite)[0]
    if cell.skip_reason:
        raise ConfigError(cell.skip_reason, "infermeter engines says what each engine needs")
    return cell


def session_log(out: Path, cell: Cell) -> Path:
    (out / "logs").mkdir(parents=True, exist_ok=True)
    return out / "logs" / f"capacity-{cell.workload}-{cell.engine}.log"
