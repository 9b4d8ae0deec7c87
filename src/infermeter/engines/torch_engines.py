"""PyTorch engines: eager, TorchScript, and torch.compile (inductor)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from infermeter.engines.base import CONCURRENT, LOAD_CACHE, Engine, EngineSettings
from infermeter.workloads.base import TORCH, TORCHSCRIPT, TensorSpec

_TORCH_HINT = "pip install 'infermeter[torch]'  (torch==2.13.0, the CPU build)"


class _TorchEngine(Engine):
    requires = ("torch",)
    packages = ("torch", "transformers")
    install_hint = _TORCH_HINT
    base_capabilities = frozenset({CONCURRENT})

    def __init__(self, settings: EngineSettings | None = None) -> None:
        super().__init__(settings)
        self.module: Any = None

    def _set_threads(self) -> None:
        import torch

        if self.settings.threads:
            torch.set_num_threads(self.settings.threads)

    def predict(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.module(*[torch.from_numpy(batch[n]) for n in self.input_names])
        return out.numpy()

    def close(self) -> None:
        self.module = None

    def runtime_info(self) -> dict[str, Any]:
        import torch

        return {"threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads()}


class PyTorchEager(_TorchEngine):
    name = "pytorch"
    description = "PyTorch eager mode (the reference engine)"
    artifact_format = TORCH

    def load(self, artifact: Path, inputs: list[TensorSpec], cache_dir: Path | None = None) -> None:
        import torch

        self._set_threads()
        self.input_names = [s.name for s in inputs]
        self.module = torch.load(artifact, weights_only=False).eval()


class TorchScriptSettings(EngineSettings):
    optimize_for_inference: bool = Field(True, description="freeze and fold (torch.jit.optimize_for_inference)")


class TorchScript(_TorchEngine):
    name = "torchscript"
    description = "TorchScript (torch.jit.trace), frozen and optimised for inference"
    artifact_format = TORCHSCRIPT
    Settings = TorchScriptSettings

    def load(self, artifact: Path, inputs: list[TensorSpec], cache_dir: Path | None = None) -> None:
        import torch

        self._set_threads()
        self.input_names = [s.name for s in inputs]
        module = torch.jit.load(str(artifact)).eval()
        if self.settings.optimize_for_inference:
            module = torch.jit.optimize_for_inference(module)
        self.module = module


class TorchCompileSettings(EngineSettings):
    mode: Literal["default", "reduce-overhead", "max-autotune-no-cudagraphs"] = "default"
    dynamic: bool = Field(False, description="compile for dynamic shapes")
    # Inductor's freezing folds weights into the graph (conv + BN, prepacked weights). Measured here on
    # ResNet-50 b1: eager 60 ms, compiled 84 ms without freezing, 40 ms with it (and 8 s to compile, not 24).
    freezing: bool = Field(True, description="torch._inductor.config.freezing (inference only)")


class TorchCompile(_TorchEngine):
    name = "torch-compile"
    description = "torch.compile with the inductor backend (compiles C++ with the system compiler)"
    artifact_format = TORCH
    Settings = TorchCompileSettings
    base_capabilities = frozenset({CONCURRENT, LOAD_CACHE})
    # With freezing, ~300 MB of frozen constants (ResNet-50) stay referenced after close() and every
    # cache reset tried; harmless here because each cell runs in its own process.
    close_frees_memory = False

    def load(self, artifact: Path, inputs: list[TensorSpec], cache_dir: Path | None = None) -> None:
        if cache_dir is not None:
            # inductor reads this when it first needs its cache; compiled kernels and FX graphs land here.
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache_dir)
        import torch

        self._set_threads()
        self.input_names = [s.name for s in inputs]
        torch._dynamo.reset()  # a second load must not reuse the first one's in-memory compiled code
        torch._inductor.config.freezing = self.settings.freezing
        module = torch.load(artifact, weights_only=False).eval()
        self.module = torch.compile(module, mode=self.settings.mode, dynamic=self.settings.dynamic)

    def close(self) -> None:
        import torch

        self.module = None
        torch._dynamo.reset()  # drop compiled graphs, so a later load compiles afresh
