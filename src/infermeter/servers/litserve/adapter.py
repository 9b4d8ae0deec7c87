"""LitServe's adapter (facts: servers/litserve/__init__.py)."""

from __future__ import annotations

from pathlib import Path

from infermeter.export.artifacts import Exporter
from infermeter.protocols.rest import http_ready, json_payload_target
from infermeter.servers.common import envs
from infermeter.servers.base import Deployment, ServerAdapter, ServingModelSettings
from infermeter.servers.common.entry_points import entry_point
from infermeter.servers.common.process import ServerProcess, free_port
from infermeter.workloads.base import TORCH, Workload


class LitServe(ServerAdapter):
    name = "litserve"
    description = "LitServe 0.2 (Lightning AI), LitAPI per workload, JSON REST, optional batching"
    requirements = ["litserve==0.2.19"]
    artifact_format = TORCH
    protocol = "REST (JSON)"
    features = frozenset({"dynamic batching", "custom handlers"})
    licence = "Apache-2.0"
    maintenance = "active (Lightning AI; 0.2.19 newest on PyPI)"
    released = "2026-09-09"
    Settings = ServingModelSettings
    gpu_placement = "accelerator cuda, devices 1: every worker (workers_per_device) on the server's GPU"

    def deploy(self, workload: Workload, exporter: Exporter, workdir: Path) -> Deployment:
        self.require_runnable()
        s = self.settings
        serving = self.serving_config(workload, exporter, workdir)
        app = entry_point(__package__, "app.py", workdir, "litserve_app.py")
        port = free_port()
        cmd = [str(envs.env_bin(self.name) / "python"), str(app), "--serving-config", str(workdir / "serving.json"),
               "--port", str(port), "--workers", str(s.workers), "--max-batch-size", str(s.max_batch_size),
               "--batch-timeout", str(s.max_batch_delay_ms / 1000 if s.max_batch_size > 1 else 0.0),
               "--accelerator", "cpu" if s.device == "cpu" else "cuda"]
        base = f"http://127.0.0.1:{port}"
        target, answer = json_payload_target(f"{base}/predict", workload.payloads(), serving.bytes_encoding)
        proc = ServerProcess(self.name, cmd, workdir / "server.log", cwd=workdir, env=self.server_env(),
                             ready=http_ready(f"{base}/health"), ready_timeout_s=s.ready_timeout_s)
        return Deployment(proc, target, answer=answer,
                          info={"framework": "litserve", "version": self.version(), "protocol": self.protocol, "ports": {"http": port},
                                "runtime": serving.runtime, "workers": s.workers, "batching": s.max_batch_size > 1})
