"""TensorRT on an NVIDIA GPU: builds an engine from the ONNX artifact (FP32 or FP16, dynamic batch).

Written against the real TensorRT Python API (TensorRT 10, execute_async_v3) with torch CUDA tensors as
buffers. Without a GPU or without the tensorrt package it says so and does nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from infermeter.engines.base import GPU, LOAD_CACHE, Engine, EngineSettings
from infermeter.errors import UnsupportedError
from infermeter.workloads.base import ONNX, TensorSpec


class TensorRtSettings(EngineSettings):
    fp16: bool = False
    max_batch: int = Field(64, ge=1, description="largest batch of the dynamic-batch optimisation profile")
    workspace_mb: int = Field(2048, ge=64)


def gpu_status() -> str | None:
    """None when a CUDA GPU is usable, else why not."""
    try:
        import torch
    except ImportError:
        return "torch is not installed, so CUDA cannot be checked"
    if not torch.cuda.is_available():
        return "no NVIDIA GPU / CUDA device is visible (torch.cuda.is_available() is False)"
    return None


class TensorRt(Engine):
    name = "tensorrt"
    description = "NVIDIA TensorRT engine built from ONNX (GPU only)"
    artifact_format = ONNX
    requires = ("tensorrt",)
    packages = ("tensorrt",)
    install_hint = "on a machine with an NVIDIA GPU and CUDA: pip install tensorrt (and a CUDA build of torch)"
    Settings = TensorRtSettings
    base_capabilities = frozenset({GPU, LOAD_CACHE})

    def __init__(self, settings: EngineSettings | None = None) -> None:
        super().__init__(settings)
        self._engine: Any = None
        self._context: Any = None
        self._outputs: list[str] = []
        self._dtypes: dict[str, Any] = {}

    @classmethod
    def placement(cls, device: str, precision: str) -> dict[str, Any]:
        """GPU only, fp32 or fp16 engines, on the current CUDA device: in a server, the server's own GPU (it
        sees only that one, through CUDA_VISIBLE_DEVICES)."""
        if device == "cpu" or precision == "bf16":
            raise UnsupportedError(f"the tensorrt engine builds fp32 or fp16 engines on a CUDA device, not {precision} on {device}",
                                   "device: cuda:N, precision: fp32 or fp16")
        return {"fp16": precision == "fp16"}

    def unavailable(self) -> str | None:
        why = gpu_status()
        return f"TensorRT is not available here: {why}" if why else None

    def load(self, artifact: Path, inputs: list[TensorSpec], cache_dir: Path | None = None) -> None:
        if (why := self.unavailable()) is not None:
            raise UnsupportedError(why, self.install_hint)
        import tensorrt as trt
        import torch

        logger = trt.Logger(trt.Logger.WARNING)
        s = self.settings
        # A plan holds kernels chosen for one GPU by one TensorRT version: both are in its name, with what it was built for.
        gpu = torch.cuda.get_device_name().replace(" ", "_").replace("/", "_")
        name = f"{artifact.stem}-{'fp16' if s.fp16 else 'fp32'}-b{s.max_batch}-trt{trt.__version__}-{gpu}.plan"
        plan_path = cache_dir / name if cache_dir else None
        runtime = trt.Runtime(logger)
        self._engine = runtime.deserialize_cuda_engine(plan_path.read_bytes()) if plan_path is not None and plan_path.exists() else None
        if self._engine is None:  # none cached, or one this TensorRT cannot read: build it
            plan = self._build(trt, logger, artifact, inputs)
            if plan_path is not None:
                plan_path.write_bytes(plan)
            self._engine = runtime.deserialize_cuda_engine(plan)
        self._context = self._engine.create_execution_context()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        self._dtypes = {n: _torch_dtype(trt, self._engine.get_tensor_dtype(n)) for n in names}  # once, not per call
        self.input_names = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self._outputs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]

    def _build(self, trt: Any, logger: Any, artifact: Path, inputs: list[TensorSpec]) -> bytes:
        builder = trt.Builder(logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(artifact.read_bytes()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise UnsupportedError(f"TensorRT could not parse the ONNX model: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, self.settings.workspace_mb << 20)
        if self.settings.fp16:
            config.set_flag(trt.BuilderFlag.FP16)
        profile = builder.create_optimization_profile()
        for spec in inputs:
            rest = tuple(spec.shape[1:])
            if any(d is None for d in rest):  # an optimisation profile bounds every open dimension; only the batch is bounded here
                raise UnsupportedError(f"input {spec.name} has open dimensions beyond the batch {spec.shape}: the TensorRT engine "
                                       "builds a profile for the batch only", "a workload with fixed shapes (e.g. wav2vec2-base-50k, not -natural)")
            profile.set_shape(spec.name, (1, *rest), (1, *rest), (self.settings.max_batch, *rest))
        config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise UnsupportedError("TensorRT failed to build an engine for this model")
        return bytes(serialized)

    def compute_precision(self) -> str:
        return "fp16" if self.settings.fp16 else "fp32"

    def predict(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        stream = torch.cuda.current_stream()
        keep = []
        for name in self.input_names:
            t = torch.from_numpy(batch[name]).to("cuda", self._dtypes[name])
            keep.append(t)
            self._context.set_input_shape(name, tuple(t.shape))
            self._context.set_tensor_address(name, t.data_ptr())
        outs = []
        for name in self._outputs:
            shape = tuple(self._context.get_tensor_shape(name))
            # The network's outputs keep the ONNX graph's type (fp32) in an FP16 engine: FP16 is for the layers inside.
            out = torch.empty(shape, dtype=self._dtypes[name], device="cuda")
            self._context.set_tensor_address(name, out.data_ptr())
            outs.append(out)
        self._context.execute_async_v3(stream.cuda_stream)
        stream.synchronize()
        return outs[0].float().cpu().numpy()

    def close(self) -> None:
        self._context = None
        self._engine = None


def _torch_dtype(trt: Any, dtype: Any) -> Any:
    """The torch type of a TensorRT tensor type (TensorRT 10 takes int64 token ids as they are); names looked up,
    since older TensorRT versions lack some (int64, bfloat16)."""
    import torch

    for name, torch_type in (("float32", torch.float32), ("float16", torch.float16), ("bfloat16", torch.bfloat16),
                             ("int64", torch.int64), ("int32", torch.int32), ("int8", torch.int8), ("bool", torch.bool)):
        if getattr(trt, name, None) == dtype:
            return torch_type
    raise UnsupportedError(f"TensorRT tensor type {dtype} has no torch counterpart in infermeter's TensorRT engine")
