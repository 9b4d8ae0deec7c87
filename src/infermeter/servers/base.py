"""The server seam: an adapter packages a workload the way its framework expects, starts the real
framework (in its own environment) on 127.0.0.1 and free ports, and says where to send requests."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from infermeter.export.artifacts import Exporter
from infermeter.load.grpc_client import GrpcTarget
from infermeter.load.http import HttpTarget
from infermeter.servers.process import ServerProcess
from infermeter.workloads.base import Workload


class ServerSettings(BaseModel):
    """Settings every adapter understands; adapters add their own. Unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")
    workers: int = Field(1, ge=1, description="model workers / instances serving in parallel")
    threads: int | None = Field(1, ge=1, description="intra-op threads per worker (OMP_NUM_THREADS); None: runtime default")
    max_batch_size: int = Field(1, ge=1, description="server-side batching: largest batch (1: off)")
    max_batch_delay_ms: float = Field(5.0, ge=0, description="server-side batching: longest wait to fill a batch")
    ready_timeout_s: float = Field(300.0, gt=0)


@dataclass
class Deployment:
    """A started server: its process, where to send the workload's requests, and what it is."""

    process: ServerProcess
    target: HttpTarget | GrpcTarget
    info: dict[str, Any] = field(default_factory=dict)
    metrics_url: str | None = None


class ServerAdapter(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    requirements: ClassVar[list[str]]  # pip pins of its environment
    pip_args: ClassVar[list[str]] = []  # extra pip install arguments (e.g. --no-deps)
    artifact_format: ClassVar[str]
    protocol: ClassVar[str]
    Settings: ClassVar[type[ServerSettings]] = ServerSettings

    def __init__(self, settings: ServerSettings | None = None) -> None:
        self.settings = settings if settings is not None else self.Settings()

    @property
    def needed_format(self) -> str:
        """The artifact format this deployment needs exported (may depend on settings)."""
        return self.artifact_format

    def missing(self) -> str | None:
        """Why this adapter cannot run here (None: it can)."""
        from infermeter.servers import envs

        if not envs.is_installed(self.name, self.requirements + self.pip_args):
            return f"environment not installed: infermeter servers install {self.name}"
        return None

    @abstractmethod
    def deploy(self, workload: Workload, exporter: Exporter, workdir: Path) -> Deployment:
        """Package `workload` into `workdir` and return the (not yet started) server."""

    def on_ready(self, deployment: Deployment) -> None:
        """Called once the server is ready (e.g. to read an auth key it wrote at start)."""

    def server_metrics(self, deployment: Deployment) -> dict[str, float]:
        """Cumulative server-side counters (queue and inference time) where the framework exposes them."""
        return {}

    def version(self) -> str | None:
        from infermeter.servers import envs

        info = envs.env_info(self.name)
        return ", ".join(info.get("requirements", [])) or None
