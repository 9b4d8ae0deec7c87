"""Named workloads: the plugins of group infermeter.workloads (infermeter/plugins.py). Importing this module
imports no ML package.

A workload name is a registered name (`resnet50`), an ensemble of them (`ensemble(resnet50,vgg19)`),
or a user's model file (`file:path/model.onnx`, see user_model).
"""

from __future__ import annotations

import importlib.util

from infermeter import plugins
from infermeter.errors import ConfigError, NotInstalledError
from infermeter.workloads import ensemble, user_model
from infermeter.workloads.base import Workload

WORKLOADS: dict[str, type[Workload]] = plugins.discover("workloads")


def is_test_double(cls: type[Workload]) -> bool:
    return bool(getattr(cls, "test_double", False))


def missing_requirements(cls: type[Workload]) -> list[str]:
    return [mod for mod in cls.requires if importlib.util.find_spec(mod) is None]


def _registered(name: str) -> type[Workload]:
    cls = WORKLOADS.get(name)
    if cls is None:
        real = sorted(n for n, c in WORKLOADS.items() if not is_test_double(c))
        raise ConfigError(
            f"unknown workload {name!r}",
            f"choose one of: {', '.join(real)}; or ensemble(a,b,...); or file:PATH for your own model",
        )
    return cls


def workload_formats(name: str) -> frozenset[str]:
    """The artifact formats `name` can be exported to; raises ConfigError for an unknown name."""
    members = ensemble.parse_members(name)
    if members is not None:
        return frozenset.intersection(*(workload_formats(m) for m in members))
    if user_model.is_user_model(name):
        return user_model.validate(name)
    return _registered(name).formats


def workload_unbatchable(name: str) -> str | None:
    """Why `name`'s samples cannot be batched (Workload.unbatchable), or None."""
    members = ensemble.parse_members(name)
    if members is not None:
        return next((why for m in members if (why := workload_unbatchable(m))), None)
    if user_model.is_user_model(name):
        return None
    return _registered(name).unbatchable


def get_workload(name: str, seed: int = 0) -> Workload:
    """The workload called `name`, ready to build; a clear error if unknown or not installable here."""
    members = ensemble.parse_members(name)
    if members is not None:
        return ensemble.Ensemble([get_workload(m, seed) for m in members])
    if user_model.is_user_model(name):
        return user_model.UserModel(name, seed=seed)
    cls = _registered(name)
    missing = missing_requirements(cls)
    if missing:
        raise NotInstalledError(
            f"workload {name!r} needs {', '.join(missing)}, not installed here",
            "pip install 'infermeter[engines]'",
        )
    return cls(seed=seed)
