"""Named engines. Importing this module imports no runtime."""

from __future__ import annotations

from infermeter.engines.base import Engine
from infermeter.engines.fake import FakeEngine
from infermeter.engines.onnxruntime_engine import OnnxRuntime
from infermeter.engines.openvino_engine import OpenVino
from infermeter.engines.sklearn_engine import ScikitLearn
from infermeter.engines.tensorflow_engine import TensorFlow
from infermeter.engines.tensorrt_engine import TensorRt
from infermeter.engines.torch_engines import PyTorchEager, TorchCompile, TorchScript
from infermeter.errors import ConfigError

ENGINES: dict[str, type[Engine]] = {
    e.name: e for e in (PyTorchEager, TorchScript, TorchCompile, OnnxRuntime, OpenVino, TensorFlow, TensorRt, ScikitLearn, FakeEngine)
}
REFERENCE_ENGINE = PyTorchEager.name


def is_test_double(cls: type[Engine]) -> bool:
    return bool(getattr(cls, "test_double", False))


def engine_class(name: str) -> type[Engine]:
    cls = ENGINES.get(name)
    if cls is None:
        real = sorted(n for n, c in ENGINES.items() if not is_test_double(c))
        raise ConfigError(f"unknown engine {name!r}", f"choose one of: {', '.join(real)} (see `infermeter engines`)")
    return cls
