"""Named server adapters: the plugins of group infermeter.servers (infermeter/plugins.py). Importing this
module starts nothing and imports no framework."""

from __future__ import annotations

from infermeter import plugins
from infermeter.errors import ConfigError
from infermeter.servers.base import ServerAdapter

SERVERS: dict[str, type[ServerAdapter]] = plugins.discover("servers")


def adapter_for(name: str, settings: dict | None = None) -> ServerAdapter:
    """The adapter `name` with its settings validated (as a suite's servers entry gives them)."""
    cls = server_class(name)
    return cls(cls.Settings(**(settings or {})))


def server_class(name: str) -> type[ServerAdapter]:
    cls = SERVERS.get(name)
    if cls is None:
        raise ConfigError(f"unknown server {name!r}", f"choose one of: {', '.join(sorted(SERVERS))} (see `infermeter servers`)")
    return cls
