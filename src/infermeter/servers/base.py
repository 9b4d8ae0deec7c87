"""The server seam: an adapter packages a workload the way its framework expects, starts the real
framework (in its own environment) on 127.0.0.1 and free ports, and says where to send requests."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from infermeter.engines.torch_device import Device
from infermeter.errors import UnsupportedError
from infermeter.export.artifacts import Exporter
from infermeter.protocols.grpc_client import GrpcTarget
from infermeter.protocols.http import HttpTarget
from infermeter.protocols.v2 import V2Endpoint
from infermeter.servers.common.process import ServerProcess
from infermeter.servers.common.serving_model import ServingConfig, json_bytes_encoding
from infermeter.workloads.base import Workload

if TYPE_CHECKING:
    from infermeter.search_space import Suggest


FEATURES = ("dynamic batching", "model versions", "metrics endpoint", "gRPC", "V2 protocol", "custom handlers")
# When each adapter's `licence` (its package's metadata on PyPI at the pinned version), `maintenance` (the
# project's state, and the newest release on PyPI then) and `released` were last checked: they change, say when.
FRAMEWORK_FACTS_CHECKED = "2026-12-07"


class ServerSettings(BaseModel):
    """Settings every adapter understands; adapters add their own. Unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")
    workers: int = Field(1, ge=1, description="model workers / instances serving in parallel")
    threads: int | None = Field(1, ge=1, description="intra-op threads per worker (OMP_NUM_THREADS); None: runtime default")
    max_batch_size: int = Field(1, ge=1, description="server-side batching: largest batch (1: off)")
    max_batch_delay_ms: float = Field(5.0, ge=0, description="server-side batching: longest wait to fill a batch")
    ready_timeout_s: float = Field(300.0, gt=0)
    device: Device = Field("cpu", description="where the model runs: cpu, cuda (cuda:0) or cuda:N; the server sees that GPU "
                        "alone (CUDA_VISIBLE_DEVICES), and none on the CPU")
    precision: Literal["fp32", "fp16", "bf16"] = Field("fp32", description="the arithmetic of the engine inside, where it has the setting")


class ServingModelSettings(ServerSettings):
    """Settings of servers that run infermeter's ServingModel inside the framework."""

    runtime: str | None = Field(None, description="engine run inside the server (pytorch, onnxruntime, sklearn, openvino...); "
                                "default: the workload's reference engine")

    @field_validator("runtime")
    @classmethod
    def _known_engine(cls, v: str | None) -> str | None:
        if v is not None:
            from infermeter.engines.registry import ENGINES, is_test_double

            if v not in ENGINES:
                real = sorted(n for n, c in ENGINES.items() if not is_test_double(c))
                raise ValueError(f"unknown runtime {v!r}; choose one of: {', '.join(real)}")
        return v


@dataclass
class Deployment:
    """A started server: its process, where to send the workload's requests, and what it is."""

    process: ServerProcess
    target: HttpTarget | GrpcTarget
    info: dict[str, Any] = field(default_factory=dict)
    metrics_url: str | None = None
    v2: V2Endpoint | None = None  # set by servers speaking the Open Inference Protocol
    # Sends one payload and returns the server's decoded answer (to check answers before load).
    answer: Callable[[bytes], Any] | None = None


class ServerAdapter(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    requirements: ClassVar[list[str]]  # pip pins of its environment
    pip_args: ClassVar[list[str]] = []  # extra pip install arguments (e.g. --no-deps)
    # What the framework documents at the pinned version (FEATURES); shown in `infermeter scorecard`.
    features: ClassVar[frozenset[str]] = frozenset()
    licence: ClassVar[str] = "not stated"  # SPDX, as the framework's package declares it
    maintenance: ClassVar[str] = "not stated"  # as of FRAMEWORK_FACTS_CHECKED, with its evidence
    released: ClassVar[str] = "not stated"  # the pinned version's release date on PyPI (its first file's upload)
    artifact_format: ClassVar[str]
    protocol: ClassVar[str]
    Settings: ClassVar[type[ServerSettings]] = ServerSettings
    # How the framework itself puts its workers on the server's GPU (recorded with every window on one).
    gpu_placement: ClassVar[str] = "the framework does not place workers on devices: the engine inside each runs on the server's GPU"

    def __init__(self, settings: ServerSettings | None = None) -> None:
        self.settings = settings if settings is not None else self.Settings()

    def runtime(self, workload: str) -> str | None:
        """The engine that runs `workload` inside this server (None: the framework runs it itself)."""
        if not isinstance(self.settings, ServingModelSettings):
            return None
        from infermeter.workloads.registry import get_workload

        return self.settings.runtime or get_workload(workload).reference_engine

    def needed_format(self, workload: str) -> str:
        """The artifact format this deployment of `workload` needs exported (may depend on settings)."""
        runtime = self.runtime(workload)
        if runtime is None:
            return self.artifact_format
        from infermeter.engines.registry import engine_class

        return engine_class(runtime).artifact_format

    def serving_config(self, workload: Workload, exporter: Exporter, directory: Path, relative: bool = False) -> ServingConfig:
        """Export the artifact the server's ServingModel runs, and write its serving.json into `directory`."""
        runtime = self.runtime(workload.name) or "pytorch"
        artifact = exporter.artifact(self.needed_format(workload.name))
        config = ServingConfig(workload.name, workload.seed, runtime, artifact.path.name if relative else str(artifact.path),
                               self.settings.threads or 0, json_bytes_encoding(workload.payloads()),
                               self._engine_placement(runtime), self.visible_devices())
        config.write(directory)
        return config

    def visible_devices(self) -> str:
        """CUDA_VISIBLE_DEVICES for the server: its one GPU ("N" for cuda:N, cuda:0 to the server), or none
        on the CPU, so that a CPU measurement cannot use a GPU by a framework's or an engine's default."""
        return "" if self.settings.device == "cpu" else self.settings.device.split(":")[1]

    def inside_device(self) -> str:
        """The server's device as its own processes name it: cuda:0 is the one GPU they see."""
        return "cpu" if self.settings.device == "cpu" else "cuda:0"

    def _engine_placement(self, runtime: str) -> dict[str, Any]:
        from infermeter.engines.registry import engine_class

        return engine_class(runtime).placement(self.inside_device(), self.settings.precision)

    def cannot_place(self, workload: str) -> str | None:
        """Why the device and precision settings cannot be served for `workload` (None: they can): the engine
        inside has no such setting or cannot find the GPU here (asked as this machine numbers its GPUs: the
        server's cuda:0 is cuda:N here), or the framework runs the model itself and cannot (framework_placement)."""
        from infermeter.engines.registry import engine_class

        s = self.settings
        if s.device == "cpu" and s.precision == "fp32":
            return None
        runtime = self.runtime(workload)
        if runtime is None:
            return self.framework_placement()
        cls = engine_class(runtime)
        try:
            here = cls(cls.Settings(**cls.placement(s.device, s.precision)))
            self._engine_placement(runtime)
        except UnsupportedError as exc:
            return f"{exc.message} (runtime {runtime}; fix: {exc.hint})" if exc.hint else f"{exc.message} (runtime {runtime})"
        # The server's environment shares this one's packages (servers/common/envs.py): what the engine
        # finds here, it finds there. Not installed here: the server's own environment decides, at load.
        why = None if cls.missing() else here.unavailable()
        return f"{why} (runtime {runtime})" if why else None

    def framework_placement(self) -> str | None:
        """For a framework that runs the model itself (no infermeter engine inside): why it cannot run on
        the settings' device and precision (None: it can)."""
        return f"{self.name} runs the model itself and has no device or precision setting in infermeter"

    def placement(self) -> dict[str, Any]:
        """What every window records of where the model ran."""
        s = self.settings
        out: dict[str, Any] = {"device": s.device, "precision": s.precision}
        if s.device != "cpu":
            out["gpu_placement"] = self.gpu_placement
        return out

    @classmethod
    def tuning_space(cls, suggest: Suggest, cores: int) -> dict[str, Any]:
        """The settings `infermeter tune` may try, one trial's worth (search_space.py): workers, threads per
        worker (workers x threads at most the cores), and, where the framework batches requests, the
        largest batch and how long a batch may wait to fill."""
        workers = suggest.integer("workers", 1, cores)
        out: dict[str, Any] = {"workers": workers, "threads": suggest.integer("threads", 1, max(1, cores // workers))}
        if "dynamic batching" in cls.features:
            out["max_batch_size"] = suggest.choice("max_batch_size", [1, 2, 4, 8])
            if out["max_batch_size"] > 1:
                out["max_batch_delay_ms"] = suggest.choice("max_batch_delay_ms", [1.0, 2.0, 5.0, 10.0])
        return out

    def missing(self) -> str | None:
        """Why this adapter cannot run here (None: it can)."""
        from infermeter.servers.common import envs

        why = envs.why_not_ready(self.name, self.requirements + self.pip_args)
        return f"environment {why}: infermeter servers install {self.name}" if why else None

    def require_runnable(self) -> None:
        """Raise, saying how to fix it, when this adapter cannot run here (see missing())."""
        from infermeter.errors import NotInstalledError

        why = self.missing()
        if why:
            raise NotInstalledError(f"{self.name} cannot run here: {why}", f"infermeter servers install {self.name}")

    @abstractmethod
    def deploy(self, workload: Workload, exporter: Exporter, workdir: Path) -> Deployment:
        """Package `workload` into `workdir` and return the (not yet started) server."""

    def on_ready(self, deployment: Deployment) -> None:
        """Called once the server is ready (e.g. to read an auth key it wrote at start)."""

    def server_metrics(self, deployment: Deployment) -> dict[str, float]:
        """Cumulative server-side counters (queue and inference time) where the framework exposes them."""
        return {}

    def server_env(self, bin_on_path: bool = False, **extra: str) -> dict[str, str]:
        """The server's environment: ours, OMP_NUM_THREADS from the settings, optionally the framework
        environment's bin directory first on PATH (some frameworks start helpers by name), and `extra`."""
        import os

        from infermeter.servers.common import envs

        env = dict(os.environ)
        if self.settings.threads:
            env["OMP_NUM_THREADS"] = str(self.settings.threads)
        env["CUDA_VISIBLE_DEVICES"] = self.visible_devices()
        if bin_on_path:
            env["PATH"] = f"{envs.env_bin(self.name)}{os.pathsep}{env.get('PATH', '')}"
        return env | extra

    def version(self) -> str | None:
        from infermeter.servers.common import envs

        info = envs.env_info(self.name)
        return ", ".join(info.get("requirements", [])) or None
