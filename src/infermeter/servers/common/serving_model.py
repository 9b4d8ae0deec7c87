"""What runs inside every serving framework: one workload's artifact on an in-process engine, answering
raw request payloads (a JPEG, a text, a JSON row) with the workload's own decode and post-processing, so
that every server does the same work per request. Adapters write a serving.json beside the framework's
entry point; the entry point builds a ServingModel from it.

Imported inside the framework's environment: nothing heavy at module level.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CONFIG_FILE = "serving.json"


@dataclass(frozen=True)
class ServingConfig:
    workload: str
    seed: int
    runtime: str  # an infermeter engine name: pytorch, onnxruntime, sklearn...
    artifact: str
    threads: int = 0
    bytes_encoding: str = "utf-8"  # how payloads travel inside JSON bodies: utf-8 text or base64
    # The engine's own settings for the server's device and precision (Engine.placement), and the GPUs the
    # server sees (CUDA_VISIBLE_DEVICES: "" on the CPU, "N" for cuda:N, which is then cuda:0 inside).
    engine: dict[str, Any] = field(default_factory=dict)
    visible_devices: str = ""

    def write(self, directory: Path) -> Path:
        path = directory / CONFIG_FILE
        path.write_text(json.dumps(asdict(self), indent=1))
        return path

    @classmethod
    def read(cls, path: str | Path) -> ServingConfig:
        path = Path(path)
        if path.is_dir():
            path = path / CONFIG_FILE
        data = json.loads(path.read_text())
        data["artifact"] = str(path.parent / data["artifact"])  # a relative artifact lies beside the config
        return cls(**data)


def json_bytes_encoding(payloads: list[bytes]) -> str:
    """utf-8 when every payload is text (JSON, plain text), else base64 (images, audio)."""
    try:
        for p in payloads:
            p.decode("utf-8")
    except UnicodeDecodeError:
        return "base64"
    return "utf-8"


class ServingModel:
    def __init__(self, config: ServingConfig) -> None:
        from infermeter.engines.registry import engine_class
        from infermeter.workloads.registry import get_workload

        self.config = config
        self.workload = get_workload(config.workload, config.seed)
        cls = engine_class(config.runtime)
        self.engine = cls(cls.Settings(threads=config.threads or None, **config.engine))
        self.names = [s.name for s in self.workload.input_specs()]
        self.engine.load(Path(config.artifact), self.workload.input_specs())

    @classmethod
    def from_file(cls, path: str | Path) -> ServingModel:
        return cls(ServingConfig.read(path))

    def payload(self, value: bytes | str) -> bytes:
        """One payload as it arrived: raw bytes (binary protocols) or a JSON string."""
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        return base64.b64decode(value) if self.config.bytes_encoding == "base64" else value.encode("utf-8")

    # The three stages of a request, apart so that the in-process reference (servers/reference.py) times
    # each of them on exactly the code every framework runs.
    def decode(self, payloads: list[bytes | str]) -> dict[str, Any]:
        """The model's input batch: every payload through the workload's decode_payload, stacked."""
        import numpy as np

        samples = [self.workload.decode_payload(self.payload(p)) for p in payloads]
        return {n: np.stack([s[n] for s in samples]) for n in self.names}

    def infer(self, batch: dict[str, Any]) -> Any:
        return self.engine.predict(batch)

    def answers(self, outputs: Any) -> list[Any]:
        """JSON-able answers, one per output row (the workload's postprocess)."""
        return [self.workload.postprocess(row) for row in outputs]

    def predict(self, payloads: list[bytes | str]) -> list[Any]:
        """JSON-able answers, one per payload; all payloads go through the model as one batch."""
        return self.answers(self.infer(self.decode(payloads)))

    def predict_json(self, payloads: list[bytes | str]) -> list[str]:
        return [json.dumps(a) for a in self.predict(payloads)]
