"""TensorFlow on a SavedModel exported from the Keras definition, with or without XLA (jit_compile), on the
CPU or on one GPU. TensorFlow puts ops on a GPU by itself wherever it sees one: on the CPU setting it is
shown none, so a CPU figure is the CPU's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from infermeter.engines.torch_device import Device
from infermeter.engines.base import CONCURRENT, GPU, Engine, EngineSettings
from infermeter.errors import UnsupportedError
from infermeter.workloads.base import SAVEDMODEL, TensorSpec


class TensorFlowSettings(EngineSettings):
    xla: bool = Field(False, description="compile the serving function with XLA (tf.function(jit_compile=True))")
    inter_op_threads: int | None = Field(None, ge=1)
    device: Device = Field("cpu", description="cpu, cuda (cuda:0) or cuda:N: TensorFlow's /GPU:N")


class TensorFlow(Engine):
    name = "tensorflow"
    description = "TensorFlow SavedModel called through tf.function; xla=true compiles it with XLA"
    artifact_format = SAVEDMODEL
    requires = ("tensorflow",)
    packages = ("tensorflow", "tensorflow-cpu", "keras")
    install_hint = "pip install 'infermeter[tensorflow]'"
    Settings = TensorFlowSettings
    base_capabilities = frozenset({CONCURRENT})

    def __init__(self, settings: EngineSettings | None = None) -> None:
        super().__init__(settings)
        self._fn: Any = None
        self._loaded: Any = None

    @property
    def capabilities(self) -> frozenset[str]:
        return self.base_capabilities | ({GPU} if self.settings.device != "cpu" else set())

    @classmethod
    def placement(cls, device: str, precision: str) -> dict[str, Any]:
        if precision != "fp32":
            raise UnsupportedError(f"the tensorflow engine runs the SavedModel as exported (fp32), not {precision}", "precision: fp32")
        return {} if device == "cpu" else {"device": device}

    def _tf_device(self) -> str:
        return "/CPU:0" if self.settings.device == "cpu" else f"/GPU:{self.settings.device.split(':')[1]}"

    def unavailable(self) -> str | None:
        if self.settings.device == "cpu":
            return None
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        index = int(self.settings.device.split(":")[1])
        if index >= len(gpus):
            return (f"device {self.settings.device} asked for, but this TensorFlow ({tf.__version__}) sees {len(gpus)} GPU(s) "
                    "(a CUDA build and a visible NVIDIA GPU are needed: pip install 'tensorflow[and-cuda]')")
        return None

    def load(self, artifact: Path, inputs: list[TensorSpec], cache_dir: Path | None = None) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        if (why := self.unavailable()) is not None:
            raise UnsupportedError(why, "device: cpu")
        import tensorflow as tf

        s = self.settings
        if s.device == "cpu":
            try:  # before the runtime starts: no GPU to put ops on
                tf.config.set_visible_devices([], "GPU")
            except RuntimeError:
                pass
        try:  # threading can only be set before TensorFlow initialises its runtime
            if s.threads:
                tf.config.threading.set_intra_op_parallelism_threads(s.threads)
            if s.inter_op_threads:
                tf.config.threading.set_inter_op_parallelism_threads(s.inter_op_threads)
        except RuntimeError:
            pass
        self.input_names = [spec.name for spec in inputs]
        self._tf = tf
        self._loaded = tf.saved_model.load(str(artifact))
        serve = self._loaded.serve
        # A plain call of a restored function is already graph mode; XLA needs a jit-compiled wrapper.
        self._fn = tf.function(serve, jit_compile=True) if s.xla else serve

    def predict(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        with self._tf.device(self._tf_device()):  # .numpy() copies the answer to the host: the GPU's work is done by then
            return self._fn(*[batch[n] for n in self.input_names]).numpy()

    def close(self) -> None:
        self._fn = None
        self._loaded = None

    def runtime_info(self) -> dict[str, Any]:
        import tensorflow as tf

        return {
            "xla": self.settings.xla,
            "device": self.settings.device,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        }
