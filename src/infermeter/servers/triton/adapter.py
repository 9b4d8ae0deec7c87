"""Triton's adapter (facts: servers/triton/__init__.py)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

import infermeter
from infermeter.errors import NotInstalledError
from infermeter.export.artifacts import Exporter
from infermeter.protocols.v2 import V2Endpoint
from infermeter.servers.base import Deployment, ServerAdapter, ServingModelSettings
from infermeter.servers.common import envs, prometheus
from infermeter.servers.common.entry_points import entry_point
from infermeter.servers.common.process import ServerProcess, free_port
from infermeter.workloads.base import TORCH, Workload, file_slug


class TritonSettings(ServingModelSettings):
    protocol: Literal["http", "grpc"] = Field("http", description="V2 over HTTP (binary tensors) or over gRPC")

    @field_validator("runtime")
    @classmethod
    def _not_sklearn(cls, v: str | None) -> str | None:
        if v == "sklearn":
            raise ValueError("Triton's Python backend stub needs numpy<2, where scikit-learn models pickled with numpy 2 "
                             "cannot load; use runtime onnxruntime (the tree model exported with skl2onnx)")
        return v


# Triton's APIs that infermeter never calls (it uses health, metadata and inference): behind a random key,
# so that nothing else on the machine can register shared memory, change log files or write traces.
RESTRICTED_APIS = ("shared-memory", "model-config", "model-repository", "statistics", "trace", "logging")
RESTRICTED_HEADER = "infermeter-admin-key"


def restricted_api_args(key: str) -> list[str]:
    """tritonserver 2.51's flags for RESTRICTED_APIS over HTTP and gRPC (the key is per start; it can only
    be given on the command line, which other local users can read: a second layer, not a secret)."""
    group = f"{','.join(RESTRICTED_APIS)}:{RESTRICTED_HEADER}={key}"
    return [f"--http-restricted-api={group}", f"--grpc-restricted-protocol={group}"]


class Triton(ServerAdapter):
    name = "triton"
    description = "Triton Inference Server 2.51 (nvidia-pytriton's binary), Python backend, V2 HTTP"
    # Only the binary and the Python backend are used (--no-deps). The backend stub was built against
    # numpy 1.x: with numpy 2 its tensors come out with a zero stride (BYTES lengths read as 0x22222222)
    # and the stub dies. It runs isolated (no PYTHONPATH), but sys.path[0] is its working directory, so
    # numpy<2 from this environment is linked into the server's working directory (see deploy).
    requirements = ["nvidia-pytriton==0.7.0", "numpy<2"]
    pip_args = ["--no-deps"]
    artifact_format = TORCH
    protocol = "V2 HTTP (binary tensor extension) or V2 gRPC"
    features = frozenset({"dynamic batching", "model versions", "metrics endpoint", "gRPC", "V2 protocol", "custom handlers"})
    licence = "BSD-3-Clause (server; PyTriton: Apache-2.0)"
    maintenance = "active (NVIDIA; tritonclient 2.73.0 newest on PyPI; PyTriton 0.7.0)"
    released = "2025-08-13 (PyTriton 0.7.0)"
    Settings = TritonSettings
    gpu_placement = "instance_group KIND_GPU: every instance on the server's GPU (gpus: [0], the one it sees)"

    def instance_group(self) -> str:
        """The model's instances: `workers` of them, on the CPU or on the server's one visible GPU."""
        kind = "KIND_CPU" if self.settings.device == "cpu" else "KIND_GPU gpus: [0]"
        return f"instance_group [{{ count: {self.settings.workers} kind: {kind} }}]"

    def _root(self) -> Path:
        py = envs.env_bin(self.name) / "python"
        site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        return Path(site)

    def runtime(self, workload: str) -> str | None:
        chosen = super().runtime(workload)
        return "onnxruntime" if chosen == "sklearn" else chosen  # see TritonSettings: no scikit-learn in the stub

    def deploy(self, workload: Workload, exporter: Exporter, workdir: Path) -> Deployment:
        self.require_runnable()
        s: TritonSettings = self.settings  # type: ignore[assignment]
        site = self._root()
        triton = site / "pytriton" / "tritonserver"
        libs = site / "nvidia_pytriton.libs"
        backends = triton / "backends"
        stub = backends / "python" / "triton_python_backend_stub"
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        if not stub.exists():
            source = triton / "python_backend_stubs" / version / "triton_python_backend_stub"
            if not source.exists():
                raise NotInstalledError(f"nvidia-pytriton ships no Python backend stub for Python {version}", "use Python 3.8-3.13")
            shutil.copy2(source, stub)
        model = file_slug(workload.name).replace(".", "_")
        repo = workdir / "repo"
        (repo / model / "1").mkdir(parents=True, exist_ok=True)
        entry_point(__package__, "model.py", repo / model / "1")
        serving = self.serving_config(workload, exporter, workdir)
        batched = s.max_batch_size > 1
        params = {"infermeter_site": sysconfig.get_paths()["purelib"], "serving_config": str(workdir / "serving.json")}
        # The infermeter that runs here, where it is not the one installed in that site-packages (a checkout
        # on PYTHONPATH, an editable install): the stub must import the same code that wrote serving.json.
        here = str(Path(infermeter.__file__).resolve().parents[1])
        if here != str(Path(params["infermeter_site"]).resolve()):
            params["infermeter_path"] = here
        config = [
            f'name: "{model}"', 'backend: "python"', f"max_batch_size: {s.max_batch_size if batched else 0}",
            'input [{ name: "payload" data_type: TYPE_STRING dims: [1] }]',
            'output [{ name: "result" data_type: TYPE_STRING dims: [1] }]',
            self.instance_group(),
        ]
        if batched:
            config.append(f"dynamic_batching {{ max_queue_delay_microseconds: {int(s.max_batch_delay_ms * 1000)} }}")
        for k, v in params.items():
            config.append(f'parameters {{ key: "{k}" value: {{ string_value: "{v}" }} }}')
        (repo / model / "config.pbtxt").write_text("\n".join(config) + "\n")

        ports = {k: free_port() for k in ("http", "grpc", "metrics")}
        cmd = [
            str(triton / "bin" / "tritonserver"), "--model-repository", str(repo), "--backend-directory", str(backends),
            "--http-address", "127.0.0.1", "--http-port", str(ports["http"]),
            "--grpc-address", "127.0.0.1", "--grpc-port", str(ports["grpc"]),
            "--metrics-address", "127.0.0.1", "--metrics-port", str(ports["metrics"]), "--allow-metrics", "true",
            "--allow-gpu-metrics", "false", "--exit-timeout-secs", "10", "--strict-readiness", "true",
            "--allow-sagemaker", "false", "--allow-vertex-ai", "false", *restricted_api_args(secrets.token_hex(16)),
        ]
        for pkg in ("numpy", "numpy.libs"):
            link = workdir / pkg
            if not link.exists():
                link.symlink_to(site / pkg, target_is_directory=True)
        env = self.server_env()
        pylib = sysconfig.get_config_var("LIBDIR") or ""
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(libs), pylib, env.get("LD_LIBRARY_PATH", "")) if p)
        base = f"http://127.0.0.1:{ports['http']}"

        endpoint = V2Endpoint(model, base, f"127.0.0.1:{ports['grpc']}", binary=True, batched_shape=batched)
        target = endpoint.grpc_target(workload.payloads()) if s.protocol == "grpc" else endpoint.http_target(workload.payloads())
        proc = ServerProcess(self.name, cmd, workdir / "server.log", cwd=workdir, env=env, ready=endpoint.ready, ready_timeout_s=s.ready_timeout_s)
        protocol = "V2 gRPC" if s.protocol == "grpc" else "V2 HTTP (binary tensor extension)"
        return Deployment(proc, target, v2=endpoint, answer=lambda p: endpoint.answer(p, s.protocol), info={"framework": "triton", "version": self.version(), "protocol": protocol,
                                               "model": model, "ports": ports, "runtime": serving.runtime, "batching": batched},
                          metrics_url=f"http://127.0.0.1:{ports['metrics']}/metrics")

    def server_metrics(self, deployment: Deployment) -> dict[str, float]:
        if not deployment.metrics_url:
            return {}
        m = prometheus.scrape(deployment.metrics_url, (
            "nv_inference_queue_duration_us", "nv_inference_compute_input_duration_us", "nv_inference_compute_infer_duration_us",
            "nv_inference_compute_output_duration_us", "nv_inference_request_success", "nv_inference_request_failure",
        ))
        return {
            "queue_us_total": m.get("nv_inference_queue_duration_us", 0.0),
            "inference_us_total": sum(m.get(f"nv_inference_compute_{k}_duration_us", 0.0) for k in ("input", "infer", "output")),
            "requests_total": m.get("nv_inference_request_success", 0.0) + m.get("nv_inference_request_failure", 0.0),
        }
