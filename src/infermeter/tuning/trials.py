"""One tuning trial: the target set up with one trial's settings, then an open-loop capacity search on it
(capacity/driver.py). An engine is loaded anew in a worker (runner.CellSession) for each trial, its
answers checked against the reference engine; a serving framework is deployed anew from its adapter, its
answers checked, and stopped after the search. Answers that differ from the reference make the trial
infeasible: a setting that is faster because it is wrong (bf16 past the tolerance) is not a tuned setting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml

from infermeter.capacity.driver import run_capacity
from infermeter.capacity.search import StopRule, schedule_tag
from infermeter.errors import ConfigError
from infermeter.loadgen.settings import LoadSettings
from infermeter.results.record import CapacityResult, TuningTrial
from infermeter.results.slo import SLO
from infermeter.results.store import ResultStore
from infermeter.tuning.space import DefaultsFirst, Suggest, engine_space, reserved_cores, settings_defaults


class AnswersDiffer(Exception):
    """The trial's setting answers differently from the reference engine: not a setting to deploy."""


@dataclass
class TrialContext:
    """What every trial of a study shares: where records go and how the capacity search runs."""

    store: ResultStore
    run_id: str
    slo: SLO
    requests: int
    settings: LoadSettings
    search: dict[str, Any]  # run_capacity's resolution, start_rate, max_rate, growth_cap
    cache_root: Path
    resume: bool = False
    on_progress: Callable[[str], None] = lambda s: None
    # Which draw of the probes' seeded Poisson schedules: a confirmation round draws another, so its windows and
    # answer are cells of their own beside the trial's first search (the same cell from a later run, after a
    # resume, would supersede it).
    schedule: int = 0


class Tunable(Protocol):
    kind: Literal["engine", "server"]
    label: str  # the target without settings, e.g. "resnet50 on onnxruntime"
    base: dict[str, Any]  # settings the user fixed (never searched over)

    def space(self, suggest: Suggest, cores: int) -> tuple[dict[str, Any], int | None]:
        """One trial's settings (merged over `base`) and callers (None: not an engine)."""
        ...

    def cores(self, settings: dict[str, Any], callers: int | None, machine_cores: int) -> float: ...

    def starts(self, cores: int) -> list[dict[str, Any]]:
        """Parameters proposed before the sampler's own: the two ends of spreading the cores, all on one model
        instance or one core each, with the defaults for the rest of the space."""
        ...

    def run(self, settings: dict[str, Any], callers: int | None, tuning: TuningTrial, ctx: TrialContext,
            stop: StopRule | None) -> CapacityResult: ...

    def snippet(self, settings: dict[str, Any], callers: int | None, capacity: float | None, slo: SLO) -> str:
        """A suite that measures this setting again, at rates around the capacity found."""
        ...


def _search_cell(label: str, ctx: TrialContext, **target: Any) -> dict[str, Any]:
    s = ctx.settings
    return target | {"label": label, "seed": s.seed, "requests": ctx.requests, "min_seconds": s.min_seconds,
                     "max_seconds": s.max_seconds} | schedule_tag(ctx.schedule)


def _filled(tunable: EngineTunable | ServerTunable, starts: list[dict[str, Any]], cores: int) -> list[dict[str, Any]]:
    """Starting points with the defaults (the settings model's, then what the user fixed; one caller for an
    engine) for every parameter of the space they do not set."""
    defaults = settings_defaults(tunable.cls.Settings) | tunable.base | ({"callers": 1} if tunable.kind == "engine" else {})
    out = []
    for start in starts:
        walk = DefaultsFirst(start, defaults)
        tunable.space(walk, cores)
        out.append(walk.chosen)
    return out


def _rates_around(capacity: float | None) -> list[float]:
    return [round(capacity * f, 3) for f in (0.5, 0.8, 1.0)] if capacity else [1.0]


class EngineTunable:
    kind: Literal["engine", "server"] = "engine"

    def __init__(self, workload: str, engine: str, base: dict[str, Any], batch_size: int) -> None:
        from infermeter.capacity.engine import engine_cell
        from infermeter.engines.registry import engine_class

        self.workload, self.engine, self.base, self.batch_size = workload, engine, base, batch_size
        self.cls = engine_class(engine)
        self.label = f"{workload} on {engine}"
        engine_cell(workload, engine, base, batch_size, 0)  # refuses unknown names and settings before any trial

    def space(self, suggest: Suggest, cores: int) -> tuple[dict[str, Any], int | None]:
        settings, callers = engine_space(self.cls, suggest, cores)
        return settings | self.base, callers  # what the user fixed is never searched over

    def cores(self, settings: dict[str, Any], callers: int | None, machine_cores: int) -> float:
        return reserved_cores(settings.get("threads"), callers or 1, machine_cores)

    def starts(self, cores: int) -> list[dict[str, Any]]:
        from infermeter.engines.base import CONCURRENT

        if cores < 2 or "threads" in self.base or CONCURRENT not in self.cls(self.cls.Settings(**self.base)).capabilities:
            return []
        return _filled(self, [{"threads": cores, "callers": 1}, {"threads": 1, "callers": cores}], cores)

    def run(self, settings: dict[str, Any], callers: int | None, tuning: TuningTrial, ctx: TrialContext,
            stop: StopRule | None) -> CapacityResult:
        from infermeter.capacity.engine import EngineTarget, engine_cell, session_log
        from infermeter.collectors.energy import DEFAULT_CPU_WATTS_PER_CORE
        from infermeter.runner import CellSession
        from infermeter.export.parity import mismatch_detail

        cell = engine_cell(self.workload, self.engine, settings, self.batch_size, ctx.settings.seed)
        ctx.on_progress(f"loading {cell.engine_label}, checking its answers, warming up")
        with CellSession(cell, ctx.cache_root, ctx.run_id, session_log(ctx.store.out, cell), "process", DEFAULT_CPU_WATTS_PER_CORE,
                         ctx.slo.text) as session:
            if session.parity.get("verdict") == "mismatch":
                raise AnswersDiffer(f"{cell.engine_label} answers differently from {session.parity.get('reference_engine')}: "
                                    f"{mismatch_detail(session.parity)}")
            target = EngineTarget(cell, session, ctx.slo, ctx.settings.min_seconds, ctx.settings.max_seconds, callers or 1, ctx.schedule)
            search_cell = _search_cell(f"{self.workload} on {cell.engine_label}", ctx, workload=self.workload, engine=cell.engine_label,
                                       batch_size=self.batch_size, callers=callers or 1)
            return run_capacity(ctx.store, ctx.run_id, search_cell, target, ctx.slo, ["rate"], ctx.requests, curve=False, stop=stop,
                                tuning=tuning, resume=ctx.resume, on_progress=ctx.on_progress, **ctx.search)[0]

    def snippet(self, settings: dict[str, Any], callers: int | None, capacity: float | None, slo: SLO) -> str:
        suite = {"name": f"tuned-{self.workload}-{self.engine}", "workloads": [self.workload],
                 "engines": [{"name": self.engine, "settings": settings}],
                 "scenarios": [{"kind": "open-loop", "batch_sizes": [self.batch_size], "concurrency": [callers or 1],
                                "rates": _rates_around(capacity)}],
                 "slo": slo.text}
        return yaml.safe_dump(suite, sort_keys=False)


class ServerTunable:
    kind: Literal["engine", "server"] = "server"

    def __init__(self, workload: str, server: str, base: dict[str, Any], seed: int) -> None:
        from infermeter.workloads.registry import get_workload

        self.workload, self.server, self.base, self.seed = workload, server, base, seed
        get_workload(workload, seed)  # refuses an unknown workload before any trial (it would fail every one)
        adapter = self._adapter(base)  # refuses unknown names and settings before any trial
        why = adapter.missing() or adapter.cannot_place(workload)
        if why:
            raise ConfigError(f"{server} cannot run here: {why}", f"infermeter servers install {server}")
        self.cls = type(adapter)
        self.label = f"{workload} on {server}"

    def _adapter(self, settings: dict[str, Any]) -> Any:
        from pydantic import ValidationError

        from infermeter.servers.registry import adapter_for

        try:
            return adapter_for(self.server, settings)
        except ValidationError as exc:
            raise ConfigError(f"{self.server}: " + "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors()),
                              "infermeter servers lists the frameworks; their settings are in docs/") from None

    def space(self, suggest: Suggest, cores: int) -> tuple[dict[str, Any], int | None]:
        return self.cls.tuning_space(suggest, cores) | self.base, None  # what the user fixed is never searched over

    def cores(self, settings: dict[str, Any], callers: int | None, machine_cores: int) -> float:
        s = self.cls.Settings(**settings)
        return reserved_cores(s.threads, s.workers, machine_cores)

    def starts(self, cores: int) -> list[dict[str, Any]]:
        if cores < 2 or "workers" in self.base or "threads" in self.base:
            return []
        return _filled(self, [{"workers": 1, "threads": cores}, {"workers": cores, "threads": 1}], cores)

    def run(self, settings: dict[str, Any], callers: int | None, tuning: TuningTrial, ctx: TrialContext,
            stop: StopRule | None) -> CapacityResult:
        from infermeter.capacity.server import ServerTarget
        from infermeter.collectors.energy import DEFAULT_CPU_WATTS_PER_CORE
        from infermeter.config import engine_label
        from infermeter.export.artifacts import Exporter
        from infermeter.server_cells import deployment_common, deployment_dir
        from infermeter.workloads.registry import get_workload

        adapter = self._adapter(settings)
        server_label = engine_label(self.server, settings)
        label = f"{self.workload} on {server_label}"
        workload = get_workload(self.workload, self.seed)
        exporter = Exporter(workload, ctx.cache_root)
        ctx.on_progress(f"packaging and starting {server_label}")
        deployment = adapter.deploy(workload, exporter, deployment_dir(ctx.store.out, self.server, self.workload, server_label))
        with deployment.process:
            adapter.on_ready(deployment)
            ctx.on_progress(f"{server_label}: checking answers")
            common = deployment_common(adapter, deployment, exporter)
            answers = common.get("answers") or {}
            if answers.get("verdict") == "mismatch":
                raise AnswersDiffer(f"{server_label} answers differently from {answers.get('reference_engine')} on "
                                    f"{answers['checked'] - answers['matching']} of {answers['checked']} payloads")
            target = ServerTarget(adapter, deployment, self.workload, label, ctx.settings, ctx.slo, ctx.run_id, common,
                                  DEFAULT_CPU_WATTS_PER_CORE, ctx.schedule)
            search_cell = _search_cell(label, ctx, workload=self.workload, server=server_label)
            return run_capacity(ctx.store, ctx.run_id, search_cell, target, ctx.slo, ["rate"], ctx.requests, curve=False, stop=stop,
                                tuning=tuning, resume=ctx.resume, on_progress=ctx.on_progress, **ctx.search)[0]

    def snippet(self, settings: dict[str, Any], callers: int | None, capacity: float | None, slo: SLO) -> str:
        suite = {"name": f"tuned-{self.workload}-{self.server}", "workloads": [self.workload],
                 "servers": [{"name": self.server, "settings": settings}],
                 "load": {"users": [1], "rates": _rates_around(capacity)}, "slo": slo.text}
        return yaml.safe_dump(suite, sort_keys=False)
