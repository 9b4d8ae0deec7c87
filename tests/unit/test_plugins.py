"""Engines, servers and workloads are plugins (infermeter/plugins.py): a package installed beside infermeter
adds one without touching infermeter; a broken plugin is named and left out; test doubles exist only where
INFERMETER_PLUGIN_MODULES names infermeter.testing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# A whole plugin package: a workload that writes its own artifact format and an engine that runs it. This
# is everything a third party writes; infermeter's code is not touched.
PLUGIN_MODULE = '''
"""An infermeter plugin: the `echo-tiny` workload and the `echo` engine that runs it."""
from pathlib import Path

import numpy as np

from infermeter.engines.base import Engine, EngineSettings
from infermeter.workloads.base import Provenance, TensorSpec, Workload


class EchoTiny(Workload):
    name = "echo-tiny"
    task = "plugin example"
    description = "8 inputs -> 2 outputs through a seeded matrix (a plugin's workload)"
    requires = ()
    formats = frozenset({"echo"})
    reference_engine = "echo"

    def input_specs(self):
        return [TensorSpec("x", (None, 8), "float32")]

    def _load_samples(self):
        rng = np.random.default_rng(self.seed)
        return [{"x": rng.standard_normal(8).astype(np.float32)} for _ in range(4)]

    def export(self, fmt, out: Path):
        if fmt != "echo":
            return None
        np.save(out / "w.npy", np.random.default_rng(self.seed + 1).standard_normal((8, 2)).astype(np.float32))
        return "w.npy", "numpy.save"

    def torch_module(self):
        raise NotImplementedError

    def provenance(self):
        return Provenance(weights="seeded random matrix", inputs="seeded random vectors")


class Echo(Engine):
    name = "echo"
    description = "a plugin's engine: one matrix product in numpy"
    artifact_format = "echo"
    requires = ()
    packages = ()
    install_hint = ""
    Settings = EngineSettings

    def load(self, artifact, inputs, cache_dir=None):
        self.w = np.load(artifact)
        self.input = inputs[0].name

    def predict(self, batch):
        return batch[self.input] @ self.w
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "infermeter-echo"
version = "0.1"

[project.entry-points."infermeter.engines"]
echo = "infermeter_echo:Echo"

[project.entry-points."infermeter.workloads"]
echo-tiny = "infermeter_echo:EchoTiny"
'''


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infermeter.cli.main", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


def pip_install(package: Path, site: Path) -> dict[str, str]:
    """Build and install `package` (pip, offline) into `site`; the environment that puts it on the path."""
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                        "--target", str(site), str(package)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH", "")])))


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory) -> dict[str, str]:
    """The plugin package built and installed (pip, into a folder of its own put on the path)."""
    root = tmp_path_factory.mktemp("plugin")
    pkg = root / "infermeter-echo"
    (pkg / "infermeter_echo").mkdir(parents=True)
    (pkg / "infermeter_echo" / "__init__.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    (pkg / "pyproject.toml").write_text(PYPROJECT)
    env = pip_install(pkg, root / "site")
    env.pop("INFERMETER_PLUGIN_MODULES", None)  # a user's machine: no test doubles
    return env


def test_an_installed_plugin_package_adds_an_engine_and_a_workload_that_run(installed_plugin, tmp_path):
    listed = cli("engines", env=installed_plugin)
    assert listed.returncode == 0, listed.stderr
    assert "echo" in listed.stdout and "a plugin's engine" in listed.stdout and "pytorch" in listed.stdout
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: plugin\nworkloads: [echo-tiny]\nengines: [echo]\nscenarios: [single-stream]\n"
                     "warmup: {iterations: 1, seconds: 0, max_seconds: 1, window: 8}\n"
                     "measure: {repeats: 1, min_iterations: 5, min_seconds: 0.1}\n")
    r = cli("run", str(suite), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), env=installed_plugin)
    assert r.returncode == 0, r.stderr[-3000:]
    (rec,) = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert rec["status"] == "ok" and rec["engine"]["name"] == "echo" and rec["parity"]["verdict"] == "match"
    assert rec["metrics"]["latency_ms"]["p50"] > 0


def write_dist(site: Path, name: str, entry_points: str) -> None:
    """A distribution's metadata as an installer leaves it: what importlib.metadata reads."""
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"  # installers' spelling; the name is read from the stem
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_a_broken_or_impostor_plugin_is_named_and_left_out(tmp_path, monkeypatch, caplog):
    from infermeter import plugins

    write_dist(tmp_path, "infermeter-broken", "[infermeter.engines]\nbroken = no_such_module:Engine\n"
               "pytorch = impostor:PyTorch\n"
               "misnamed = infermeter.engines.sklearn_engine:ScikitLearn\n")
    (tmp_path / "impostor.py").write_text("class PyTorch:\n    name = 'pytorch'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("INFERMETER_PLUGIN_MODULES", raising=False)
    found = plugins.discover("engines")
    assert found["pytorch"].__name__ == "PyTorchEager"  # the built-in keeps its name
    assert "broken" not in found and "misnamed" not in found and "onnxruntime" in found
    notes = caplog.text
    assert "broken = no_such_module:Engine (from infermeter-broken) is left out: importing it failed" in notes
    assert "the name 'pytorch' is taken by infermeter.engines.torch_engines.PyTorchEager" in notes
    assert "is named 'sklearn', not 'misnamed'" in notes


def test_test_doubles_exist_only_where_infermeter_testing_is_named():
    env = {k: v for k, v in os.environ.items() if k != "INFERMETER_PLUGIN_MODULES"}
    probe = ("from infermeter.engines.registry import ENGINES; from infermeter.workloads.registry import WORKLOADS; "
             "print('fake' in ENGINES, 'fake-tiny' in WORKLOADS)")
    plain = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert plain.stdout.split() == ["False", "False"], plain.stderr
    env["INFERMETER_PLUGIN_MODULES"] = "infermeter.testing"
    named = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert named.stdout.split() == ["True", "True"], named.stderr


SERVER_PLUGIN = Path(__file__).resolve().parents[1] / "data" / "plugins" / "infermeter-stdlib-server"


def test_a_serving_framework_added_as_a_plugin_package_is_deployed_and_measured(tmp_path):
    """tests/data/plugins/infermeter-stdlib-server is all a new framework needs: one folder (adapter, the
    code run inside, its facts) and one entry-point line."""
    source = tmp_path / "src"
    shutil.copytree(SERVER_PLUGIN, source)  # a build writes build/ and egg-info beside the sources: not in the checkout
    env = pip_install(source, tmp_path / "site")
    listed = cli("servers", env=env | {"COLUMNS": "250"})
    assert listed.returncode == 0 and "stdlib-http" in listed.stdout, listed.stderr
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: plugin-server\nworkloads: [malware-gbt]\nservers: [stdlib-http]\n"
                     "load: {users: [1], warmup_s: 0.2, min_seconds: 0.5, min_requests: 5, repeats: 1, timeout_s: 30}\n"
                     "overhead: {reference: false}\n")
    r = cli("run", str(suite), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"), env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    (rec,) = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert rec["status"] == "ok" and rec["server"]["name"] == "stdlib-http", rec.get("error")
    assert rec["answers"]["verdict"] == "match" and rec["metrics"]["failures"] == 0 and rec["metrics"]["requests"] >= 5
    assert rec["deployment"]["url"].startswith("http://127.0.0.1:")
