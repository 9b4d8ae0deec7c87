"""scikit-learn in process: predict_proba of a pickled estimator (the reference for tabular workloads)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from infermeter.engines.base import CONCURRENT, Engine
from infermeter.workloads.base import SKLEARN, TensorSpec


class ScikitLearn(Engine):
    name = "sklearn"
    description = "scikit-learn predict_proba (tabular workloads; the reference for them)"
    artifact_format = SKLEARN
    requires = ("sklearn",)
    packages = ("scikit-learn",)
    install_hint = "pip install 'infermeter[tabular]'"
    base_capabilities = frozenset({CONCURRENT})

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self.model: Any = None

    def load(self, artifact: Path, inputs: list[TensorSpec], cache_dir: Path | None = None) -> None:
        from threadpoolctl import threadpool_limits

        if self.settings.threads:
            threadpool_limits(self.settings.threads)
        self.input_names = [s.name for s in inputs]
        # The artifact is one this run (or its cache) wrote itself, never a file from elsewhere.
        self.model = pickle.loads(artifact.read_bytes())

    def predict(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        return self.model.predict_proba(batch[self.input_names[0]]).astype(np.float32)

    def close(self) -> None:
        self.model = None
