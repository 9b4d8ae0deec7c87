"""Named server adapters. Importing this module starts nothing and imports no framework."""

from __future__ import annotations

from infermeter.errors import ConfigError
from infermeter.servers.base import ServerAdapter
from infermeter.servers.bentoml.adapter import BentoML
from infermeter.servers.kserve.adapter import KServe
from infermeter.servers.litserve.adapter import LitServe
from infermeter.servers.mlflow.adapter import MLflow
from infermeter.servers.mlserver.adapter import MLServer
from infermeter.servers.rayserve.adapter import RayServe
from infermeter.servers.tfserving.adapter import TfServing
from infermeter.servers.torchserve.adapter import TorchServe
from infermeter.servers.triton.adapter import Triton

SERVERS: dict[str, type[ServerAdapter]] = {s.name: s for s in (TorchServe, Triton, TfServing, KServe, MLServer, MLflow, BentoML, LitServe, RayServe)}


def adapter_for(name: str, settings: dict | None = None) -> ServerAdapter:
    """The adapter `name` with its settings validated (as a suite's servers entry gives them)."""
    cls = server_class(name)
    return cls(cls.Settings(**(settings or {})))


def server_class(name: str) -> type[ServerAdapter]:
    cls = SERVERS.get(name)
    if cls is None:
        raise ConfigError(f"unknown server {name!r}", f"choose one of: {', '.join(sorted(SERVERS))} (see `infermeter servers`)")
    return cls
