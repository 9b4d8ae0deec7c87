"""MLServer's adapter (facts: servers/mlserver/__init__.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import Field

from infermeter.export.artifacts import Exporter
from infermeter.protocols.v2 import V2Endpoint
from infermeter.servers.common import envs, prometheus
from infermeter.servers.base import Deployment, ServerAdapter, ServingModelSettings
from infermeter.servers.common.entry_points import entry_point
from infermeter.servers.common.process import ServerProcess, free_port
from infermeter.workloads.base import TORCH, Workload, file_slug


class MLServerSettings(ServingModelSettings):
    protocol: Literal["http", "grpc"] = Field("http", description="V2 REST (JSON) or V2 gRPC")
    parallel_workers: int | None = Field(None, ge=0, description="inference worker processes (0: in the main process); "
                                         "default: `workers`")


class MLServer(ServerAdapter):
    name = "mlserver"
    description = "MLServer 1.7 (Seldon), custom runtime per workload, V2 REST or gRPC, adaptive batching"
    requirements = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22"]
    artifact_format = TORCH
    protocol = "V2 REST (JSON) or V2 gRPC"
    features = frozenset({"dynamic batching", "model versions", "metrics endpoint", "gRPC", "V2 protocol", "custom handlers"})
    licence = "Apache-2.0"
    maintenance = "active (Seldon; 1.7.1 newest on PyPI)"
    released = "2025-06-06"
    Settings = MLServerSettings

    def deploy(self, workload: Workload, exporter: Exporter, workdir: Path) -> Deployment:
        self.require_runnable()
        s: MLServerSettings = self.settings  # type: ignore[assignment]
        model = file_slug(workload.name).replace(".", "_")
        model_dir = workdir / "models" / model
        model_dir.mkdir(parents=True, exist_ok=True)
        serving = self.serving_config(workload, exporter, model_dir)
        entry_point(__package__, "runtime.py", model_dir, "mlserver_runtime.py")
        ports = {k: free_port() for k in ("http", "grpc", "metrics")}
        workers = s.workers if s.parallel_workers is None else s.parallel_workers
        (workdir / "models" / "settings.json").write_text(json.dumps({
            "host": "127.0.0.1", "http_port": ports["http"], "grpc_port": ports["grpc"], "metrics_port": ports["metrics"],
            "parallel_workers": workers, "debug": False, "load_models_at_startup": True,
        }))
        model_settings: dict = {
            "name": model, "implementation": "mlserver_runtime.InfermeterRuntime",
            "parameters": {"uri": str(model_dir / "serving.json")},
        }
        if s.max_batch_size > 1:
            model_settings |= {"max_batch_size": s.max_batch_size, "max_batch_time": s.max_batch_delay_ms / 1000}
        (model_dir / "model-settings.json").write_text(json.dumps(model_settings))
        bin_dir = envs.env_bin(self.name)
        env = self.server_env(bin_on_path=True, MLSERVER_HOST="127.0.0.1")  # loopback even if settings.json were missed
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(model_dir), env.get("PYTHONPATH", "")) if p)
        endpoint = V2Endpoint(model, f"http://127.0.0.1:{ports['http']}", f"127.0.0.1:{ports['grpc']}",
                              binary=False, bytes_encoding=serving.bytes_encoding)
        payloads = workload.payloads()
        target = endpoint.grpc_target(payloads) if s.protocol == "grpc" else endpoint.http_target(payloads)
        proc = ServerProcess(self.name, [str(bin_dir / "mlserver"), "start", str(workdir / "models")], workdir / "server.log",
                             cwd=workdir, env=env, ready=endpoint.ready, ready_timeout_s=s.ready_timeout_s)
        return Deployment(proc, target, v2=endpoint, answer=lambda p: endpoint.answer(p, s.protocol),
                          info={"framework": "mlserver", "version": self.version(), "model": model, "ports": ports,
                                "protocol": "V2 gRPC" if s.protocol == "grpc" else "V2 REST (JSON)", "runtime": serving.runtime,
                                "parallel_workers": workers, "batching": s.max_batch_size > 1},
                          metrics_url=f"http://127.0.0.1:{ports['metrics']}/metrics")

    def server_metrics(self, deployment: Deployment) -> dict[str, float]:
        if not deployment.metrics_url:
            return {}
        # MLServer's histogram of model inference time (seconds), summed over models.
        m = prometheus.scrape(deployment.metrics_url, ("model_infer_request_duration_sum", "model_infer_request_duration_count"))
        if "model_infer_request_duration_count" not in m:
            return {}
        return {"inference_us_total": m["model_infer_request_duration_sum"] * 1e6, "requests_total": m["model_infer_request_duration_count"]}
