"""One trial's settings from the space the target declares (search_space.py): Optuna's trial behind the
Suggest protocol, the callers an engine is given, and the cores a setting reserves."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from infermeter.search_space import Suggest, T


class OptunaSuggest:
    """A Suggest over an Optuna trial (or a fixed trial: the parameters of an interrupted trial, replayed)."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial

    def integer(self, name: str, low: int, high: int) -> int:
        return int(self.trial.suggest_int(name, low, max(low, high)))

    def choice(self, name: str, options: Sequence[T]) -> T:
        return self.trial.suggest_categorical(name, list(options))  # type: ignore[no-any-return]


class DefaultsFirst:
    """A Suggest answering with a starting point's own parameters, else each parameter's default where the
    space offers it, and keeping what it answered: a starting point is tried with the defaults for the rest
    (drawn at random, ResNet-50 on ONNX Runtime's 'all cores on one session' got a worse graph level, ran
    2.4x slower unloaded, and was pruned). A parameter without a default it can give is left to the sampler."""

    def __init__(self, start: dict[str, Any], defaults: dict[str, Any]) -> None:
        self.start, self.defaults, self.chosen = start, defaults, dict(start)

    def integer(self, name: str, low: int, high: int) -> int:
        value = self.start.get(name, self.defaults.get(name))
        if isinstance(value, int) and low <= value <= max(low, high):
            self.chosen[name] = value
            return value
        return low

    def choice(self, name: str, options: Sequence[T]) -> T:
        value = self.start.get(name, self.defaults.get(name))
        if value in options:
            self.chosen[name] = value
            return value  # type: ignore[return-value]
        return options[0]


def settings_defaults(settings_cls: Any) -> dict[str, Any]:
    """A settings model's defaults (those that are values, not None: 'the runtime's own')."""
    return {name: f.default for name, f in settings_cls.model_fields.items() if f.default is not None}


def usable_cores() -> int:
    """The cores this process may run on (its affinity), the most threads a trial is given."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def engine_space(engine_cls: Any, suggest: Suggest, cores: int) -> tuple[dict[str, Any], int]:
    """One trial's engine settings and callers (threads serving the open loop's queue; an engine that may
    be called from several threads at once is given 1..cores of them)."""
    from infermeter.engines.base import CONCURRENT

    settings = engine_cls.tuning_space(suggest, cores)
    concurrent = CONCURRENT in engine_cls(engine_cls.Settings(**settings)).capabilities
    callers = suggest.integer("callers", 1, cores) if concurrent else 1
    return settings, callers


def reserved_cores(threads: int | None, parallel: int, cores: int) -> float:
    """The cores a setting asks for (threads, or the runtime's default of every core, times what runs in
    parallel), at most the machine's: what the cost objective pays for."""
    return float(min(cores, (threads or cores) * parallel))
