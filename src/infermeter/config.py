"""The suite: what to measure, validated before anything runs, and expanded into cells.

A cell is one (workload, engine + settings, scenario point) measured `repeats` times.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from infermeter import limits
from infermeter.errors import ConfigError
from infermeter.loadgen.settings import WindowSettings
from infermeter.results.slo import SLO
from infermeter.validity.overhead import PREPROCESS_BUDGET_MS, SERVING_BUDGET_MS

ScenarioKind = Literal["single-stream", "offline", "concurrent", "open-loop"]


class _Strict(BaseModel):
    # nan and inf are no setting: YAML's .nan/.inf would pass every `gt=0` and make a window endless.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class WarmupSettings(_Strict):
    """Warm-up before a cell's first window: at least `iterations` calls and `seconds`, then on until the
    latency of the last `window` calls no longer drifts, for at most `max_seconds` (then "not steady")."""

    iterations: int = Field(5, ge=0, description="at least this many calls")
    seconds: float = Field(1.0, ge=0, description="and at least this long")
    max_seconds: float = Field(60.0, gt=0, description="at most this long; a warm-up still drifting then is flagged 'not steady'")
    window: int = Field(40, ge=8, description="calls tested for drift: medians of the two halves and a trend over all")
    tolerance: float = Field(0.05, gt=0, lt=1, description="the halves' medians may differ by this fraction")

    @field_validator("iterations", "seconds", "max_seconds")
    @classmethod
    def _bounded(cls, v: float, info: ValidationInfo) -> float:
        limits.check("iterations" if info.field_name == "iterations" else "seconds", v)
        return v

    @model_validator(mode="after")
    def _max_not_below_min(self) -> WarmupSettings:
        if self.max_seconds < self.seconds:
            raise ValueError(f"max_seconds ({self.max_seconds}) is below seconds ({self.seconds})")
        return self


_WARMUP_KEYS_ADDED = ("max_seconds", "window", "tolerance")  # with steady-state warm-up (issue 12)


class MeasureSettings(_Strict):
    repeats: int = Field(5, ge=1, description="measurement windows per cell")
    min_iterations: int = Field(20, ge=1)
    min_seconds: float = Field(2.0, ge=0)
    max_seconds: float = Field(120.0, gt=0, description="a window stops here even below min_iterations (flagged)")

    @field_validator("repeats", "min_iterations", "min_seconds", "max_seconds")
    @classmethod
    def _bounded(cls, v: float, info: ValidationInfo) -> float:
        limits.check({"repeats": "repeats", "min_iterations": "iterations"}.get(info.field_name or "", "seconds"), v)
        return v

    @model_validator(mode="after")
    def _max_not_below_min(self) -> MeasureSettings:
        if self.max_seconds < self.min_seconds:
            raise ValueError(f"max_seconds ({self.max_seconds}) is below min_seconds ({self.min_seconds})")
        return self


class EngineEntry(_Strict):
    name: str
    settings: dict[str, Any] = Field(default_factory=dict)


def _check_rates(v: list[float], what: str) -> list[float]:
    """Arrival rates per second: each > 0, within the rate and point-count bounds."""
    if any(r <= 0 for r in v):
        raise ValueError("rates must be > 0")
    if v:
        limits.check("rate", max(v))
    limits.check("points", len(v), what)
    return v


class Scenario(_Strict):
    """single-stream, offline (batch sweep) and concurrent (callers in a closed loop); open-loop: Poisson
    arrivals at each of `rates` per second, served in order by `concurrency` callers (MLPerf's server
    scenario, loadgen/openloop.py)."""

    kind: ScenarioKind = "single-stream"
    batch_sizes: list[int] = Field(default_factory=lambda: [1])
    concurrency: list[int] = Field(default_factory=lambda: [1])
    rates: list[float] = Field(default_factory=list, description="open-loop: arrivals per second, one cell each")

    @field_validator("rates")
    @classmethod
    def _rates(cls, v: list[float]) -> list[float]:
        return _check_rates(v, "open-loop rates")

    @field_validator("batch_sizes", "concurrency")
    @classmethod
    def _positive(cls, v: list[int], info: ValidationInfo) -> list[int]:
        if not v or any(x < 1 for x in v):
            raise ValueError("must be a non-empty list of integers >= 1")
        limits.check("batch_size" if info.field_name == "batch_sizes" else "concurrency", max(v))
        return v

    @model_validator(mode="after")
    def _shape(self) -> Scenario:
        if self.kind == "single-stream" and (self.concurrency != [1]):
            raise ValueError("single-stream means one caller: use kind 'concurrent' for concurrency > 1")
        if self.kind == "open-loop" and not self.rates:
            raise ValueError("open-loop needs rates (arrivals per second), e.g. rates: [5, 50]")
        if self.kind != "open-loop" and self.rates:
            raise ValueError(f"rates are for kind 'open-loop' (arrivals per second), not {self.kind!r}")
        return self

    def points(self) -> list[tuple[int, int, float | None]]:
        """(batch size, callers, rate); rate None but for open-loop."""
        rates: list[float | None] = list(self.rates) or [None]
        return [(b, c, r) for b in self.batch_sizes for c in self.concurrency for r in rates]


class ServerEntry(_Strict):
    name: str
    settings: dict[str, Any] = Field(default_factory=dict)


class LoadSection(WindowSettings):
    """How server cells are driven: closed loop over virtual users and/or open loop over rates, each window
    run as `infermeter load` runs its windows (the same model, WindowSettings: one set of defaults and bounds)."""

    users: list[int] = Field(default_factory=lambda: [1, 10, 25, 50, 75, 100])
    rates: list[float] = Field(default_factory=list)
    # On Locust's master/worker runner (loadgen/distributed.py), as `infermeter load --distributed`: this many
    # workers started here, `remote_workers` expected from elsewhere; each runs one share (generator_processes
    # is their sum)
    distributed: int | None = Field(None, ge=0)
    remote_workers: int = Field(0, ge=0)
    master_bind: str = "127.0.0.1"

    @field_validator("users")
    @classmethod
    def _users(cls, v: list[int]) -> list[int]:
        if any(u < 1 for u in v):
            raise ValueError("virtual users must be >= 1")
        if v:
            limits.check("users", max(v))
        limits.check("points", len(v), "load points (users)")
        return v

    @field_validator("rates")
    @classmethod
    def _rates(cls, v: list[float]) -> list[float]:
        return _check_rates(v, "load points (rates)")

    @model_validator(mode="after")
    def _something(self) -> LoadSection:
        if not self.users and not self.rates:
            raise ValueError("give users (closed loop) or rates (open loop)")
        if self.stages is not None:
            raise ValueError("stages shape one window of `infermeter load --stages`; a suite's load sweeps users or rates "
                             "(spawn_rate and think_time shape its users)")
        if self.distributed is None and (self.remote_workers or self.master_bind != "127.0.0.1"):
            raise ValueError("remote_workers and master_bind go with distributed: N (workers started here, 0 for none)")
        if self.distributed is not None:
            workers = self.distributed + self.remote_workers
            if workers < 1:
                raise ValueError("distributed: no worker (give distributed >= 1 or remote_workers >= 1)")
            if "generator_processes" in self.model_fields_set and self.generator_processes != workers:
                raise ValueError("with distributed, each worker runs one share: leave generator_processes out")
            object.__setattr__(self, "generator_processes", workers)
        return self

    def generators(self) -> Any:
        """The Locust master and workers this section asks for (not started), or None."""
        if self.distributed is None:
            return None
        from infermeter.loadgen.distributed import LocustPool, parse_bind

        host, port = parse_bind(self.master_bind)
        return LocustPool(self.distributed, self.remote_workers, host, port or None)


class CostSection(_Strict):
    """The machine's price, to turn measured throughput into cost per million requests."""

    price_per_hour: float | None = Field(None, gt=0, description="what this machine costs per hour (e.g. its cloud on-demand price)")
    currency: str = "USD"


class EnergySection(_Strict):
    """How energy is estimated where it cannot be measured (no readable RAPL counters)."""

    cpu_watts_per_core: float = Field(10.0, gt=0, description="power of one busy CPU core, for the labelled estimate")


class OverheadSection(_Strict):
    """The serving-overhead check. The very pipeline each server runs (the workload's decode, the engine,
    the postprocess; same runtime and threads) is timed in process on the same payloads, before the
    server starts and between its windows at 1 user; every server window then says where its time went,
    and a window at 1 user whose time beyond the model exceeds the budgets is flagged (see
    validity/overhead.py for the evidence behind them)."""

    reference: bool = Field(True, description="time the server's pipeline in process, before each deployment and "
                            "around each window at 1 user")
    reference_seconds: float = Field(2.0, gt=0, description="each in-process window lasts at least this long...")
    reference_calls: int = Field(20, ge=1, description="...and holds at least this many calls")
    serving_budget_ms: float = Field(SERVING_BUDGET_MS, ge=0, description="network + protocol + framework per request "
                                     "(client p50 minus the in-process pipeline p50)")
    preprocess_budget_ms: float = Field(PREPROCESS_BUDGET_MS, ge=0, description="the workload's decode + postprocess per "
                                        "request, in process")


UsabilityCriterion = Literal["user-friendliness", "documentation", "features", "community", "maintenance"]


class UsabilitySection(_Strict):
    """The user's own 1-5 scores (higher is better) per serving framework and criterion, shown in the
    usability scorecard beside what was measured, labelled as the user's: a judgement, not a measurement.
    e.g. usability: {scores: {torchserve: {documentation: 4, maintenance: 1}}}"""

    scores: dict[str, dict[UsabilityCriterion, int]] = Field(default_factory=dict)

    @field_validator("scores")
    @classmethod
    def _scores(cls, v: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        from infermeter.servers.registry import SERVERS

        for server, per in v.items():
            if server not in SERVERS:
                raise ValueError(f"unknown serving framework {server!r}; known: {', '.join(SERVERS)}")
            for criterion, score in per.items():
                if not 1 <= score <= 5:
                    raise ValueError(f"{server} {criterion}: a score is 1 to 5, not {score}")
        return v


class Suite(_Strict):
    name: str = "suite"
    workloads: list[str] = Field(min_length=1)
    engines: list[EngineEntry] = Field(default_factory=list)
    servers: list[ServerEntry] = Field(default_factory=list)
    load: LoadSection = Field(default_factory=LoadSection)
    cost: CostSection = Field(default_factory=CostSection)
    energy: EnergySection = Field(default_factory=EnergySection)
    overhead: OverheadSection = Field(default_factory=OverheadSection)
    usability: UsabilitySection = Field(default_factory=UsabilitySection)
    scenarios: list[Scenario] = Field(default_factory=lambda: [Scenario()])
    warmup: WarmupSettings = Field(default_factory=WarmupSettings)
    measure: MeasureSettings = Field(default_factory=MeasureSettings)
    threads: int | None = Field(None, ge=1, description="intra-op threads for every engine that does not set its own")
    # Every window (engine cells and server load points) is judged against it: goodput and a verdict with
    # its confidence (results/slo.py), e.g. slo: "p99<=100ms,errors<=1%". No part of any cell's identity.
    slo: SLO | None = None

    @field_validator("threads")
    @classmethod
    def _threads(cls, v: int | None) -> int | None:
        if v is not None:
            limits.check("threads", v)
        return v

    seed: int = 0
    cached_load: bool = Field(True, description="also time a second load with the engine's cache populated")

    @field_validator("engines", "servers", mode="before")
    @classmethod
    def _engine_strings(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"name": e} if isinstance(e, str) else e for e in v]
        return v

    @field_validator("scenarios", mode="before")
    @classmethod
    def _scenario_strings(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"kind": s} if isinstance(s, str) else s for s in v]
        return v

    @model_validator(mode="after")
    def _known_names(self) -> Suite:
        from infermeter.engines.registry import engine_class
        from infermeter.workloads.registry import workload_formats

        for w in self.workloads:
            workload_formats(w)  # raises ConfigError naming the problem
        from infermeter.servers.registry import server_class

        if not self.engines and not self.servers:
            raise ValueError("name at least one engine or server")
        for e in self.engines:
            cls = engine_class(e.name)
            try:
                cls.Settings(**e.settings)
            except ValidationError as exc:
                raise ValueError(f"engine {e.name!r} settings: {_pydantic_message(exc)}") from None
        for srv in self.servers:
            scls = server_class(srv.name)
            try:
                scls.Settings(**srv.settings)
            except ValidationError as exc:
                raise ValueError(f"server {srv.name!r} settings: {_pydantic_message(exc)}") from None
        return self


def _pydantic_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"]) or "suite"
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def parse_suite(data: Any, source: str = "suite") -> Suite:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level", "see src/infermeter/suites/example.yaml")
    odd = [k for k in data if not isinstance(k, str)]
    if odd:  # YAML allows `? [a]`, `1:` or `null:` as keys; a suite's keys are names
        raise ConfigError(f"{source}: top-level key {odd[0]!r} is not a name", "see src/infermeter/suites/example.yaml for the keys a suite has")
    try:
        return Suite(**data)
    except ValidationError as exc:
        raise ConfigError(f"{source} is not valid: {_pydantic_message(exc)}", "see src/infermeter/suites/example.yaml for the format") from None
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.message}", exc.hint) from None


def load_suite(path: Path) -> Suite:
    """The suite in a YAML file. What is not a readable UTF-8 text file of sane size is refused with its reason
    (a directory, binary junk, a Latin-1 byte), never a traceback."""
    data = yaml_file(path, "suite file")
    return parse_suite(data, str(path))


def yaml_file(path: Path, what: str) -> Any:
    if not path.exists():
        raise ConfigError(f"{what} {str(path)!r} does not exist", "give the path of a YAML suite file")
    if path.is_dir():
        raise ConfigError(f"{what} {str(path)!r} is a directory", "give the path of a YAML suite file, e.g. src/infermeter/suites/example.yaml")
    if not path.is_file():
        raise ConfigError(f"{what} {str(path)!r} is not a regular file", "give the path of a YAML suite file")
    size = path.stat().st_size
    if size > limits.limit("suite_mb") * 1e6:
        raise ConfigError(f"{what} {str(path)!r} is {size / 1e6:.1f} MB, more than a suite should be",
                          f"give a YAML suite file (set {limits.env_name('suite_mb')} to allow larger ones)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}", "check the path and its permissions") from None
    if b"\0" in raw:
        raise ConfigError(f"{what} {str(path)!r} is binary, not YAML text (it holds NUL bytes)", "give the path of a YAML suite file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{what} {str(path)!r} is not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line} cannot be decoded",
                          "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8), or remove the byte") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}", "fix the YAML syntax") from None
    except RecursionError:
        raise ConfigError(f"{path} is nested too deeply to be a suite", "fix the YAML syntax") from None


class Cell(_Strict):
    """One scenario point of one workload on one engine. `cell_id` names it across runs (for --resume)."""

    workload: str
    engine: str
    engine_settings: dict[str, Any]
    scenario: ScenarioKind
    batch_size: int
    concurrency: int
    warmup: WarmupSettings
    measure: MeasureSettings
    seed: int
    cached_load: bool
    rate: float | None = None  # open-loop: arrivals per second
    schedule: int = 0  # capacity probes: which draw of the seeded arrival schedules (a search measured again draws another)
    skip_reason: str | None = None

    @property
    def cell_id(self) -> str:
        key = self.model_dump(exclude={"skip_reason"})
        # Settings added later leave the id alone at their defaults, so older results still resume.
        for k in _WARMUP_KEYS_ADDED:
            if key["warmup"][k] == WarmupSettings.model_fields[k].default:
                del key["warmup"][k]
        if key["rate"] is None:
            del key["rate"]
        if not key["schedule"]:
            del key["schedule"]
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def engine_label(self) -> str:
        return engine_label(self.engine, self.engine_settings)


def engine_label(name: str, settings: dict[str, Any]) -> str:
    if not settings:
        return name
    return name + "[" + ",".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in sorted(settings.items())) + "]"


def plan(suite: Suite) -> list[Cell]:
    """Expand the suite; cells an engine cannot run are kept with a skip reason, so the report shows them."""
    from infermeter.engines.base import CONCURRENT
    from infermeter.engines.registry import engine_class
    from infermeter.workloads.registry import workload_formats, workload_unbatchable

    cells = []
    for wname in suite.workloads:
        formats = workload_formats(wname)
        unbatchable = workload_unbatchable(wname)
        for entry in suite.engines:
            cls = engine_class(entry.name)
            settings = dict(entry.settings)
            if suite.threads and "threads" not in settings:
                settings["threads"] = suite.threads
            engine = cls(cls.Settings(**settings))
            unavailable = engine.unavailable() if not cls.missing() else None  # once per engine, not per point
            for scenario in suite.scenarios:
                for batch, conc, rate in scenario.points():
                    reason = None
                    missing = cls.missing()
                    if missing:
                        reason = f"engine {entry.name} is not installed here (needs {', '.join(missing)}); fix: {cls.install_hint}"
                    elif unavailable is not None:
                        reason = f"{entry.name}: {unavailable}"
                    elif cls.artifact_format not in formats:
                        reason = f"{wname} cannot be exported to {cls.artifact_format} (it supports {', '.join(sorted(formats))})"
                    elif conc > 1 and CONCURRENT not in engine.capabilities:
                        reason = f"{entry.name} does not support concurrent predict calls"
                    elif batch > 1 and unbatchable:
                        reason = f"{wname} is measured one sample per call: {unbatchable}"
                    cells.append(Cell(
                        workload=wname, engine=entry.name, engine_settings=settings, scenario=scenario.kind,
                        batch_size=batch, concurrency=conc, warmup=suite.warmup, measure=suite.measure,
                        seed=suite.seed, cached_load=suite.cached_load, rate=rate, skip_reason=reason,
                    ))
    return cells


class ServerCell(_Strict):
    """One load point of one workload on one server."""

    workload: str
    server: str
    server_settings: dict[str, Any]
    scenario: Literal["closed-loop", "open-loop"]
    users: int | None
    rate: float | None
    load: LoadSection
    seed: int

    @property
    def cell_id(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[:16]

    @property
    def server_label(self) -> str:
        return engine_label(self.server, self.server_settings)


def plan_servers(suite: Suite) -> list[tuple[str, ServerEntry, list[ServerCell]]]:
    """Per (workload, server): the load points to measure on one running server."""
    out = []
    for wname in suite.workloads:
        for entry in suite.servers:
            cells = [
                ServerCell(workload=wname, server=entry.name, server_settings=entry.settings, scenario="closed-loop",
                           users=u, rate=None, load=suite.load, seed=suite.seed)
                for u in suite.load.users
            ] + [
                ServerCell(workload=wname, server=entry.name, server_settings=entry.settings, scenario="open-loop",
                           users=None, rate=r, load=suite.load, seed=suite.seed)
                for r in suite.load.rates
            ]
            out.append((wname, entry, cells))
    return out
