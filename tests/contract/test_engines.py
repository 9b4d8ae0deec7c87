"""One contract every real engine passes: loads its artifact, predicts the right shapes, agrees with the
PyTorch reference, and lets go of the model on close()."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from infermeter.collectors.process import rss_mb
from infermeter.engines.registry import ENGINES
from infermeter.export.artifacts import Exporter
from infermeter.export.parity import check_parity, reference_outputs
from infermeter.workloads.registry import get_workload, missing_requirements, WORKLOADS

# MiniLM is the smallest real model (and has real weights); TensorFlow runs the Keras vision models.
CASES = [
    ("pytorch", "all-minilm-l6-v2"),
    ("torchscript", "all-minilm-l6-v2"),
    ("torch-compile", "all-minilm-l6-v2"),
    ("onnxruntime", "all-minilm-l6-v2"),
    ("openvino", "all-minilm-l6-v2"),
    ("tensorflow", "resnet50"),
    ("sklearn", "malware-gbt"),  # the tabular reference; ONNX from skl2onnx must agree with it
    ("onnxruntime", "malware-gbt"),
    ("openvino", "crypto-lstm"),
]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def exporters(cache_root):
    made: dict[str, Exporter] = {}

    def get(name: str) -> Exporter:
        if name not in made:
            made[name] = Exporter(get_workload(name), cache_root)
        return made[name]

    return get


@pytest.mark.parametrize("engine_name, workload_name", CASES)
def test_engine_contract(engine_name, workload_name, exporters):
    cls = ENGINES[engine_name]
    if cls.missing() or missing_requirements(WORKLOADS[workload_name]):
        pytest.skip(f"{engine_name} or {workload_name} not installed here")
    exporter = exporters(workload_name)
    workload = exporter.workload
    artifact = exporter.artifact(cls.artifact_format)
    assert artifact.size_bytes > 0 and artifact.convert_s >= 0
    reference = reference_outputs(exporter)

    engine = cls()
    gc.collect()
    before = rss_mb()
    engine.load(artifact.path, workload.input_specs())
    out = engine.predict(workload.batch(2))
    assert isinstance(out, np.ndarray) and out.shape == (2, *reference.shape[1:])
    # Parity at a second batch size, except where a new shape means a new compile (torch.compile: ~25 s here).
    parity = check_parity(workload, engine, 2 if engine_name == "torch-compile" else 3, reference, "pytorch")
    assert parity["agreement"] == 1.0
    assert parity["max_abs_diff"] < 1e-3
    loaded = rss_mb()
    engine.close()
    del engine
    gc.collect()
    after = rss_mb()
    grown = loaded - before
    if grown > 50 and cls.close_frees_memory:  # the runtime's own first-use allocations may stay; the model must not
        assert after - before < 0.6 * grown + 60, f"close kept memory: {before:.0f} -> {loaded:.0f} -> {after:.0f} MB"


def test_unavailable_gpu_engine_says_so_clearly():
    from infermeter.engines.tensorrt_engine import TensorRt, gpu_status
    from infermeter.errors import NotInstalledError, UnsupportedError

    if gpu_status() is None:
        pytest.skip("a GPU is present")
    engine = TensorRt()
    with pytest.raises((UnsupportedError, NotInstalledError)) as err:
        TensorRt.check_installed()
        engine.load(None, [])  # type: ignore[arg-type]
    assert "not" in str(err.value)


def test_onnxruntime_cuda_provider_absent_here_is_a_clear_error(exporters):
    from infermeter.engines.onnxruntime_engine import OnnxRuntime, OnnxRuntimeSettings
    from infermeter.errors import UnsupportedError

    if OnnxRuntime.missing() or missing_requirements(WORKLOADS["all-minilm-l6-v2"]):
        pytest.skip("onnxruntime not installed")
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("CUDA provider present")
    exporter = exporters("all-minilm-l6-v2")
    engine = OnnxRuntime(OnnxRuntimeSettings(provider="cuda"))
    with pytest.raises(UnsupportedError, match="CUDAExecutionProvider is not available here"):
        engine.load(exporter.artifact("onnx").path, exporter.workload.input_specs())
