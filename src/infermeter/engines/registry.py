"""Named engines: the plugins of group infermeter.engines (infermeter/plugins.py). Importing this module
imports each engine's module, never its runtime."""

from __future__ import annotations

from infermeter import plugins
from infermeter.engines.base import Engine
from infermeter.errors import ConfigError

ENGINES: dict[str, type[Engine]] = plugins.discover("engines")
REFERENCE_ENGINE = "pytorch"


def is_test_double(cls: type[Engine]) -> bool:
    return bool(getattr(cls, "test_double", False))


def engine_class(name: str) -> type[Engine]:
    cls = ENGINES.get(name)
    if cls is None:
        real = sorted(n for n, c in ENGINES.items() if not is_test_double(c))
        raise ConfigError(f"unknown engine {name!r}", f"choose one of: {', '.join(real)} (see `infermeter engines`)")
    return cls
