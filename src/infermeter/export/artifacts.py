"""Artifacts on disk, cached by (workload fingerprint, format, exporter package versions).

A cached artifact keeps the conversion time and size measured when it was made, so results always
report what converting cost, also on a run that found the artifact in the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from infermeter.collectors.machine import versions_of
from infermeter.errors import ConfigError, UnsupportedError
from infermeter.results.files import check_private, confined, replace_atomically
from infermeter.workloads.base import ONNX, OPENVINO, SAVEDMODEL, SKLEARN, TORCH, TORCHSCRIPT, Workload, file_slug

ONNX_OPSET = 17

# Packages whose versions change what an exporter writes.
EXPORT_PACKAGES = {
    TORCH: ("torch", "transformers"),
    TORCHSCRIPT: ("torch", "transformers"),
    ONNX: ("torch", "transformers", "onnx"),
    OPENVINO: ("torch", "transformers", "onnx", "openvino"),
    SAVEDMODEL: ("torch", "transformers", "tensorflow", "tensorflow-cpu", "keras"),
    SKLEARN: ("scikit-learn",),
}


@dataclass
class Artifact:
    format: str
    path: Path
    size_bytes: int
    convert_s: float
    cached: bool
    exporter: str

    def record(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def default_cache_root() -> Path:
    return Path(os.environ.get("INFERMETER_CACHE", Path.home() / ".cache" / "infermeter"))


CACHE = "artifact cache"
# An export in progress: .{format}-{pid}-{random} beside its final directory (older ones had no pid).
_EXPORTING = re.compile(r"^\.[A-Za-z0-9_.]+-(?:(\d+)-)?[a-z0-9_]{8}$")


def private_cache_dir(path: Path) -> Path:
    """A directory of the cache: created 0700; refused unless it is the user's own and nobody else can
    write to it, since what the cache holds is loaded as code (pickles, torch.load, TorchScript)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_private(path, CACHE)
    return path


def usable_cache_root(path: Path | None) -> Path:
    """The cache's root (`path`, or the default), made (or found) before anything is measured: one that
    cannot be made is a plain error up front, not an export failure in every cell."""
    path = path or default_cache_root()
    try:
        return private_cache_dir(path)
    except OSError as exc:
        raise ConfigError(f"cannot make the artifact cache {path}: {exc.strerror or exc}",
                          "give --cache (or $INFERMETER_CACHE) a directory you can write") from None


def remove_stale_exports(parent: Path) -> list[Path]:
    """Temporary directories of exports whose process is gone (killed mid-export: SIGKILL or SIGTERM run
    no cleanup); an export still running elsewhere keeps its own."""
    removed = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _EXPORTING.match(entry.name)
        if not m or not entry.is_dir() or entry.is_symlink():
            continue
        if m.group(1):
            try:
                os.kill(int(m.group(1)), 0)
                continue  # that process is alive: its export may still be running
            except ProcessLookupError:
                pass
            except (PermissionError, OverflowError):
                continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def workload_dir(cache_root: Path, workload: Workload) -> Path:
    return cache_root / "artifacts" / f"{file_slug(workload.name)}-{workload.fingerprint()}"


def format_dir(cache_root: Path, workload: Workload, fmt: str) -> Path:
    packages = EXPORT_PACKAGES.get(fmt, ()) + workload.export_packages
    key = hashlib.sha256(json.dumps(versions_of(packages), sort_keys=True).encode()).hexdigest()[:10]
    return workload_dir(cache_root, workload) / f"{fmt}-{key}"


class Exporter:
    """Produces artifacts of one workload; builds the reference torch module at most once."""

    def __init__(self, workload: Workload, cache_root: Path | None = None) -> None:
        self.workload = workload
        self.cache_root = cache_root or default_cache_root()
        self._module: Any = None

    def module(self) -> Any:
        if self._module is None:
            self._module = bake_parametrizations(self.workload.torch_module())
        return self._module

    def artifact(self, fmt: str) -> Artifact:
        members = getattr(self.workload, "members", None)
        if fmt in self.workload.formats and members:
            return self._ensemble(fmt, members)
        if fmt == getattr(self.workload, "native_format", None):
            path: Path = self.workload.path  # type: ignore[attr-defined]
            return Artifact(fmt, path, size_of(path), 0.0, True, "the user's own file, used as it is")
        if fmt not in self.workload.formats:
            raise UnsupportedError(
                f"workload {self.workload.name!r} cannot be exported to {fmt!r}",
                f"it supports: {', '.join(sorted(self.workload.formats))}",
            )
        final = format_dir(self.cache_root, self.workload, fmt)
        for d in (self.cache_root, self.cache_root / "artifacts", final.parent):
            private_cache_dir(d)
        remove_stale_exports(final.parent)
        meta_path = final / "meta.json"
        if meta_path.exists():
            check_private(final, CACHE)
            meta = json.loads(meta_path.read_text())
            path = confined(final, str(meta["file"]))  # a name from a file: never a path out of the entry
            check_private(path, CACHE)
            return Artifact(fmt, path, meta["size_bytes"], meta["convert_s"], True, meta["exporter"])
        tmp = Path(tempfile.mkdtemp(prefix=f".{fmt}-{os.getpid()}-", dir=final.parent))
        try:
            file_name, exporter, seconds = self._export(fmt, tmp)
            meta = {
                "file": file_name,
                "size_bytes": size_of(tmp / file_name),
                "convert_s": seconds,
                "exporter": exporter,
                "versions": versions_of(EXPORT_PACKAGES.get(fmt, ()) + self.workload.export_packages),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
            os.replace(tmp, final)  # atomic: a half-written artifact is never found in the cache
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return Artifact(fmt, final / file_name, meta["size_bytes"], seconds, False, exporter)

    def _ensemble(self, fmt: str, members: list[Workload]) -> Artifact:
        """A manifest of the members' artifacts; size and conversion time are the members' sums."""
        arts = [Exporter(m, self.cache_root).artifact(fmt) for m in members]
        d = format_dir(self.cache_root, self.workload, fmt)
        for parent in (self.cache_root, self.cache_root / "artifacts", d.parent, d):
            private_cache_dir(parent)
        manifest = d / "manifest.json"
        replace_atomically(manifest, json.dumps({"members": [str(a.path) for a in arts]}))
        return Artifact(
            fmt, manifest, sum(a.size_bytes for a in arts), sum(a.convert_s for a in arts), all(a.cached for a in arts),
            "ensemble of: " + "; ".join(f"{m.name}: {a.exporter}" for m, a in zip(members, arts)),
        )

    def _export(self, fmt: str, out: Path) -> tuple[str, str, float]:
        export: dict[str, Callable[[Path], tuple[str, str]]] = {
            TORCH: self._torch,
            TORCHSCRIPT: self._torchscript,
            ONNX: self._onnx,
            OPENVINO: self._openvino,
            SAVEDMODEL: self._savedmodel,
        }
        own = self._own_export(fmt, out)
        if own is not None:
            return own
        if fmt not in export:  # a plugin engine's own format that this workload does not write itself
            raise UnsupportedError(f"{self.workload.name} cannot be exported to {fmt!r}: neither infermeter nor the "
                                   "workload has an exporter for that format")
        if fmt == OPENVINO:
            self.artifact(ONNX)  # the IR is converted from the cached ONNX file, not timed here
        else:
            self.module()  # building the reference model is not part of any conversion time
        start = time.perf_counter()
        name, exporter = export[fmt](out)
        return name, exporter, time.perf_counter() - start

    def _own_export(self, fmt: str, out: Path) -> tuple[str, str, float] | None:
        """The workload's own exporter (e.g. scikit-learn models); building the model is not timed."""
        if type(self.workload).export is Workload.export:
            return None
        build = getattr(self.workload, "model", None)
        if callable(build):
            build()  # training or building the model is not part of the conversion time
        start = time.perf_counter()
        own = self.workload.export(fmt, out)
        return None if own is None else (own[0], own[1], time.perf_counter() - start)

    # --- one function per format ------------------------------------------------------------------
    def _example(self, batch_size: int = 2) -> tuple[Any, ...]:
        import torch

        batch = self.workload.batch(batch_size)
        return tuple(torch.from_numpy(batch[s.name]) for s in self.workload.input_specs())

    def _torch(self, out: Path) -> tuple[str, str]:
        import torch

        torch.save(self.module(), out / "model.pt")
        return "model.pt", "torch.save (pickled module)"

    def _torchscript(self, out: Path) -> tuple[str, str]:
        import torch

        with torch.inference_mode(False), torch.no_grad():
            traced = torch.jit.trace(self.module(), self._example(), check_trace=False, strict=False)
        traced.save(str(out / "model.ts"))
        return "model.ts", "torch.jit.trace"

    def _onnx(self, out: Path) -> tuple[str, str]:
        import warnings

        import torch

        specs = self.workload.input_specs()
        names = [s.name for s in specs]
        # The batch, and any other dimension a workload leaves open (clips of their own lengths).
        axes = {s.name: {0: "batch"} | {i: f"{s.name}_{i}" for i, d in enumerate(s.shape) if i and d is None} for s in specs}
        axes |= {"output": {0: "batch"}}
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            # The TorchScript-based exporter: 3-10 s here against 14-23 s for dynamo, same runtime speed.
            torch.onnx.export(
                self.module(), self._example(), str(out / "model.onnx"), input_names=names, output_names=["output"],
                dynamic_axes=axes, opset_version=ONNX_OPSET, dynamo=False,
            )
        return "model.onnx", f"torch.onnx.export (TorchScript-based, opset {ONNX_OPSET}, dynamic batch" + (
            ", dynamic length)" if any(len(a) > 1 for a in axes.values()) else ")")

    def _openvino(self, out: Path) -> tuple[str, str]:
        import openvino as ov

        onnx_path = self.artifact(ONNX).path
        try:
            model = ov.convert_model(str(onnx_path))
            how = "openvino.convert_model from the ONNX artifact, FP32 IR"
        except Exception as exc:  # e.g. an ONNX operator form OpenVINO's ONNX frontend cannot read
            if not hasattr(self.workload, "torch_module") or getattr(self.workload, "native_format", None):
                raise
            model = ov.convert_model(self.module(), example_input=self._example())
            how = f"openvino.convert_model from the PyTorch module (the ONNX route failed: {str(exc).splitlines()[0][:120]}), FP32 IR"
        ov.save_model(model, str(out / "model.xml"), compress_to_fp16=False)  # keep FP32 weights
        return "model.xml", how

    def _savedmodel(self, out: Path) -> tuple[str, str]:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        keras_model = self.workload.keras_model(self.module())
        keras_model.export(str(out / "savedmodel"), format="tf_saved_model", verbose=False)
        return "savedmodel", "Keras definition with the torch weights copied in, exported as a SavedModel"

def bake_parametrizations(module: Any) -> Any:
    """Replace parametrized weights (e.g. wav2vec2's weight norm) by plain ones holding the same values:
    torch.save cannot pickle parametrized modules, and exporters see a simpler graph."""
    from torch.nn.utils import parametrize

    for sub in module.modules():
        if parametrize.is_parametrized(sub):
            for name in list(sub.parametrizations.keys()):
                parametrize.remove_parametrizations(sub, name, leave_parametrized=True)
            # weight_norm also leaves a state-dict hook that is a local function (unpicklable) and now moot.
            for key, hook in list(sub._load_state_dict_pre_hooks.items()):
                fn = getattr(hook, "hook", hook)  # torch wraps registered hooks in _WrappedHook
                if "weight_norm" in getattr(fn, "__qualname__", ""):
                    del sub._load_state_dict_pre_hooks[key]
    return module


def reference_path(cache_root: Path, workload: Workload) -> Path:
    return workload_dir(cache_root, workload) / "reference.npy"
