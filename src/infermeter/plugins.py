"""Engines, serving frameworks and workloads are plugins, found through Python entry points; infermeter's
own are registered the same way (pyproject.toml), so `pip install infermeter-myengine` adds an engine
without touching infermeter.

A plugin package declares, in its pyproject.toml:

    [project.entry-points."infermeter.engines"]      # or infermeter.servers / infermeter.workloads
    myengine = "infermeter_myengine:MyEngine"

The class is infermeter's interface for that kind (engines.base.Engine, servers.base.ServerAdapter,
workloads.base.Workload), and its `name` is the entry point's name. A plugin that cannot be loaded, names
itself differently, or takes a name already taken is left out with a note on stderr; the rest still work.

Plugins that are not packaged (and infermeter's own test doubles, infermeter.testing) are named in
INFERMETER_PLUGIN_MODULES, a comma-separated list of modules each holding
PLUGINS = {"engines": [...], "servers": [...], "workloads": [...]}. The variable travels to every cell
worker and server infermeter starts, as the environment does.
"""

from __future__ import annotations

import importlib
import logging
import os
from importlib.metadata import entry_points
from typing import Any

from infermeter.errors import NotInstalledError

GROUPS = {"engines": "infermeter.engines", "servers": "infermeter.servers", "workloads": "infermeter.workloads"}
MODULES_VAR = "INFERMETER_PLUGIN_MODULES"

_log = logging.getLogger("infermeter.plugins")


class PluginsMissing(NotInstalledError):
    """infermeter's own entry points are not installed (a source tree on the path, never pip-installed)."""


def _add(found: dict[str, Any], name: str, cls: Any, origin: str, kind: str) -> None:
    if getattr(cls, "name", None) != name:
        _log.warning("%s plugin %s is left out: its class %r is named %r, not %r", kind, origin,
                     getattr(cls, "__qualname__", cls), getattr(cls, "name", None), name)
    elif name in found and found[name] is not cls:
        _log.warning("%s plugin %s is left out: the name %r is taken by %s.%s", kind, origin, name,
                     found[name].__module__, found[name].__qualname__)
    else:
        found[name] = cls


def discover(kind: str) -> dict[str, Any]:
    """Every plugin of `kind` ("engines", "servers", "workloads"): name -> class, infermeter's own first
    (by name: installers keep entry points sorted), then other packages', then INFERMETER_PLUGIN_MODULES'."""
    found: dict[str, Any] = {}
    eps = sorted(entry_points(group=GROUPS[kind]), key=lambda ep: (ep.dist is None or ep.dist.name != "infermeter", ep.name))
    if not any(ep.dist is not None and ep.dist.name == "infermeter" for ep in eps):
        raise PluginsMissing(f"infermeter's own {kind} are not registered: infermeter is not installed as a package "
                             "here (pip install -e . in the checkout)")
    for ep in eps:
        origin = f"{ep.name} = {ep.value}" + (f" (from {ep.dist.name})" if ep.dist is not None else "")
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            _log.warning("%s plugin %s is left out: importing it failed: %s: %s", kind, origin, type(exc).__name__, exc)
            continue
        _add(found, ep.name, cls, origin, kind)
    for module in filter(None, (m.strip() for m in os.environ.get(MODULES_VAR, "").split(","))):
        try:
            listed = importlib.import_module(module).PLUGINS.get(kind, [])
        except Exception as exc:
            _log.warning("plugin module %s (%s) is left out: %s: %s", module, MODULES_VAR, type(exc).__name__, exc)
            continue
        for cls in listed:
            _add(found, getattr(cls, "name", "?"), cls, f"{module}.{getattr(cls, '__qualname__', cls)}", kind)
    return found
