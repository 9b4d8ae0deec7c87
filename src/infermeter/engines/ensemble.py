"""Runs an ensemble workload: one engine instance per member, same engine and settings for all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from infermeter.engines.base import Engine
from infermeter.workloads.base import TensorSpec


class EnsembleEngine(Engine):
    """Wraps members of one engine class. The artifact is a manifest listing each member's artifact."""

    name = "ensemble"
    description = "members of an ensemble on one engine"
    artifact_format = ""
    requires = ()
    packages = ()
    install_hint = ""

    def __init__(self, member_factory: Callable[[], Engine], count: int, combine: Callable[[list[np.ndarray]], np.ndarray]) -> None:
        self.members = [member_factory() for _ in range(count)]
        super().__init__(self.members[0].settings)
        self._combine = combine

    @property
    def capabilities(self) -> frozenset[str]:
        return self.members[0].capabilities

    def load(self, artifact: Path, inputs: list[TensorSpec], cache_dir: Path | None = None) -> None:
        paths = json.loads(Path(artifact).read_text())["members"]
        for i, (engine, path) in enumerate(zip(self.members, paths)):
            engine.load(Path(path), inputs, cache_dir / f"member{i}" if cache_dir else None)
        self.input_names = self.members[0].input_names

    def predict(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        return self._combine([m.predict(batch) for m in self.members])

    def close(self) -> None:
        for m in self.members:
            m.close()

    def runtime_info(self) -> dict[str, Any]:
        return {"members": [m.runtime_info() for m in self.members]}
