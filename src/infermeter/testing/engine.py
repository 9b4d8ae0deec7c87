"""A test double for the harness: sleeps a set time per batch and returns deterministic outputs.

Never reported as a real engine: its name says what it is, and `infermeter engines` lists it apart.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from infermeter.engines.base import CONCURRENT, LOAD_CACHE, Engine, EngineSettings
from infermeter.workloads.base import TensorSpec

FAKE_FORMAT = "fake"


class FakeSettings(EngineSettings):
    service_ms: float = Field(1.0, ge=0, description="time one batch takes (time.sleep: releases the GIL)")
    per_sample_ms: float = Field(0.0, ge=0)
    load_ms: float = Field(0.0, ge=0)
    noise: float = Field(0.0, ge=0, description="added to outputs, to test parity checks")
    fail_on_load: bool = False
    settle_calls: float = Field(0.0, ge=0, description="a warm-up transient: call n takes (1 + 3 exp(-n / settle_calls)) x its time")
    fail_after_calls: int = Field(0, ge=0, description="predict raises once it has been called this many times since load (0: never)")
    wrong_shape: bool = Field(False, description="return one output column too many, to test parity's shape check")
    precision: Literal["fp32", "bf16"] = Field("fp32", description="the compute precision it reports (with noise: a reduced "
                                               "precision's error), to test how parity judges it")
    child_pid_file: str = Field("", description="start a process that outlives the engine (as inductor's compile workers "
                                "do) and write its pid here, to test that the runner stops it")


class FakeEngine(Engine):
    name = "fake"
    description = "test double: sleeps service_ms per batch (not a real engine)"
    artifact_format = FAKE_FORMAT
    requires = ()
    packages = ()
    install_hint = ""
    Settings = FakeSettings
    base_capabilities = frozenset({CONCURRENT, LOAD_CACHE})
    test_double = True

    def load(self, artifact: Path, inputs: list[TensorSpec], cache_dir: Path | None = None) -> None:
        if self.settings.fail_on_load:
            raise RuntimeError("fake engine told to fail on load")
        time.sleep(self.settings.load_ms / 1000)
        if self.settings.child_pid_file:
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            Path(self.settings.child_pid_file).write_text(str(child.pid))
        self.input_names = [s.name for s in inputs]
        self._weights = np.load(artifact)
        self._calls = 0

    def compute_precision(self) -> str:
        return self.settings.precision

    def predict(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        s = self.settings
        if s.fail_after_calls and self._calls >= s.fail_after_calls:
            raise RuntimeError(f"fake engine told to fail after {s.fail_after_calls} calls")
        x = batch[self.input_names[0]]
        slow = 1 + 3 * math.exp(-self._calls / s.settle_calls) if s.settle_calls else 1.0
        self._calls += 1
        time.sleep(slow * (s.service_ms + s.per_sample_ms * len(x)) / 1000)
        out = x.reshape(len(x), -1) @ self._weights + s.noise
        return np.concatenate([out, out[:, :1]], axis=1) if s.wrong_shape else out
