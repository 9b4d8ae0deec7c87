"""The engine seam: load an artifact, predict a batch, close. One module per engine.

Engine modules import their runtime (torch, onnxruntime, openvino, tensorflow, tensorrt) inside methods,
so listing engines or validating a suite never pays for those imports.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from infermeter.errors import NotInstalledError, UnsupportedError
from infermeter.workloads.base import TensorSpec

if TYPE_CHECKING:
    from infermeter.search_space import Suggest

# Capabilities an engine may declare; the harness asks for these, it never branches on engine names.
CONCURRENT = "concurrent"  # predict() may be called from several threads at once
LOAD_CACHE = "load-cache"  # load() reuses a cache directory of compiled/optimised graphs
GPU = "gpu"  # runs on a GPU


class EngineSettings(BaseModel):
    """Settings every engine understands. Subclasses add their own; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")
    threads: int | None = Field(default=None, ge=1, description="intra-op threads (None: the runtime's default)")


class Engine(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    artifact_format: ClassVar[str]
    requires: ClassVar[tuple[str, ...]]  # import names
    packages: ClassVar[tuple[str, ...]]  # distribution names whose versions are recorded
    install_hint: ClassVar[str]
    Settings: ClassVar[type[EngineSettings]] = EngineSettings
    base_capabilities: ClassVar[frozenset[str]] = frozenset()
    # Whether close() gives the model's memory back to the process (checked by the contract tests).
    close_frees_memory: ClassVar[bool] = True

    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.settings = settings if settings is not None else self.Settings()
        self.input_names: list[str] = []

    @classmethod
    def missing(cls) -> list[str]:
        return [m for m in cls.requires if importlib.util.find_spec(m) is None]

    @classmethod
    def check_installed(cls) -> None:
        missing = cls.missing()
        if missing:
            raise NotInstalledError(f"engine {cls.name!r} needs {', '.join(missing)}, not installed here", cls.install_hint)

    @property
    def capabilities(self) -> frozenset[str]:
        return self.base_capabilities

    @classmethod
    def placement(cls, device: str, precision: str) -> dict[str, Any]:
        """This engine's own settings for running on `device` (cpu, cuda:N) in `precision` (fp32, fp16, bf16):
        what a server's engine is told where the server's settings name a device and a precision. Refused
        (UnsupportedError, saying why) where the engine has no such setting."""
        if device == "cpu" and precision == "fp32":
            return {}
        raise UnsupportedError(f"the {cls.name} engine has no setting for {precision} on {device}",
                               "device: cpu and precision: fp32, or a runtime that has (pytorch, torchscript, torch-compile)")

    def unavailable(self) -> str | None:
        """Why these settings cannot run on this machine (a GPU device without a GPU), None where they can:
        the cell is then skipped with the reason, before anything is exported or loaded."""
        return None

    @abstractmethod
    def load(self, artifact: Path, inputs: list[TensorSpec], cache_dir: Path | None = None) -> None:
        """Make the model ready to predict. `cache_dir` is given only to engines with LOAD_CACHE."""

    @abstractmethod
    def predict(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Run one batch; returns the first output as a numpy array."""

    def close(self) -> None:
        """Release the model (the next load starts from scratch)."""

    @classmethod
    def tuning_space(cls, suggest: Suggest, cores: int) -> dict[str, Any]:
        """The settings `infermeter tune` may try, one trial's worth (search_space.py): here the intra-op
        threads; engines with more knobs add theirs."""
        return {"threads": suggest.integer("threads", 1, cores)}

    def compute_precision(self) -> str:
        """The arithmetic the loaded model computes in: "fp32", or a reduced one ("bf16", "fp16"), whose
        answers are judged on their predictions, not held to the FP32 tolerance (export/parity.py)."""
        return "fp32"

    def runtime_info(self) -> dict[str, Any]:
        """Effective runtime settings worth recording (threads, providers, streams...)."""
        return {}

    @classmethod
    def versions(cls) -> dict[str, str]:
        from infermeter.collectors.machine import versions_of

        return versions_of(cls.packages)
