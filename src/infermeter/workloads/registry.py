"""Named workloads. Importing this module imports no ML package."""

from __future__ import annotations

import importlib.util

from infermeter.errors import ConfigError, NotInstalledError
from infermeter.workloads.base import Workload
from infermeter.workloads.fake import FakeTiny
from infermeter.workloads.speech import Wav2Vec2Base, Wav2Vec2Base50k
from infermeter.workloads.text import BartLargeCnn, BertBase, MiniLM
from infermeter.workloads.vision import VGG19, DenseNet201, EfficientNetB0, ResNet50

WORKLOADS: dict[str, type[Workload]] = {
    w.name: w
    for w in (ResNet50, VGG19, DenseNet201, EfficientNetB0, BertBase, MiniLM, BartLargeCnn, Wav2Vec2Base, Wav2Vec2Base50k, FakeTiny)
}


def is_test_double(cls: type[Workload]) -> bool:
    return bool(getattr(cls, "test_double", False))


def missing_requirements(cls: type[Workload]) -> list[str]:
    return [mod for mod in cls.requires if importlib.util.find_spec(mod) is None]


def get_workload(name: str, seed: int = 0) -> Workload:
    """The workload called `name`, ready to build; a clear error if unknown or not installable here."""
    cls = WORKLOADS.get(name)
    if cls is None:
        raise ConfigError(f"unknown workload {name!r}", f"choose one of: {', '.join(sorted(WORKLOADS))} (see `infermeter workloads`)")
    missing = missing_requirements(cls)
    if missing:
        raise NotInstalledError(
            f"workload {name!r} needs {', '.join(missing)}, not installed here",
            "pip install 'infermeter[engines]'",
        )
    return cls(seed=seed)
