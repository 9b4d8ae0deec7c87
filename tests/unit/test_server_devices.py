"""Servers on a device (issue 18, step 2): a server's device and precision settings reach the engine inside
it (serving.json), the server sees its one GPU and no other (CUDA_VISIBLE_DEVICES; none on the CPU), each
framework places its workers there in its own terms, and what cannot be served that way is a reason, not a
traceback. Runs here against the fake CUDA layer; no framework is started."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from pydantic import ValidationError

torch = pytest.importorskip("torch")

from infermeter.engines import torch_device  # noqa: E402
from infermeter.engines.onnxruntime_engine import OnnxRuntime  # noqa: E402
from infermeter.engines.openvino_engine import OpenVino  # noqa: E402
from infermeter.engines.torch_engines import PyTorchEager  # noqa: E402
from infermeter.errors import UnsupportedError  # noqa: E402
from infermeter.servers.base import ServingModelSettings  # noqa: E402
from infermeter.servers.common.serving_model import ServingConfig, ServingModel  # noqa: E402
from infermeter.servers.litserve.adapter import LitServe  # noqa: E402
from infermeter.servers.tfserving.adapter import TfServing, TfServingSettings  # noqa: E402
from infermeter.servers.triton.adapter import Triton, TritonSettings  # noqa: E402
from infermeter.workloads.registry import get_workload  # noqa: E402


class _Exporter:
    """Stands in for export.Exporter: every format is one tiny torch module on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def artifact(self, fmt: str) -> SimpleNamespace:
        return SimpleNamespace(path=self.path)


@pytest.fixture
def tiny_module(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 4)).eval()
    torch.save(net, tmp_path / "tiny.pt")
    return tmp_path / "tiny.pt"


def test_a_servers_device_is_named_as_torch_names_it_and_anything_else_is_refused():
    assert ServingModelSettings(device="CUDA").device == "cuda:0"
    with pytest.raises(ValidationError, match="not one of cpu, cuda, cuda:N"):
        ServingModelSettings(device="gpu")
    with pytest.raises(ValidationError):
        ServingModelSettings(precision="int8")


def test_a_server_sees_its_one_gpu_and_on_the_cpu_none():
    on_cpu, on_gpu = LitServe(), LitServe(ServingModelSettings(device="cuda:1"))
    assert on_cpu.server_env()["CUDA_VISIBLE_DEVICES"] == ""  # a CPU figure cannot use a GPU by some default
    assert on_gpu.server_env()["CUDA_VISIBLE_DEVICES"] == "1" and on_gpu.inside_device() == "cuda:0"
    assert on_cpu.placement() == {"device": "cpu", "precision": "fp32"}
    assert on_gpu.placement()["gpu_placement"].startswith("accelerator cuda")


def test_the_engine_inside_runs_on_the_servers_gpu_in_its_precision(tmp_path, tiny_module, monkeypatch):
    monkeypatch.setenv(torch_device.FAKE_ENV, "2")
    adapter = LitServe(ServingModelSettings(runtime="pytorch", device="cuda:1", precision="bf16"))
    assert adapter.cannot_place("fake-tiny") is None
    workload = get_workload("fake-tiny")
    adapter.serving_config(workload, _Exporter(tiny_module), tmp_path)
    config = ServingConfig.read(tmp_path)
    assert config.engine == {"device": "cuda:0", "precision": "bf16"} and config.visible_devices == "1"
    model = ServingModel(config)
    assert model.engine.settings.device == "cuda:0" and model.engine.compute_precision() == "bf16"
    answers = model.predict(workload.payloads()[:2])
    assert len(answers) == 2 and model.engine.layer.synchronized == 1  # one batch, synchronised inside predict


def test_the_in_process_reference_sees_the_servers_gpu_too(tmp_path, tiny_module, monkeypatch):
    from infermeter.servers import reference

    monkeypatch.setenv(torch_device.FAKE_ENV, "2")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    adapter = LitServe(ServingModelSettings(runtime="pytorch", device="cuda:1"))
    adapter.serving_config(get_workload("fake-tiny"), _Exporter(tiny_module), tmp_path)
    config, model, _ = reference.serving_model(tmp_path)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1" and model.engine.settings.device == "cuda:0"


def test_a_gpu_the_machine_lacks_is_a_reason_before_anything_starts(monkeypatch):
    """Asked of the engine that runs inside, with the GPU as this machine numbers it (cuda:1 is the server's
    cuda:0, but it must exist here)."""
    monkeypatch.setenv(torch_device.FAKE_ENV, "1")
    on = {"runtime": "pytorch"}
    assert "there is 1 CUDA device(s) here" in LitServe(ServingModelSettings(device="cuda:1", **on)).cannot_place("fake-tiny")
    monkeypatch.setenv(torch_device.FAKE_ENV, "0")
    assert "asked for, but" in LitServe(ServingModelSettings(device="cuda", **on)).cannot_place("fake-tiny")
    assert LitServe(ServingModelSettings(**on)).cannot_place("fake-tiny") is None


@pytest.mark.parametrize("runtime, device, precision, reason", [
    ("openvino", "cuda:0", "fp32", "Intel GPUs"),
    ("onnxruntime", "cuda:0", "fp16", "exported fp32 graph"),
    ("sklearn", "cuda:0", "fp32", "no setting for fp32 on cuda:0"),
])
def test_an_engine_inside_without_the_setting_is_a_reason_not_a_traceback(runtime, device, precision, reason, monkeypatch):
    monkeypatch.setenv(torch_device.FAKE_ENV, "1")
    why = LitServe(ServingModelSettings(runtime=runtime, device=device, precision=precision)).cannot_place("resnet50")
    assert why and reason in why and f"runtime {runtime}" in why


def test_each_engine_names_its_own_settings_for_a_device_and_precision():
    assert PyTorchEager.placement("cuda", "fp16") == {"device": "cuda:0", "precision": "fp16"}
    assert OnnxRuntime.placement("cuda:0", "fp32") == {"provider": "cuda", "device_id": 0}
    assert OnnxRuntime.placement("cpu", "fp32") == OpenVino.placement("cpu", "fp32") == {}
    assert OpenVino.placement("cpu", "bf16") == {"inference_precision": "bf16"}
    with pytest.raises(UnsupportedError):
        OpenVino.placement("cuda:0", "fp32")


def test_triton_puts_its_instances_on_the_gpu_it_sees():
    assert Triton(TritonSettings(workers=2)).instance_group() == "instance_group [{ count: 2 kind: KIND_CPU }]"
    assert Triton(TritonSettings(workers=2, device="cuda:3")).instance_group() == "instance_group [{ count: 2 kind: KIND_GPU gpus: [0] }]"


def test_tf_serving_runs_on_a_gpu_only_when_its_binary_is_said_to_be_a_cuda_build(monkeypatch):
    """It runs the model itself: whether the GPU exists is NVML's answer (no engine of infermeter's is inside)."""
    from infermeter.collectors import gpu

    assert "gpu_build: true" in TfServing(TfServingSettings(device="cuda")).cannot_place("resnet50")
    monkeypatch.setattr(gpu, "open_nvml", lambda: (None, "no NVIDIA GPU here (NVML: driver not loaded)"))
    assert "driver not loaded" in TfServing(TfServingSettings(device="cuda", gpu_build=True)).cannot_place("resnet50")
    monkeypatch.setattr(gpu, "open_nvml", lambda: (gpu.FakeNvml(["T4-fake"], lambda i, t: {}), None))
    assert TfServing(TfServingSettings(device="cuda", gpu_build=True)).cannot_place("resnet50") is None
    assert "1 GPU(s)" in TfServing(TfServingSettings(device="cuda:1", gpu_build=True)).cannot_place("resnet50")
    assert "fp32" in TfServing(TfServingSettings(precision="fp16", gpu_build=True)).cannot_place("resnet50")
    assert TfServing().cannot_place("resnet50") is None


def test_the_defaults_place_nothing_and_write_what_they_always_wrote(tmp_path, tiny_module):
    adapter = LitServe(ServingModelSettings(runtime="pytorch"))
    adapter.serving_config(get_workload("fake-tiny"), _Exporter(tiny_module), tmp_path)
    config = ServingConfig.read(tmp_path)
    assert config.engine == {} and config.visible_devices == ""
    assert np.asarray(ServingModel(config).infer({"x": np.zeros((1, 16), np.float32)})).shape == (1, 4)


def test_tensorflow_and_openvino_refuse_a_device_they_do_not_see_with_the_reason():
    """TensorFlow would otherwise put ops on any GPU it sees; OpenVINO's GPU is an Intel one."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("openvino")
    from infermeter.engines.tensorflow_engine import TensorFlow

    tf_gpu = TensorFlow(TensorFlow.Settings(device="cuda:0"))
    if tf_gpu.unavailable() is None:
        pytest.skip("this TensorFlow sees a GPU")
    assert "sees 0 GPU(s)" in tf_gpu.unavailable() and "gpu" in tf_gpu.capabilities
    with pytest.raises(UnsupportedError, match="sees 0 GPU"):
        tf_gpu.load(Path("unused"), [])
    assert TensorFlow().unavailable() is None and TensorFlow.placement("cuda:0", "fp32") == {"device": "cuda:0"}
    with pytest.raises(UnsupportedError, match="fp32"):
        TensorFlow.placement("cpu", "fp16")
    ov_gpu = OpenVino(OpenVino.Settings(device="GPU.1"))
    assert "asked for, but OpenVINO finds only" in ov_gpu.unavailable()
    assert OpenVino(OpenVino.Settings(device="AUTO")).unavailable() is None
