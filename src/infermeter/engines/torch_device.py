"""Where a PyTorch engine runs and in what arithmetic: the device setting (cpu, cuda, cuda:N), the precision
setting (fp32, fp16, bf16; by autocast or by converted weights) and the CUDA calls they need, behind one
small interface (`CudaLayer`).

The real layer is torch.cuda. The fake one (INFERMETER_FAKE_CUDA=N: N devices) is a test double for the
harness on a machine without a GPU: its "devices" keep tensors on the CPU and count the synchronisations,
so CI runs every GPU code path's bookkeeping; it names itself in the engine's runtime info and never
stands in for a measurement of a GPU.

A latency on a GPU is the work, not its launch: CUDA kernels run asynchronously, so predict() synchronises
the device before it returns (the copy of the output to the host would wait too; the explicit sync says so
and times the same on every output size).
"""

from __future__ import annotations

import os
import re
from contextlib import AbstractContextManager, nullcontext
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator

from infermeter.errors import ConfigError, UnsupportedError

Precision = Literal["fp32", "fp16", "bf16"]
Cast = Literal["autocast", "weights"]
FAKE_ENV = "INFERMETER_FAKE_CUDA"
_DEVICE = re.compile(r"^(cpu|cuda(?::(\d+))?)$")


def parse_device(spec: str) -> str:
    """'cpu', 'cuda' or 'cuda:N' as torch names it (cuda means cuda:0); ConfigError otherwise."""
    m = _DEVICE.match(spec.strip().lower())
    if not m:
        raise ConfigError(f"device {spec!r} is not one of cpu, cuda, cuda:N", "e.g. device: cuda:0")
    return "cpu" if m.group(1) == "cpu" else f"cuda:{m.group(2) or 0}"


def _valid_device(spec: str) -> str:
    try:
        return parse_device(spec)
    except ConfigError as exc:
        raise ValueError(f"{exc.message} ({exc.hint})") from None  # one line among the other fields' errors


# A settings field naming a device: every engine's and server's device setting is written and checked alike.
Device = Annotated[str, AfterValidator(_valid_device)]


class CudaLayer(Protocol):
    """The CUDA calls a PyTorch engine makes."""

    label: str  # what the devices are, for the record

    def why_not(self) -> str | None:
        """None where CUDA can be used; otherwise why not, in words."""
        ...

    def count(self) -> int: ...

    def name(self, index: int) -> str: ...

    def to(self, value: Any, device: str) -> Any:
        """A tensor or module moved to `device`."""
        ...

    def synchronize(self, device: str) -> None: ...

    def autocast_type(self, device: str) -> str:
        """torch.autocast's device_type for tensors on `device`."""
        ...


class TorchCuda:
    label = "CUDA"

    def why_not(self) -> str | None:
        try:
            import torch
        except ImportError:
            return "torch is not installed here, so no CUDA device can be used or seen"
        if torch.version.cuda is None:
            return f"this torch ({torch.__version__}) is a CPU build, without CUDA"
        if not torch.cuda.is_available():
            return f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU here (driver or device missing)"
        return None

    def count(self) -> int:
        import torch

        return torch.cuda.device_count()

    def name(self, index: int) -> str:
        import torch

        return torch.cuda.get_device_name(index)

    def to(self, value: Any, device: str) -> Any:
        return value.to(device)

    def synchronize(self, device: str) -> None:
        import torch

        torch.cuda.synchronize(device)

    def autocast_type(self, device: str) -> str:
        return device.split(":")[0]


class FakeCuda:
    """Test double: `devices` pretend GPUs that keep everything on the CPU (see the module's docstring)."""

    label = "fake CUDA (test double: tensors stay on the CPU; no GPU was used)"

    def __init__(self, devices: int) -> None:
        self.devices, self.synchronized = devices, 0

    def why_not(self) -> str | None:
        return None if self.devices else "the fake CUDA layer has no devices (INFERMETER_FAKE_CUDA=0)"

    def count(self) -> int:
        return self.devices

    def name(self, index: int) -> str:
        return f"fake device {index}"

    def to(self, value: Any, device: str) -> Any:
        return value

    def synchronize(self, device: str) -> None:
        self.synchronized += 1

    def autocast_type(self, device: str) -> str:
        return "cpu"


def cuda_layer() -> CudaLayer:
    fake = os.environ.get(FAKE_ENV)
    return FakeCuda(int(fake)) if fake is not None and fake.isdigit() else TorchCuda()


def unavailable(device: str, layer: CudaLayer) -> str | None:
    """Why `device` cannot be used here (None: it can)."""
    if device == "cpu":
        return None
    why = layer.why_not()
    if why:
        return f"device {device} asked for, but {why}"
    index = int(device.split(":")[1])
    if index >= layer.count():
        return f"device {device} asked for, but there {'is' if layer.count() == 1 else 'are'} {layer.count()} CUDA device(s) here"
    return None


def check_device(device: str, layer: CudaLayer) -> None:
    why = unavailable(device, layer)
    if why:
        raise UnsupportedError(why, "run on a machine with an NVIDIA GPU and a CUDA build of torch, or set device: cpu")


def exact_fp32(device: str, precision: Precision) -> None:
    """fp32 on a GPU means fp32: cuDNN's convolutions would otherwise run in TF32 (on by default, 10 bits of
    mantissa), and their answers leave the FP32 parity tolerance."""
    if device != "cpu" and precision == "fp32":
        import torch

        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False


def torch_dtype(precision: Precision) -> Any:
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def autocast(precision: Precision, cast: Cast, device: str, layer: CudaLayer) -> AbstractContextManager[Any]:
    """The context predict() runs in: torch.autocast for a reduced precision by autocast, nothing otherwise."""
    if precision == "fp32" or cast != "autocast":
        return nullcontext()
    import torch

    return torch.autocast(device_type=layer.autocast_type(device), dtype=torch_dtype(precision))


def place_module(module: Any, precision: Precision, cast: Cast, device: str, layer: CudaLayer) -> Any:
    """The module on its device, its weights converted when the precision is by weights."""
    module = layer.to(module, device) if device != "cpu" else module
    if precision != "fp32" and cast == "weights":
        module = module.to(torch_dtype(precision))
    return module


def place_input(tensor: Any, precision: Precision, cast: Cast, device: str, layer: CudaLayer) -> Any:
    """An input on the module's device; floating inputs in the weights' precision (token ids stay integers)."""
    if precision != "fp32" and cast == "weights" and tensor.is_floating_point():
        tensor = tensor.to(torch_dtype(precision))
    return layer.to(tensor, device) if device != "cpu" else tensor


def device_info(device: str, layer: CudaLayer) -> dict[str, Any]:
    if device == "cpu":
        return {"device": "cpu"}
    return {"device": device, "device_name": layer.name(int(device.split(":")[1])), "device_layer": layer.label}
