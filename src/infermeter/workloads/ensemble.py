"""An ensemble: several models on the same engine, predicting the same inputs, probabilities averaged.

As in the inference-engine study that ensembled VGG19, ResNet50 and DenseNet201 on one device. Written
`ensemble(resnet50,vgg19,densenet201)` wherever a workload name goes.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from infermeter.errors import ConfigError
from infermeter.workloads.base import Provenance, TensorSpec, Workload

PATTERN = re.compile(r"^ensemble\(([^()]+)\)$")


def parse_members(name: str) -> list[str] | None:
    """Member names of an ensemble workload name, or None if `name` is not one."""
    m = PATTERN.match(name.replace(" ", ""))
    return m.group(1).split(",") if m else None


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class Ensemble(Workload):
    task = "ensemble"
    description = "several models on one engine, softmax outputs averaged"
    requires = ()

    def __init__(self, members: list[Workload]) -> None:
        super().__init__(seed=members[0].seed)
        if len(members) < 2:
            raise ConfigError("an ensemble needs at least two members", "write ensemble(resnet50,vgg19,...)")
        specs = {tuple(m.input_specs()) for m in members}
        if len(specs) > 1:
            raise ConfigError(
                f"ensemble members take different inputs: {', '.join(m.name for m in members)}",
                "ensemble models that share one input, e.g. the image classifiers",
            )
        self.members = members
        self.name = "ensemble(" + ",".join(m.name for m in members) + ")"  # type: ignore[misc]
        self.formats = frozenset.intersection(*(m.formats for m in members))  # type: ignore[misc]
        self.reference_engine = members[0].reference_engine  # type: ignore[misc]

    def input_specs(self) -> list[TensorSpec]:
        return self.members[0].input_specs()

    def _load_samples(self) -> list[dict[str, np.ndarray]]:
        return self.members[0].samples()

    def torch_module(self) -> Any:
        raise NotImplementedError("an ensemble is exported member by member")

    def combine(self, outputs: list[np.ndarray]) -> np.ndarray:
        """The ensemble's prediction: the mean of the members' softmax probabilities."""
        return np.mean([softmax(o.astype(np.float32)) for o in outputs], axis=0)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "members": [m.config() for m in self.members]}

    def provenance(self) -> Provenance:
        p = [m.provenance() for m in self.members]
        return Provenance(
            weights="; ".join(f"{m.name}: {x.weights}" for m, x in zip(self.members, p)),
            inputs=p[0].inputs,
            notes=("members run one after another on the same engine; softmax probabilities averaged",),
        )
