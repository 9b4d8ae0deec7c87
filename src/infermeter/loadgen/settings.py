"""How load windows are run: one pydantic model, so `infermeter load`'s flags and a suite's `load:` section
share their defaults and bounds (they used to be two classes with different defaults)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

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

    @field_validator("warmup_s", "min_seconds", "max_seconds", "timeout_s", "min_requests", "repeats", "generator_processes")
    @classmethod
    def _bounded(cls, v: float, info: ValidationInfo) -> float:
        limits.check(_LIMIT_OF[info.field_name], v)  # type: ignore[index]
        return v

    @model_validator(mode="after")
    def _max_not_below_min(self) -> WindowSettings:
        if self.max_seconds < self.min_seconds:
            raise ValueError(f"max_seconds ({self.max_seconds}) is below min_seconds ({self.min_seconds})")
        return self


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
    "generator_processes": "--generator-processes", "seed": "--seed",
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
