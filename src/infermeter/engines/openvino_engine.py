"""OpenVINO on the CPU: latency or throughput hint, streams, a pool of infer requests for concurrency."""

from __future__ import annotations

import queue
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from infermeter.engines.base import CONCURRENT, LOAD_CACHE, Engine, EngineSettings
from infermeter.errors import UnsupportedError
from infermeter.workloads.base import OPENVINO, TensorSpec

if TYPE_CHECKING:
    from infermeter.search_space import Suggest


def _type_name(value: Any) -> str:
    """openvino.Type prints as <Type: 'float32'>; record its short name (f32, bf16...)."""
    to_string = getattr(value, "to_string", None)
    return to_string() if callable(to_string) else str(value)


class OpenVinoSettings(EngineSettings):
    device: str = "CPU"
    hint: Literal["latency", "throughput", "none"] = "latency"
    streams: int | None = Field(None, ge=1, description="NUM_STREAMS (None: what the hint chooses)")
    infer_requests: int | None = Field(None, ge=1, description="infer requests in the pool (None: the optimal number)")
    # f32 by default: on CPUs with bf16 support OpenVINO would otherwise lower precision silently.
    inference_precision: Literal["f32", "bf16", "f16", "auto"] = "f32"
    model_cache: bool = Field(True, description="CACHE_DIR for compiled blobs (cached load time)")


class OpenVino(Engine):
    name = "openvino"
    description = "OpenVINO Runtime (IR converted from ONNX), synchronous infer requests from a pool"
    artifact_format = OPENVINO
    requires = ("openvino",)
    packages = ("openvino",)
    install_hint = "pip install 'infermeter[openvino]'"
    Settings = OpenVinoSettings

    def __init__(self, settings: EngineSettings | None = None) -> None:
        super().__init__(settings)
        self.compiled: Any = None
        self._pool: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._info: dict[str, Any] = {}

    @classmethod
    def placement(cls, device: str, precision: str) -> dict[str, Any]:
        """On the CPU, its inference precision (bf16, f16); OpenVINO's GPU device is an Intel GPU, and
        NVIDIA's CUDA devices are not among its devices."""
        if device != "cpu":
            raise UnsupportedError(f"the openvino engine cannot run on {device}: OpenVINO's GPU plugin drives Intel GPUs, "
                                   "not NVIDIA's CUDA devices", "device: cpu, or runtime: pytorch / onnxruntime on the GPU")
        return {} if precision == "fp32" else {"inference_precision": {"fp16": "f16", "bf16": "bf16"}[precision]}

    @classmethod
    def tuning_space(cls, suggest: Suggest, cores: int) -> dict[str, Any]:
        """Threads, the performance hint or an explicit number of streams, and bf16 inference where the CPU
        computes it natively (AVX512-BF16, AMX). A bf16 trial whose answers leave the parity tolerance is
        refused by the tuner, not ranked."""
        from infermeter.search_space import cpu_has_bf16

        out = super().tuning_space(suggest, cores)
        out["hint"] = suggest.choice("hint", ["latency", "throughput", "none"])
        if out["hint"] == "none":
            out["streams"] = suggest.integer("streams", 1, cores)
        if cpu_has_bf16():
            out["inference_precision"] = suggest.choice("inference_precision", ["f32", "bf16"])
        return out

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({CONCURRENT, LOAD_CACHE} if self.settings.model_cache else {CONCURRENT})

    def unavailable(self) -> str | None:
        """A plain device (CPU, GPU, GPU.1, NPU) must be one OpenVINO finds here; AUTO, MULTI and HETERO
        choose among those themselves."""
        device = self.settings.device.upper()
        if device == "CPU" or device.startswith(("AUTO", "MULTI", "HETERO")):
            return None
        import openvino as ov

        found = ov.Core().available_devices
        if device in found or ("." not in device and device in {d.split(".")[0] for d in found}):  # GPU: any of GPU.0, GPU.1
            return None
        return (f"OpenVINO device {self.settings.device} asked for, but OpenVINO finds only {', '.join(found) or 'none'} here "
                "(its GPU is an Intel GPU; NVIDIA GPUs are for the pytorch, onnxruntime and tensorrt engines)")

    def load(self, artifact: Path, inputs: list[TensorSpec], cache_dir: Path | None = None) -> None:
        import openvino as ov

        if (why := self.unavailable()) is not None:
            raise UnsupportedError(why, "device: CPU")
        s = self.settings
        config: dict[str, Any] = {}
        if s.hint != "none":
            config["PERFORMANCE_HINT"] = s.hint.upper()
        if s.streams:
            config["NUM_STREAMS"] = str(s.streams)
        if s.threads:
            config["INFERENCE_NUM_THREADS"] = s.threads
        if s.inference_precision != "auto":
            config["INFERENCE_PRECISION_HINT"] = s.inference_precision
        if s.model_cache and cache_dir is not None:
            config["CACHE_DIR"] = str(cache_dir)
        core = ov.Core()
        self.compiled = core.compile_model(str(artifact), s.device, config)
        self.input_names = [i.get_any_name() for i in self.compiled.inputs]
        optimal = int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        n = s.infer_requests or optimal
        self._pool = queue.SimpleQueue()
        for _ in range(n):
            self._pool.put(self.compiled.create_infer_request())
        self._info = {
            "device": s.device,
            "streams": int(self.compiled.get_property("NUM_STREAMS")),
            "threads": int(self.compiled.get_property("INFERENCE_NUM_THREADS")),
            "optimal_infer_requests": optimal,
            "infer_requests": n,
            "inference_precision": _type_name(self.compiled.get_property("INFERENCE_PRECISION_HINT")),
        }

    def compute_precision(self) -> str:
        """What the compiled model reports (with "auto", OpenVINO picks bf16 where the CPU has it)."""
        return {"bf16": "bf16", "f16": "fp16"}.get(str(self._info.get("inference_precision")), "fp32")

    def predict(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        request = self._pool.get()
        try:
            return request.infer(batch, share_inputs=True)[0]
        finally:
            self._pool.put(request)

    def close(self) -> None:
        self._pool = queue.SimpleQueue()
        self.compiled = None

    def runtime_info(self) -> dict[str, Any]:
        return dict(self._info)
