"""How load windows are run: one pydantic model, so `infermeter load`'s flags and a suite's `load:` section
share their defaults and bounds (they used to be two classes with different defaults)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import os
from typing import Any

from pydantic import (BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, ValidationError, ValidationInfo, field_validator,
                      model_serializer, model_validator)

from infermeter import limits
from infermeter.errors import ConfigError
from infermeter.loadgen.schedule import Arrival

_LIMIT_OF = {"warmup_s": "seconds", "min_seconds": "seconds", "max_seconds": "seconds", "timeout_s": "seconds",
             "min_requests": "iterations", "repeats": "repeats", "generator_processes": "workers"}


class WindowSettings(BaseModel):
    """Each window of load: warm-up, when it stops, how requests are timed out and sent, how often repeated.
    A suite's `load:` section is this plus the users and rates to sweep (config.LoadSection)."""

    # nan and inf are no setting: `--duration inf` would pass `gt=0` and never end a window.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    arrival: Arrival = "poisson"
    warmup_s: float = Field(2.0, ge=0, description="seconds of load before each window, not counted")
    min_seconds: float = Field(10.0, gt=0, description="a window lasts at least this long")
    min_requests: int = Field(50, ge=1, description="and holds at least this many requests")
    max_seconds: float = Field(120.0, gt=0, description="a window stops here even below its minimums")
    # Long enough for a queue at 100 users in front of a large model; a stalled server still ends the window
    # at max_seconds.
    timeout_s: float = Field(60.0, gt=0, description="seconds before a request counts as timed out")
    repeats: int = Field(5, ge=1, description="windows per load point")
    generator_processes: int = Field(1, ge=1, description="load generator processes (--generator-processes)")
    # Load shapes (issue 16). Left out of a dump at their defaults (_without_default_shape), so that the cells
    # measured before they existed keep their ids.
    spawn_rate: float | None = Field(None, gt=0, description="closed loop: users started per second (ramp-up, inside "
                                     "the warm-up, which is made long enough for it); none: all at once")
    think_time: str | None = Field(None, description="closed loop: each user's pause between requests: constant:S, "
                                   "uniform:A-B or exponential:MEAN (seconds)")
    burstiness: float = Field(1.0, gt=0, description="arrival gamma: the gamma shape (1 = Poisson, < 1 burstier)")
    trace: str | None = Field(None, description="arrival trace: a file of request times (SECONDS[,PAYLOAD] a line), "
                              "replayed at each rate asked for")
    stages: str | None = Field(None, description="closed loop: the users over time, DURATION:USERS[@SPAWN_RATE] steps "
                               "(loadgen/shapes.py); one window over the whole shape")
    generator_cpus: str | None = Field(None, description="the cores the generator processes may run on, e.g. '0' or '0-1,4' "
                                       "(keep them apart from a local server's); none: any")

    @model_serializer(mode="wrap")
    def _without_default_shape(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out = handler(self)
        for name, default in OMITTED_AT_DEFAULT.items():
            if out.get(name, default) == default:
                out.pop(name, None)
        return out

    @field_validator("think_time", "stages", "generator_cpus", "trace")
    @classmethod
    def _parses(cls, v: str | None, info: ValidationInfo) -> str | None:
        """A shape setting is kept as the user wrote it (the cell's id hashes it) once it parses."""
        if v is not None:
            _parser(info.field_name)(v)  # type: ignore[arg-type]
        return v

    @field_validator("warmup_s", "min_seconds", "max_seconds", "timeout_s", "min_requests", "repeats", "generator_processes")
    @classmethod
    def _bounded(cls, v: float, info: ValidationInfo) -> float:
        limits.check(_LIMIT_OF[info.field_name], v)  # type: ignore[index]
        return v

    @model_validator(mode="after")
    def _max_not_below_min(self) -> WindowSettings:
        if self.max_seconds < self.min_seconds:
            raise ValueError(f"max_seconds ({self.max_seconds}) is below min_seconds ({self.min_seconds})")
        if (self.arrival == "trace") != (self.trace is not None):
            raise ValueError("a trace file and arrival 'trace' go together: give both or neither")
        if self.burstiness != 1.0 and self.arrival != "gamma":
            raise ValueError(f"burstiness shapes arrival 'gamma', not {self.arrival!r}")
        return self


# Settings added after cells were first measured: a dump leaves them out at their defaults (so old cells keep
# their ids). The suite's distribution settings (config.LoadSection) are among them.
OMITTED_AT_DEFAULT: dict[str, Any] = {"spawn_rate": None, "think_time": None, "burstiness": 1.0, "trace": None, "generator_cpus": None, "stages": None,
                                      "distributed": None, "remote_workers": 0, "master_bind": "127.0.0.1"}


def parse_cpus(text: str) -> tuple[int, ...]:
    """'0', '0-3' or '0,2-3' as core numbers; each must be one this process may run on."""
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            cpus.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise ValueError(f"cores {text!r}: give numbers and ranges, e.g. 0 or 0-1,4") from None
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    if not cpus or not cpus <= allowed:
        raise ValueError(f"cores {text!r}: this machine lets infermeter run on {_ranges(sorted(allowed))}")
    return tuple(sorted(cpus))


def _ranges(cpus: list[int]) -> str:
    return ",".join(str(c) for c in cpus)


def parse_think_time(text: str) -> tuple[str, float, float]:
    """'constant:0.5', 'uniform:0.1-0.5' or 'exponential:0.2' (seconds) as (kind, a, b)."""
    kind, _, value = text.partition(":")
    try:
        if kind == "uniform":
            lo, _, hi = value.partition("-")
            a, b = float(lo), float(hi)
        elif kind in ("constant", "exponential"):
            a = b = float(value)
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"think time {text!r}: give constant:SECONDS, uniform:MIN-MAX or exponential:MEAN, "
                         "e.g. exponential:0.5") from None
    if not (0 <= a <= b < 3600) or a != a:
        raise ValueError(f"think time {text!r}: seconds from 0 to 3600, the minimum first")
    return kind, a, b


class LoadSettings(WindowSettings):
    """What one load test runs with: the window settings and the seed of its open-loop schedules (a suite
    takes the seed from its top-level `seed`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    seed: int = 0

    @classmethod
    def of(cls, window: WindowSettings, seed: int) -> LoadSettings:
        """A suite's `load:` section (or any WindowSettings) run with this seed."""
        return cls(**window.model_dump(include=set(WindowSettings.model_fields)), seed=seed)


# `infermeter load` flag of each field, for messages that name what the user typed.
CLI_FLAGS = {
    "arrival": "--arrival", "warmup_s": "--warmup", "min_seconds": "--duration", "min_requests": "--min-requests",
    "max_seconds": "--max-duration", "timeout_s": "--timeout", "repeats": "--repeats",
    "generator_processes": "--generator-processes", "seed": "--seed", "spawn_rate": "--spawn-rate",
    "think_time": "--think-time", "burstiness": "--burstiness", "trace": "--trace", "generator_cpus": "--generator-cpus", "stages": "--stages",
}


def cli_settings(typed: Mapping[str, str] | None = None, /, **values: object) -> LoadSettings:
    """LoadSettings from the CLI's values (by field name); what is out of bounds is a ConfigError naming
    the flag (`typed`: a field's flag as the user spelled it, where that was an old name)."""
    flags = {**CLI_FLAGS, **(typed or {})}
    try:
        return LoadSettings(**values)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            flag = flags.get(field, "--duration/--max-duration" if not field else field)
            parts.append(f"{flag}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError("; ".join(parts), "e.g. --duration 10 --max-duration 120 --timeout 60 --warmup 2 "
                                            "--repeats 5 --generator-processes 2") from None


def _parser(field: str) -> Callable[[str], object]:
    """What checks a shape setting (WindowSettings._parses)."""
    if field == "stages":
        from infermeter.loadgen.shapes import parse_stages

        return parse_stages
    if field == "trace":
        return _read_trace
    return {"think_time": parse_think_time, "generator_cpus": parse_cpus}[field]


def _read_trace(path: str) -> object:
    from infermeter.loadgen.schedule import trace_times

    try:
        return trace_times(path)
    except OSError as exc:
        raise ValueError(f"cannot read the trace {path}: {exc.strerror or exc}") from None
