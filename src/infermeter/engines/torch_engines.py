"""PyTorch engines: eager, TorchScript, and torch.compile (inductor), each on a device (cpu, cuda, cuda:N)
and in a precision (fp32, or fp16 / bf16 by autocast or by converted weights): engines/torch_device.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from infermeter.engines import torch_device
from infermeter.engines.base import CONCURRENT, GPU, LOAD_CACHE, Engine, EngineSettings
from infermeter.engines.torch_device import Cast, Precision
from infermeter.workloads.base import TORCH, TORCHSCRIPT, TensorSpec

_TORCH_HINT = "pip install 'infermeter[torch]'  (torch==2.13.0, the CPU build)"


class TorchSettings(EngineSettings):
    device: torch_device.Device = Field("cpu", description="cpu, cuda (cuda:0) or cuda:N")
    precision: Precision = Field("fp32", description="fp32, or fp16 / bf16 (answers then judged on their predictions)")
    cast: Cast = Field("autocast", description="how a reduced precision is applied: torch.autocast (matmuls and convolutions "
                       "in it, the rest in fp32) or the weights and floating inputs converted")


class _TorchEngine(Engine):
    requires = ("torch",)
    packages = ("torch", "transformers")
    install_hint = _TORCH_HINT
    base_capabilities = frozenset({CONCURRENT})
    Settings = TorchSettings

    def __init__(self, settings: EngineSettings | None = None) -> None:
        super().__init__(settings)
        self.module: Any = None
        self.layer = torch_device.cuda_layer()

    @property
    def capabilities(self) -> frozenset[str]:
        return self.base_capabilities | ({GPU} if self.settings.device != "cpu" else set())

    @classmethod
    def placement(cls, device: str, precision: str) -> dict[str, Any]:
        device = torch_device.parse_device(device)
        return {} if (device, precision) == ("cpu", "fp32") else {"device": device, "precision": precision}

    def unavailable(self) -> str | None:
        return torch_device.unavailable(self.settings.device, self.layer)

    def _prepare(self, inputs: list[TensorSpec]) -> None:
        """Before loading: the device checked, the threads set."""
        import torch

        torch_device.check_device(self.settings.device, self.layer)
        torch_device.exact_fp32(self.settings.device, self.settings.precision)
        if self.settings.threads:
            torch.set_num_threads(self.settings.threads)
        self.input_names = [s.name for s in inputs]

    def _placed(self, module: Any) -> Any:
        s = self.settings
        return torch_device.place_module(module, s.precision, s.cast, s.device, self.layer)

    def predict(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        s = self.settings
        with torch.inference_mode(), torch_device.autocast(s.precision, s.cast, s.device, self.layer):
            out = self.module(*[torch_device.place_input(torch.from_numpy(batch[n]), s.precision, s.cast, s.device, self.layer)
                                for n in self.input_names])
        if s.device != "cpu":
            self.layer.synchronize(s.device)  # the work, not its launch
        return out.float().cpu().numpy()  # bf16 has no numpy type; float() of an fp32 tensor is the tensor

    def compute_precision(self) -> str:
        return self.settings.precision

    def close(self) -> None:
        self.module = None

    def runtime_info(self) -> dict[str, Any]:
        import torch

        s = self.settings
        return {"threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
                "precision": s.precision if s.precision == "fp32" else f"{s.precision} ({s.cast})",
                **torch_device.device_info(s.device, self.layer)}


class PyTorchEager(_TorchEngine):
    name = "pytorch"
    description = "PyTorch eager mode (the reference engine)"
    artifact_format = TORCH

    def load(self, artifact: Path, inputs: list[TensorSpec], cache_dir: Path | None = None) -> None:
        import torch

        self._prepare(inputs)
        self.module = self._placed(torch.load(artifact, weights_only=False).eval())


class TorchScriptSettings(TorchSettings):
    optimize_for_inference: bool = Field(True, description="freeze and fold (torch.jit.optimize_for_inference)")


class TorchScript(_TorchEngine):
    name = "torchscript"
    description = "TorchScript (torch.jit.trace), frozen and optimised for inference"
    artifact_format = TORCHSCRIPT
    Settings = TorchScriptSettings

    def load(self, artifact: Path, inputs: list[TensorSpec], cache_dir: Path | None = None) -> None:
        import torch

        self._prepare(inputs)
        module = self._placed(torch.jit.load(str(artifact), map_location="cpu").eval())  # frozen below on its device
        if self.settings.optimize_for_inference:
            module = torch.jit.optimize_for_inference(module)
        self.module = module


class TorchCompileSettings(TorchSettings):
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

        self._prepare(inputs)
        torch._dynamo.reset()  # a second load must not reuse the first one's in-memory compiled code
        torch._inductor.config.freezing = self.settings.freezing
        module = self._placed(torch.load(artifact, weights_only=False).eval())
        self.module = torch.compile(module, mode=self.settings.mode, dynamic=self.settings.dynamic)

    def close(self) -> None:
        import torch

        self.module = None
        torch._dynamo.reset()  # drop compiled graphs, so a later load compiles afresh
