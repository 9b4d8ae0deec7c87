"""TensorFlow on a SavedModel exported from the Keras definition, with or without XLA (jit_compile)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from infermeter.engines.base import CONCURRENT, Engine, EngineSettings
from infermeter.workloads.base import SAVEDMODEL, TensorSpec


class TensorFlowSettings(EngineSettings):
    xla: bool = Field(False, description="compile the serving function with XLA (tf.function(jit_compile=True))")
    inter_op_threads: int | None = Field(None, ge=1)


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

    def load(self, artifact: Path, inputs: list[TensorSpec], cache_dir: Path | None = None) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        s = self.settings
        try:  # threading can only be set before TensorFlow initialises its runtime
            if s.threads:
                tf.config.threading.set_intra_op_parallelism_threads(s.threads)
            if s.inter_op_threads:
                tf.config.threading.set_inter_op_parallelism_threads(s.inter_op_threads)
        except RuntimeError:
            pass
        self.input_names = [spec.name for spec in inputs]
        self._loaded = tf.saved_model.load(str(artifact))
        serve = self._loaded.serve
        # A plain call of a restored function is already graph mode; XLA needs a jit-compiled wrapper.
        self._fn = tf.function(serve, jit_compile=True) if s.xla else serve

    def predict(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        return self._fn(*[batch[n] for n in self.input_names]).numpy()

    def close(self) -> None:
        self._fn = None
        self._loaded = None

    def runtime_info(self) -> dict[str, Any]:
        import tensorflow as tf

        return {
            "xla": self.settings.xla,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        }
