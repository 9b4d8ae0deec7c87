"""A user's own model file as a workload: `file:PATH` or `file:PATH?input=3x224x224&mask=128`.

ONNX files run on ONNX Runtime and OpenVINO (converted to IR), TorchScript archives on TorchScript,
SavedModel directories on TensorFlow. Shapes after `?` (without the batch dimension) are needed where
the file does not fix them. Inputs are seeded random tensors: there are no real inputs for an unknown
model, and the results say so. Parity is checked against the format's native engine.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np

from infermeter import limits
from infermeter.errors import ConfigError, UnsupportedError
from infermeter.workloads.base import ONNX, OPENVINO, SAVEDMODEL, TORCHSCRIPT, Provenance, TensorSpec, Workload

PREFIX = "file:"
NATIVE_ENGINE = {ONNX: "onnxruntime", TORCHSCRIPT: "torchscript", SAVEDMODEL: "tensorflow"}
_FORMAT_WORDS = {ONNX: "an ONNX model", TORCHSCRIPT: "a TorchScript archive", SAVEDMODEL: "a SavedModel"}
_ONNX_TYPES = {1: "float32", 10: "float16", 11: "float64", 6: "int32", 7: "int64", 9: "bool", 2: "uint8", 3: "int8"}


def is_user_model(name: str) -> bool:
    return name.startswith(PREFIX)


def _split(name: str) -> tuple[str, dict[str, tuple[int, ...]]]:
    body = name[len(PREFIX):]
    path, _, query = body.partition("?")
    shapes: dict[str, tuple[int, ...]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if not key:
            raise ConfigError(f"input shape {value!r} after '?' has no input name", "write ?NAME=3x224x224, e.g. ?x=3x224x224")
        if key in shapes:
            raise ConfigError(f"input {key!r} is given two shapes after '?'", f"give each input one shape, e.g. ?{key}=3x224x224")
        dims = value.lower().split("x")
        # Only plain decimal digits: int() would also take '-5', '+3', ' 4' and '٣' (an Arabic-Indic three).
        if not all(d.isascii() and d.isdigit() for d in dims):
            raise ConfigError(f"input shape {key}={value!r} is not like 3x224x224", "write dimensions as positive integers joined by x") from None
        shape = tuple(int(d) for d in dims)
        if any(d < 1 for d in shape):
            raise ConfigError(f"input shape {key}={value!r} has a dimension of 0", "every dimension is at least 1, e.g. 3x224x224")
        most = limits.limit("dimension")
        if any(d > most for d in shape):
            raise ConfigError(f"input shape {key}={value!r} has a dimension above {most:.15g}",
                              f"check the shape (set {limits.env_name('dimension')} to allow larger dimensions)")
        shapes[key] = shape
    return path, shapes


def path_of(name: str) -> Path:
    path = Path(_split(name)[0]).expanduser()
    if not path.exists():
        raise ConfigError(f"model file {str(path)!r} does not exist", "give the path of an .onnx file, a TorchScript .pt/.ts file or a SavedModel directory")
    return path


def native_format(path: Path) -> str:
    if path.is_dir() and (path / "saved_model.pb").exists():
        return SAVEDMODEL
    if path.suffix == ".onnx":
        return ONNX
    if path.suffix in (".pt", ".ts", ".torchscript"):
        return TORCHSCRIPT
    raise ConfigError(
        f"cannot tell the model format of {str(path)!r}",
        "use an .onnx file, a TorchScript archive (.pt/.ts, saved with torch.jit.save) or a SavedModel directory",
    )


def validate(name: str) -> frozenset[str]:
    """Check a `file:` workload before anything runs (shapes included); returns its formats.

    A SavedModel's signature needs TensorFlow to read, so it is checked in the worker instead.
    """
    model = UserModel(name)
    if model.native_format != SAVEDMODEL:
        model.input_specs()
    return model.formats


def formats_of(path: Path) -> frozenset[str]:
    fmt = native_format(path)
    return frozenset({ONNX, OPENVINO}) if fmt == ONNX else frozenset({fmt})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


class UserModel(Workload):
    task = "user-model"
    description = "your own model file"
    requires = ()

    def __init__(self, spec: str | Path, seed: int = 0) -> None:
        super().__init__(seed)
        text = spec if isinstance(spec, str) and is_user_model(spec) else PREFIX + str(spec)
        self.path = path_of(text)
        self.shapes = _split(text)[1]
        self.native_format = native_format(self.path)
        self.name = text  # type: ignore[misc]
        self.formats = formats_of(self.path)  # type: ignore[misc]
        self.reference_engine = NATIVE_ENGINE[self.native_format]  # type: ignore[misc]
        self._digest: str | None = None
        self._specs: list[TensorSpec] | None = None

    def digest(self) -> str:
        if self._digest is None:
            self._digest = _sha256(self.path)
        return self._digest

    def input_specs(self) -> list[TensorSpec]:
        if self._specs is None:
            declared = self._declared_inputs()
            unknown = sorted(set(self.shapes) - {s.name for s in declared})
            if unknown:
                raise ConfigError(
                    f"{self.path} has no input named {', '.join(map(repr, unknown))}; its inputs are: "
                    f"{', '.join(s.name for s in declared)}",
                    "name the model's own inputs after '?', e.g. ?" + (declared[0].name if declared else "input") + "=3x224x224",
                )
            self._specs = [self._complete(s) for s in declared]
        return self._specs

    def _declared_inputs(self) -> list[TensorSpec]:
        try:
            return self._read_inputs()
        except ConfigError:
            raise
        except Exception as exc:  # a damaged or foreign file: the parser's own words say what is wrong
            raise ConfigError(
                f"cannot read {self.path} as {_FORMAT_WORDS.get(self.native_format, self.native_format)}: "
                f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}",
                "check that the file is complete and was saved by the exporter of that format (re-export it)",
            ) from None

    def _read_inputs(self) -> list[TensorSpec]:
        if self.native_format == ONNX:
            import onnx

            graph = onnx.load(str(self.path), load_external_data=False).graph
            weights = {i.name for i in graph.initializer}
            out = []
            for i in graph.input:
                if i.name in weights:
                    continue
                t = i.type.tensor_type
                dims = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in t.shape.dim)
                out.append(TensorSpec(i.name, dims, _ONNX_TYPES.get(t.elem_type, "float32")))
            return out
        if self.native_format == SAVEDMODEL:
            import tensorflow as tf

            sig = tf.saved_model.load(str(self.path)).signatures["serving_default"]
            return [
                TensorSpec(name, tuple(spec.shape.as_list()), spec.dtype.name)
                for name, spec in sig.structured_input_signature[1].items()
            ]
        if not zipfile.is_zipfile(self.path):  # what torch.jit.save writes; checked here, without importing torch
            raise ValueError("not a zip archive, which every TorchScript file is")
        if not self.shapes:
            raise ConfigError(
                f"a TorchScript file does not say its input shapes: {self.path}",
                f"add them after '?', without the batch dimension: file:{self.path}?input=3x224x224",
            )
        return [TensorSpec(n, (None, *shape), "float32") for n, shape in self.shapes.items()]

    def _complete(self, spec: TensorSpec) -> TensorSpec:
        if spec.name in self.shapes:
            given = self.shapes[spec.name]
            fixed = spec.shape[1:]
            if spec.shape and (len(given) != len(fixed) or any(d is not None and d != g for d, g in zip(fixed, given))):
                declared = "x".join("?" if d is None else str(d) for d in fixed)
                raise ConfigError(
                    f"input {spec.name!r} of {self.path} is declared {declared} (without the batch dimension); "
                    f"the shape given, {'x'.join(map(str, given))}, does not fit it",
                    f"give a shape that fills only its open dimensions (?), e.g. ?{spec.name}={declared.replace('?', '224')}",
                )
            return TensorSpec(spec.name, (None, *given), spec.dtype)
        if any(d is None for d in spec.shape[1:]):
            raise ConfigError(
                f"input {spec.name!r} of {self.path} has an unknown dimension: {spec.shape}",
                f"give its shape without the batch dimension: file:{self.path}?{spec.name}=3x224x224",
            )
        return TensorSpec(spec.name, (None, *spec.shape[1:]), spec.dtype)

    def _load_samples(self) -> list[dict[str, np.ndarray]]:
        rng = np.random.default_rng(self.seed)
        samples = []
        for _ in range(8):
            sample = {}
            for spec in self.input_specs():
                shape = tuple(int(d) for d in spec.shape[1:])
                if spec.dtype.startswith("float"):
                    sample[spec.name] = rng.standard_normal(shape).astype(spec.dtype)
                elif spec.dtype == "bool":
                    sample[spec.name] = rng.random(shape) > 0.5
                else:
                    sample[spec.name] = rng.integers(0, 100, shape).astype(spec.dtype)
            samples.append(sample)
        return samples

    def torch_module(self) -> Any:
        raise UnsupportedError(f"{self.path} is a {self.native_format} file; it is not re-exported from PyTorch")

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.digest(), "seed": self.seed, "shapes": {k: list(v) for k, v in self.shapes.items()}}

    def provenance(self) -> Provenance:
        return Provenance(
            weights=f"the user's model file {self.path} (sha256 {self.digest()[:16]}...)",
            inputs=f"seeded random inputs (seed {self.seed}): no real inputs are known for a user's model",
        )
