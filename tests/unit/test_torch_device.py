"""The PyTorch engines' device and precision settings (issue 18) on a machine without a GPU: a GPU device
is refused with its reason before anything is loaded, every GPU code path's bookkeeping runs against the
fake CUDA layer (INFERMETER_FAKE_CUDA), and reduced precision runs for real on the CPU."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from infermeter.config import parse_suite, plan  # noqa: E402
from infermeter.engines import torch_device  # noqa: E402
from infermeter.engines.torch_engines import PyTorchEager, TorchScript  # noqa: E402
from infermeter.errors import ConfigError, UnsupportedError  # noqa: E402
from infermeter.workloads.base import TensorSpec  # noqa: E402

SPEC = [TensorSpec("x", (None, 16), "float32")]
NO_CUDA = torch.version.cuda is None or not torch.cuda.is_available()


@pytest.fixture
def tiny(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4)).eval()
    torch.save(net, tmp_path / "tiny.pt")
    torch.jit.save(torch.jit.trace(net, torch.zeros(1, 16)), str(tmp_path / "tiny.ts"))
    x = np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32)
    with torch.inference_mode():
        return tmp_path, x, net(torch.from_numpy(x)).numpy()


def test_devices_are_named_as_torch_names_them_and_anything_else_is_refused():
    assert [torch_device.parse_device(d) for d in ("cpu", "cuda", "CUDA:1", " cuda:0 ")] == ["cpu", "cuda:0", "cuda:1", "cuda:0"]
    for bad in ("gpu", "cuda:", "cuda:x", "mps"):
        with pytest.raises(ConfigError, match="not one of cpu, cuda, cuda:N"):
            torch_device.parse_device(bad)
    with pytest.raises(ConfigError, match="not one of cpu, cuda"):
        parse_suite({"workloads": ["resnet50"], "engines": [{"name": "pytorch", "settings": {"device": "gpu"}}]})


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
def test_a_gpu_device_without_a_gpu_is_a_skipped_cell_with_its_reason_not_a_traceback(monkeypatch):
    monkeypatch.delenv(torch_device.FAKE_ENV, raising=False)
    suite = parse_suite({"workloads": ["resnet50"], "engines": [{"name": "pytorch", "settings": {"device": "cuda"}},
                                                                {"name": "torch-compile", "settings": {"device": "cuda:1"}}]})
    reasons = [c.skip_reason for c in plan(suite)]
    assert all(r and "asked for, but" in r and "CUDA" in r for r in reasons), reasons
    engine = PyTorchEager(PyTorchEager.Settings(device="cuda"))
    with pytest.raises(UnsupportedError, match="device cuda:0 asked for"):
        engine.load(__file__, SPEC)  # refused before the artifact is read


def test_a_suite_asking_for_a_gpu_here_says_so_and_exits_cleanly(tmp_path, monkeypatch):
    monkeypatch.setenv(torch_device.FAKE_ENV, "0")  # no devices, on any machine
    suite = tmp_path / "s.yaml"
    suite.write_text(json.dumps({"workloads": ["resnet50"], "engines": [{"name": "pytorch", "settings": {"device": "cuda"}}]}))
    r = subprocess.run([sys.executable, "-m", "infermeter.cli.main", "run", str(suite), "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=300)
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "device cuda:0 asked for, but the fake CUDA layer has no devices" in r.stdout + r.stderr


def test_on_the_fake_cuda_layer_every_call_is_synchronised_and_the_record_says_fake(tiny, monkeypatch):
    path, x, expected = tiny
    monkeypatch.setenv(torch_device.FAKE_ENV, "2")
    engine = PyTorchEager(PyTorchEager.Settings(device="cuda:1"))
    assert engine.unavailable() is None and "gpu" in engine.capabilities
    engine.load(path / "tiny.pt", SPEC)
    for i in range(3):
        np.testing.assert_allclose(engine.predict({"x": x[i:i + 1]}), expected[i:i + 1], rtol=1e-5, atol=1e-6)
    assert engine.layer.synchronized == 3  # once per predict: the latency is the work, not its launch
    info = engine.runtime_info()
    assert info["device"] == "cuda:1" and "test double" in info["device_layer"] and info["device_name"] == "fake device 1"
    too_far = PyTorchEager(PyTorchEager.Settings(device="cuda:2"))
    assert "there are 2 CUDA device(s) here" in too_far.unavailable()


@pytest.mark.parametrize("engine_cls, artifact", [(PyTorchEager, "tiny.pt"), (TorchScript, "tiny.ts")])
@pytest.mark.parametrize("cast", ["autocast", "weights"])
def test_bf16_runs_on_the_cpu_by_autocast_or_by_its_weights_and_says_so(tiny, engine_cls, artifact, cast):
    path, x, expected = tiny
    engine = engine_cls(engine_cls.Settings(precision="bf16", cast=cast))
    engine.load(path / artifact, SPEC)
    out = engine.predict({"x": x})
    assert out.dtype == np.float32 and engine.compute_precision() == "bf16"
    diff = np.abs(out - expected).max()
    assert 0 < diff < 0.05 * np.abs(expected).max()  # bf16's error: present, and small
    assert engine.runtime_info()["precision"] == f"bf16 ({cast})"


def test_tensorrt_buffers_take_each_tensors_own_type_even_where_the_version_lacks_some_names():
    """An FP16 engine's outputs stay fp32 (its buffer was made fp16, half the size TensorRT writes); int64
    token ids stay int64; a TensorRT without `bfloat16` or `int64` still maps the rest."""
    from types import SimpleNamespace

    from infermeter.engines.tensorrt_engine import _torch_dtype

    old_trt = SimpleNamespace(float32="FLOAT", float16="HALF", int32="INT32", int8="INT8", bool="BOOL")
    assert _torch_dtype(old_trt, "FLOAT") is torch.float32 and _torch_dtype(old_trt, "HALF") is torch.float16
    new_trt = SimpleNamespace(**vars(old_trt), int64="INT64", bfloat16="BF16")
    assert _torch_dtype(new_trt, "INT64") is torch.int64 and _torch_dtype(new_trt, "BF16") is torch.bfloat16
    with pytest.raises(UnsupportedError, match="no torch counterpart"):
        _torch_dtype(old_trt, "FP8")
