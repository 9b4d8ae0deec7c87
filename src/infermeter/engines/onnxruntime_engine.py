"""ONNX Runtime, with the CPU execution provider or, where present, CUDA / TensorRT providers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from infermeter.engines.base import CONCURRENT, GPU, LOAD_CACHE, Engine, EngineSettings
from infermeter.errors import UnsupportedError
from infermeter.workloads.base import ONNX, TensorSpec

if TYPE_CHECKING:
    from infermeter.search_space import Suggest

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}


class OnnxRuntimeSettings(EngineSettings):
    provider: Literal["cpu", "cuda", "tensorrt"] = "cpu"
    device_id: int = Field(0, ge=0, description="CUDA / TensorRT providers: the GPU (cuda:N)")
    graph_optimization: Literal["disable", "basic", "extended", "all"] = "all"
    execution_mode: Literal["sequential", "parallel"] = "sequential"
    inter_op_threads: int | None = Field(None, ge=1)
    fp16: bool = Field(False, description="TensorRT provider: build FP16 engines")
    engine_cache: bool = Field(True, description="TensorRT provider: cache built engines on disk")


class OnnxRuntime(Engine):
    name = "onnxruntime"
    description = "ONNX Runtime (CPU EP; CUDA and TensorRT EPs when installed with a GPU)"
    artifact_format = ONNX
    requires = ("onnxruntime",)
    packages = ("onnxruntime", "onnxruntime-gpu")
    install_hint = "pip install 'infermeter[onnx]'  (onnxruntime-gpu for the CUDA / TensorRT providers)"
    Settings = OnnxRuntimeSettings

    def __init__(self, settings: EngineSettings | None = None) -> None:
        super().__init__(settings)
        self.session: Any = None
        self._outputs: list[str] = []

    @classmethod
    def tuning_space(cls, suggest: Suggest, cores: int) -> dict[str, Any]:
        """Threads, the graph optimisation level and the execution mode (inter-op threads in parallel mode,
        which runs independent branches of the graph at once). CPU provider: the GPU ones are not tuned here."""
        out = super().tuning_space(suggest, cores)
        out["graph_optimization"] = suggest.choice("graph_optimization", ["basic", "extended", "all"])
        out["execution_mode"] = suggest.choice("execution_mode", ["sequential", "parallel"])
        if out["execution_mode"] == "parallel":
            out["inter_op_threads"] = suggest.integer("inter_op_threads", 1, cores)
        return out

    @property
    def capabilities(self) -> frozenset[str]:
        caps = {CONCURRENT}
        if self.settings.provider != "cpu":
            caps.add(GPU)
        if self.settings.provider == "tensorrt" and self.settings.engine_cache:
            caps.add(LOAD_CACHE)
        return frozenset(caps)

    @classmethod
    def placement(cls, device: str, precision: str) -> dict[str, Any]:
        """cuda:N in fp32 is the CUDA provider on GPU N. The exported graph is fp32: reduced precision is
        the TensorRT provider's (provider: tensorrt, fp16: true), which builds its own engines."""
        if precision != "fp32":
            raise UnsupportedError(f"the onnxruntime engine runs the exported fp32 graph; {precision} is not one of its settings on "
                                   f"{device}", "precision: fp32, or in process: engine onnxruntime with provider: tensorrt, fp16: true")
        if device == "cpu":
            return {}
        return {"provider": "cuda", "device_id": int(device.split(":")[1]) if ":" in device else 0}

    def unavailable(self) -> str | None:
        if self.settings.provider == "cpu":  # every build has it (and planning a suite then imports no runtime)
            return None
        import onnxruntime as ort

        wanted, available = PROVIDERS[self.settings.provider], ort.get_available_providers()
        return None if wanted in available else f"ONNX Runtime's {wanted} is not available here (this build has: {', '.join(available)})"

    def _providers(self, cache_dir: Path | None) -> list[Any]:
        s = self.settings
        wanted = PROVIDERS[s.provider]
        if (why := self.unavailable()) is not None:
            raise UnsupportedError(why, "on a machine with an NVIDIA GPU: pip install onnxruntime-gpu (and tensorrt for the TensorRT provider)")
        if s.provider == "tensorrt":
            opts: dict[str, Any] = {"device_id": s.device_id, "trt_fp16_enable": s.fp16}
            if s.engine_cache and cache_dir is not None:
                opts.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(cache_dir))
            return [(wanted, opts), ("CUDAExecutionProvider", {"device_id": s.device_id}), "CPUExecutionProvider"]
        if s.provider == "cuda":
            return [(wanted, {"device_id": s.device_id}), "CPUExecutionProvider"]
        return [wanted]

    def load(self, artifact: Path, inputs: list[TensorSpec], cache_dir: Path | None = None) -> None:
        import onnxruntime as ort

        s = self.settings
        opts = ort.SessionOptions()
        opts.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[s.graph_optimization]
        opts.execution_mode = (
            ort.ExecutionMode.ORT_PARALLEL if s.execution_mode == "parallel" else ort.ExecutionMode.ORT_SEQUENTIAL
        )
        if s.threads:
            opts.intra_op_num_threads = s.threads
        if s.inter_op_threads:
            opts.inter_op_num_threads = s.inter_op_threads
        self.session = ort.InferenceSession(str(artifact), sess_options=opts, providers=self._providers(cache_dir))
        self.input_names = [i.name for i in self.session.get_inputs()]
        self._outputs = [self.session.get_outputs()[0].name]

    def compute_precision(self) -> str:
        return "fp16" if self.settings.provider == "tensorrt" and self.settings.fp16 else "fp32"

    def predict(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(self._outputs, batch)[0]

    def close(self) -> None:
        self.session = None

    def runtime_info(self) -> dict[str, Any]:
        return {"providers": self.session.get_providers() if self.session else None}
