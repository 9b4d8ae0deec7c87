"""MLflow's adapter (facts: servers/mlflow/__init__.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from pydantic import model_validator

from infermeter.export.artifacts import Exporter
from infermeter.protocols.http import HttpTarget
from infermeter.protocols.rest import http_answer, http_ready, json_payload_bodies
from infermeter.servers.common import envs
from infermeter.servers.base import Deployment, ServerAdapter, ServingModelSettings
from infermeter.servers.common.entry_points import entry_point
from infermeter.servers.common.process import ServerFailedError, ServerProcess, free_port
from infermeter.workloads.base import TORCH, Workload


class MLflowSettings(ServingModelSettings):
    @model_validator(mode="after")
    def _no_batching(self) -> MLflowSettings:
        if self.max_batch_size > 1:
            raise ValueError("MLflow's model server has no request batching: leave max_batch_size at 1")
        return self


def invocation_bodies(payloads: list[bytes], bytes_encoding: str) -> list[bytes]:
    """{"inputs": [TEXT]} bodies, one payload each."""
    return [json.dumps({"inputs": [json.loads(b)["payload"]]}).encode() for b in json_payload_bodies(payloads, bytes_encoding)]


class MLflow(ServerAdapter):
    name = "mlflow"
    description = "MLflow 3.17 `mlflow models serve` (pyfunc model per workload), JSON /invocations"
    requirements = ["mlflow==3.17.2"]
    artifact_format = TORCH
    protocol = "REST (MLflow /invocations, JSON inputs)"
    features = frozenset({"model versions", "custom handlers"})
    licence = "Apache-2.0"
    maintenance = "active (Databricks; 3.18.0 newest on PyPI)"
    released = "2026-10-21"
    Settings = MLflowSettings

    def deploy(self, workload: Workload, exporter: Exporter, workdir: Path) -> Deployment:
        self.require_runnable()
        s = self.settings
        serving = self.serving_config(workload, exporter, workdir)
        bin_dir = envs.env_bin(self.name)
        # The tracking URI is a local directory: never a remote tracking server.
        env = self.server_env(bin_on_path=True, MLFLOW_TRACKING_URI=(workdir / "mlruns").as_uri())
        script = entry_point(__package__, "model.py", workdir, "mlflow_model.py")
        model_dir = workdir / "model"
        saved = subprocess.run([str(bin_dir / "python"), str(script), "--serving-config", str(workdir / "serving.json"),
                                "--out", str(model_dir)], cwd=workdir, env=env, capture_output=True, text=True)
        if saved.returncode != 0:
            raise ServerFailedError(f"saving the MLflow model failed: {saved.stderr[-1500:]}")
        port = free_port()
        cmd = [str(bin_dir / "mlflow"), "models", "serve", "-m", str(model_dir), "--env-manager", "local",
               "-h", "127.0.0.1", "-p", str(port), "-w", str(s.workers)]
        base = f"http://127.0.0.1:{port}"
        target = HttpTarget(f"{base}/invocations", "POST", headers=(("Content-Type", "application/json"),),
                            bodies=tuple(invocation_bodies(workload.payloads(), serving.bytes_encoding)))

        def answer(payload: bytes) -> Any:
            return http_answer(target, invocation_bodies([payload], serving.bytes_encoding)[0])["predictions"][0]

        proc = ServerProcess(self.name, cmd, workdir / "server.log", cwd=workdir, env=env, ready=http_ready(f"{base}/ping"), ready_timeout_s=s.ready_timeout_s)
        return Deployment(proc, target, answer=answer,
                          info={"framework": "mlflow", "version": self.version(), "protocol": self.protocol, "ports": {"http": port},
                                "runtime": serving.runtime, "workers": s.workers})
