"""Capacity probes on a serving framework deployed from a suite: the real server started once (its adapter),
its answers checked, then each probe one load window on it, stored as a server record with the server's
process tree, its own counters and the machine's CPU over the window."""

from __future__ import annotations

from typing import Any

from infermeter.capacity.endpoint import EndpointTarget
from infermeter.capacity.search import Mode
from infermeter.collectors import machine
from infermeter.collectors.energy import DEFAULT_CPU_WATTS_PER_CORE
from infermeter.collectors.window import server_window
from infermeter.loadgen.endpoint import measure_window, window_fields
from infermeter.loadgen.settings import LoadSettings
from infermeter.results.record import ServerInfo, ServerWindow
from infermeter.results.slo import SLO
from infermeter.server_cells import answer_warnings
from infermeter.servers.base import Deployment, ServerAdapter


class ServerTarget(EndpointTarget):
    """A running deployment under closed-loop users or open-loop arrivals, one server window per probe."""

    def __init__(self, adapter: ServerAdapter, deployment: Deployment, workload: str, label: str, settings: LoadSettings, slo: SLO,
                 run_id: str, common: dict[str, Any], cpu_watts_per_core: float = DEFAULT_CPU_WATTS_PER_CORE, schedule: int = 0) -> None:
        super().__init__(deployment.target, settings, slo, run_id, label, schedule)
        self.adapter, self.deployment, self.workload, self.common = adapter, deployment, workload, common
        self.cpu_watts_per_core = cpu_watts_per_core

    def _cell(self, mode: Mode, load: float, requests: int) -> dict[str, Any]:
        users, rate = (int(load), None) if mode == "users" else (None, load)
        s = self._settings(mode, load, requests)
        return {"workload": self.workload, "server": self.adapter.name, "server_settings": self.adapter.settings.model_dump(mode="json"),
                "scenario": "closed-loop" if users is not None else "open-loop", "users": users, "rate": rate,
                "settings": s.model_dump(), "label": self.label} | self._probe_tag()

    def measure(self, mode: Mode, load: float, requests: int) -> ServerWindow:  # type: ignore[override]
        d = self.deployment
        collected = server_window(d.process.tree, lambda: self.adapter.server_metrics(d), self.cpu_watts_per_core)
        metrics, failure, warnings = measure_window(self._plans(mode, load, requests), collected)
        code = d.process.exit_code()
        if code is not None:
            failure = f"{failure}; " if failure else ""
            failure += f"the server exited (code {code}) during the window; its log: {d.process.log_path}"
        warnings += answer_warnings(self.common.get("answers") or {})
        return ServerWindow(
            run_id=self.run_id, cell_id=self.cell_id(mode, load, requests), cell=self._cell(mode, load, requests),
            server=ServerInfo(name=self.adapter.name, label=self.label.split(" on ", 1)[-1], settings=self.adapter.settings.model_dump()),
            machine=machine.machine_info(), packages=machine.package_versions(), **self.common,
            **window_fields(0, 1, metrics, failure, warnings, int(load) if mode == "users" else None, self.slo),
        )
