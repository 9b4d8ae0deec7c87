"""Capacity probes over HTTP: each probe is one `infermeter load` window (loadgen/endpoint.py) at a number
of users or an arrival rate, stored as a load record whose cell names the search it belongs to."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from infermeter.capacity.search import Mode, probe_window, schedule_seed, schedule_tag
from infermeter.collectors import machine
from infermeter.collectors.window import endpoint_window
from infermeter.loadgen.endpoint import build_plans, cell_of, measure_window, window_fields
from infermeter.loadgen.settings import LoadSettings
from infermeter.protocols.http import HttpTarget
from infermeter.results.record import LoadWindow
from infermeter.results.slo import SLO


class EndpointTarget:
    """An HTTP endpoint under closed-loop users or open-loop arrivals, one window per probe."""

    def __init__(self, target: HttpTarget, settings: LoadSettings, slo: SLO, run_id: str, label: str = "", schedule: int = 0) -> None:
        self.target, self.settings, self.slo, self.run_id, self.label = target, settings, slo, run_id, label
        self.schedule = schedule  # which draw of the seeded arrival schedules (search.schedule_seed)

    def _cell(self, mode: Mode, load: float, requests: int) -> dict[str, Any]:
        users, rate = (int(load), None) if mode == "users" else (None, load)
        return cell_of(self.target, self._settings(mode, load, requests), users, rate, self.label) | self._probe_tag()

    def _probe_tag(self) -> dict[str, Any]:
        """"capacity_probe": a probe is no point of a load sweep, and its id must not match one; another draw of
        the arrival schedules is another cell."""
        return {"capacity_probe": True} | schedule_tag(self.schedule)

    def cell_id(self, mode: Mode, load: float, requests: int) -> str:
        return hashlib.sha256(json.dumps(self._cell(mode, load, requests), sort_keys=True).encode()).hexdigest()[:16]

    def _settings(self, mode: Mode, load: float, requests: int) -> LoadSettings:
        """The probe's requests and window length (search.probe_window: at a low rate, stretched to hold the
        requests a verdict needs)."""
        n, max_seconds = probe_window(mode, load, requests, self.slo, self.settings.max_seconds)
        return self.settings.model_copy(update={"min_requests": n, "max_seconds": max_seconds})

    def _plans(self, mode: Mode, load: float, requests: int) -> list[Any]:
        users, rate = (int(load), None) if mode == "users" else (None, load)
        return build_plans(self.target, self._settings(mode, load, requests), users, rate, schedule_seed(0, load, self.schedule) if rate else 0)

    def offered_per_s(self, load: float, requests: int) -> float | None:
        s = self._settings("rate", load, requests)
        arrivals = sum(len(p.schedule_ns) for p in self._plans("rate", load, requests))
        return arrivals / max(s.min_seconds, s.min_requests / load)

    def measure(self, mode: Mode, load: float, requests: int) -> LoadWindow:
        metrics, failure, warnings = measure_window(self._plans(mode, load, requests), endpoint_window())
        return LoadWindow(
            run_id=self.run_id, cell_id=self.cell_id(mode, load, requests), cell=self._cell(mode, load, requests),
            machine=machine.machine_info(),
            packages=machine.package_versions(),
            **window_fields(0, 1, metrics, failure, warnings, int(load) if mode == "users" else None, self.slo),
        )
