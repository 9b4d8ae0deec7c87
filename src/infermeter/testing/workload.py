"""A numpy-only workload for harness tests (pairs with the fake engine). Not a real model; registered only
through infermeter.testing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from infermeter.testing.engine import FAKE_FORMAT
from infermeter.workloads.base import Provenance, TensorSpec, Workload


class FakeTiny(Workload):
    name = "fake-tiny"
    task = "test-double"
    description = "test double: 16 inputs -> 4 outputs, a random matrix (not a real model)"
    requires = ()
    formats = frozenset({FAKE_FORMAT})
    reference_engine: ClassVar[str] = "fake"
    test_double = True
    payload_content_type: ClassVar[str] = "application/json"

    def input_specs(self) -> list[TensorSpec]:
        return [TensorSpec("x", (None, 16), "float32")]

    def _load_samples(self) -> list[dict[str, np.ndarray]]:
        rng = np.random.default_rng(self.seed)
        return [{"x": rng.standard_normal(16).astype(np.float32)} for _ in range(8)]

    def payloads(self) -> list[bytes]:
        """Each sample as a JSON list, for tests of the code that runs inside servers."""
        return [json.dumps(s["x"].tolist()).encode() for s in self.samples()]

    def decode_payload(self, data: bytes) -> dict[str, np.ndarray]:
        return {"x": np.asarray(json.loads(data), dtype=np.float32)}

    def weights(self) -> np.ndarray:
        return np.random.default_rng(self.seed + 1).standard_normal((16, 4)).astype(np.float32)

    def export(self, fmt: str, out: Path) -> tuple[str, str] | None:
        """Its only format: the weight matrix, for the fake engine."""
        if fmt != FAKE_FORMAT:
            return None
        np.save(out / "weights.npy", self.weights())
        return "weights.npy", "numpy.save"

    def torch_module(self) -> Any:
        raise NotImplementedError("fake-tiny has no torch module")

    def provenance(self) -> Provenance:
        return Provenance(weights="test double: seeded random matrix", inputs="seeded random vectors")
