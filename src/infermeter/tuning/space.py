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
