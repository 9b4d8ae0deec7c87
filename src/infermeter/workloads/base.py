"""The workload seam: a model definition, its sample inputs and how its outputs are compared.

A workload never measures anything. It builds the reference PyTorch module (and, where it has one, the
equivalent Keras model), prepares real inputs once, and says how two engines' outputs are compared.
Heavy imports (torch, transformers, keras) happen inside the methods that need them.
"""

from __future__ import annotations

import hashlib
import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

# Artifact formats a workload can be turned into (see infermeter.export).
TORCH = "torch"
TORCHSCRIPT = "torchscript"
ONNX = "onnx"
OPENVINO = "openvino"
SAVEDMODEL = "savedmodel"
SKLEARN = "sklearn"


def file_slug(name: str, limit: int = 60) -> str:
    """A workload name made safe for a file name (file: names hold slashes and question marks)."""
    return re.sub(r"[^A-Za-z0-9_.()+,-]+", "_", name)[-limit:]


@dataclass(frozen=True)
class TensorSpec:
    """One model input. `shape[0]` is the batch dimension (None: any batch size)."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str


@dataclass(frozen=True)
class Provenance:
    """How the weights and inputs were made; stored with every result so nobody mistakes them."""

    weights: str
    inputs: str
    notes: tuple[str, ...] = field(default_factory=tuple)


class Workload(ABC):
    """A model plus its sample inputs. Subclasses are registered in `infermeter.workloads.registry`."""

    name: ClassVar[str]
    task: ClassVar[str]
    description: ClassVar[str]
    # Import names this workload needs (checked before any heavy work, to say what to install).
    requires: ClassVar[tuple[str, ...]] = ("torch", "transformers")
    # Artifact formats this workload can be exported to.
    formats: ClassVar[frozenset[str]] = frozenset({TORCH, TORCHSCRIPT, ONNX, OPENVINO})
    # Packages (besides the format's usual exporters) whose versions change this workload's artifacts.
    export_packages: ClassVar[tuple[str, ...]] = ()
    # The engine whose outputs every other engine is compared with.
    reference_engine: ClassVar[str] = "pytorch"
    # Why its samples cannot be batched (samples of different shapes), or None: batch sizes above 1 and
    # server-side batching are then skipped with this reason rather than measured on padded inputs.
    unbatchable: ClassVar[str | None] = None

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._samples: list[dict[str, np.ndarray]] | None = None

    # --- what the model takes --------------------------------------------------------------------
    @abstractmethod
    def input_specs(self) -> list[TensorSpec]:
        """Inputs in the order the model's forward() takes them."""

    @abstractmethod
    def _load_samples(self) -> list[dict[str, np.ndarray]]:
        """Preprocessed single samples (no batch dimension), in a fixed order."""

    def samples(self) -> list[dict[str, np.ndarray]]:
        if self._samples is None:
            self._samples = self._load_samples()
        return self._samples

    def batch(self, batch_size: int, offset: int = 0) -> dict[str, np.ndarray]:
        """`batch_size` samples starting at `offset`, cycling through the sample set."""
        samples = self.samples()
        picked = [samples[(offset + i) % len(samples)] for i in range(batch_size)]
        return {spec.name: np.stack([s[spec.name] for s in picked]) for spec in self.input_specs()}

    def batches(self, batch_size: int, count: int = 4) -> list[dict[str, np.ndarray]]:
        """A few distinct batches to cycle through while measuring (real inputs, not one tensor reused)."""
        return [self.batch(batch_size, offset=i * batch_size) for i in range(count)]

    # --- the model ---------------------------------------------------------------------------------
    @abstractmethod
    def torch_module(self) -> Any:
        """The reference torch.nn.Module in eval mode; forward(*inputs) returns one tensor."""

    def export(self, fmt: str, out: Path) -> tuple[str, str] | None:
        """Write format `fmt` into `out` itself and return (file name, how), or None to let the exporter
        convert the torch module. Workloads that are not PyTorch models (scikit-learn) export here."""
        return None

    def keras_model(self, torch_module: Any | None = None) -> Any:
        """An equivalent Keras model taking the same (NCHW) inputs, or raise UnsupportedError."""
        from infermeter.errors import UnsupportedError

        raise UnsupportedError(f"workload {self.name!r} has no TensorFlow/Keras definition")

    # --- what goes over the wire to a server ---------------------------------------------------------
    payload_content_type: ClassVar[str] = "application/octet-stream"

    def payloads(self) -> list[bytes]:
        """What a client sends a server for each sample; the server decodes it with decode_payload, so
        every serving framework does the same pre-processing as part of the request."""
        from infermeter.errors import UnsupportedError

        raise UnsupportedError(f"workload {self.name!r} has no request payload format")

    def decode_payload(self, data: bytes) -> dict[str, np.ndarray]:
        """One sample's model inputs (no batch dimension) from one request body."""
        from infermeter.errors import UnsupportedError

        raise UnsupportedError(f"workload {self.name!r} has no request payload format")

    def postprocess(self, output: np.ndarray) -> Any:
        """The JSON-able answer for one sample's output row."""
        return output.tolist()

    # --- comparing outputs -------------------------------------------------------------------------
    def agreement(self, reference: np.ndarray, output: np.ndarray) -> float:
        """Fraction of predictions that agree (default: argmax over the last axis, i.e. top-1)."""
        return float(np.mean(np.argmax(reference, axis=-1) == np.argmax(output, axis=-1)))

    @abstractmethod
    def provenance(self) -> Provenance: ...

    # Bump when a workload's model definition changes, so cached artifacts are not reused.
    definition_version: ClassVar[int] = 1

    def config(self) -> dict[str, Any]:
        """Everything that changes the model or inputs; part of the artifact cache key."""
        return {"name": self.name, "seed": self.seed, "definition": self.definition_version}

    def inputs_digest(self) -> str:
        """Hash of the sample inputs: they feed BatchNorm calibration and the parity reference."""
        h = hashlib.sha256()
        for sample in self.samples():
            for name in sorted(sample):
                h.update(name.encode())
                h.update(np.ascontiguousarray(sample[name]).tobytes())
        return h.hexdigest()[:16]

    def record(self) -> dict[str, Any]:
        """What every result row says about the workload: name, task, config and provenance."""
        p = self.provenance()
        return {"name": self.name, "task": self.task, "config": self.config(),
                "provenance": {"weights": p.weights, "inputs": p.inputs, "notes": list(p.notes)}}

    def fingerprint(self) -> str:
        blob = json.dumps({**self.config(), "inputs": self.inputs_digest()}, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
