"""A user's own model file: `infermeter run --model PATH`."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def cli(*args):
    return subprocess.run([sys.executable, "-m", "infermeter.cli.main", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    d = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)).eval()
    x = torch.randn(2, 32)
    torch.onnx.export(net, (x,), str(d / "tiny.onnx"), input_names=["features"], output_names=["out"],
                      dynamic_axes={"features": {0: "batch"}}, opset_version=17, dynamo=False)
    torch.jit.save(torch.jit.trace(net, x), str(d / "tiny.pt"))
    return d


def test_onnx_file_runs_on_onnxruntime_and_openvino_with_parity(tiny_models, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("openvino")
    r = cli("run", "--model", str(tiny_models / "tiny.onnx"), "-e", "onnxruntime", "-e", "openvino", "-b", "1", "-b", "4",
            "--repeats", "2", "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"))
    assert r.returncode == 0, r.stderr[-2000:]
    recs = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert len(recs) == 2 * 2 * 2 and all(x["status"] == "ok" for x in recs)
    assert {x["parity"]["reference_engine"] for x in recs} == {"onnxruntime"}
    assert all(x["parity"]["agreement"] == 1.0 for x in recs)
    assert "seeded random inputs" in recs[0]["workload"]["provenance"]["inputs"]


def test_torchscript_file_needs_shapes_and_says_how(tiny_models, tmp_path):
    r = cli("run", "--model", str(tiny_models / "tiny.pt"), "-e", "torchscript", "--out", str(tmp_path / "a"))
    assert r.returncode == 2 and "?input=3x224x224" in r.stderr and "Traceback" not in r.stderr


def test_torchscript_file_with_shapes_runs(tiny_models, tmp_path):
    r = cli("run", "--model", f"{tiny_models / 'tiny.pt'}?x=32", "-e", "torchscript", "--repeats", "1",
            "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"))
    assert r.returncode == 0, r.stderr[-2000:]
    rec = json.loads((tmp_path / "out" / "results.jsonl").read_text().splitlines()[0])
    assert rec["status"] == "ok" and rec["parity"]["agreement"] == 1.0


def test_unknown_model_format_is_a_clear_error(tmp_path):
    f = tmp_path / "model.bin"
    f.write_bytes(b"\0")
    r = cli("run", "--model", str(f))
    assert r.returncode == 2 and "cannot tell the model format" in r.stderr
