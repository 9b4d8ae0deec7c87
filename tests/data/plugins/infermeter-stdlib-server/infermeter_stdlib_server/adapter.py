"""The adapter: package the workload (serving.json), start app.py, say where requests go."""

from __future__ import annotations

import sys
from pathlib import Path

from infermeter.export.artifacts import Exporter
from infermeter.protocols.rest import http_ready, json_payload_target
from infermeter.servers.base import Deployment, ServerAdapter, ServingModelSettings
from infermeter.servers.common.entry_points import entry_point
from infermeter.servers.common.process import ServerProcess, free_port
from infermeter.workloads.base import TORCH, Workload


class StdlibHttp(ServerAdapter):
    name = "stdlib-http"
    description = "Python's http.server running infermeter's ServingModel (a plugin example)"
    requirements: list[str] = []
    artifact_format = TORCH
    protocol = "REST (JSON)"
    Settings = ServingModelSettings

    def missing(self) -> str | None:
        return None  # runs on infermeter's own Python: nothing to install

    def deploy(self, workload: Workload, exporter: Exporter, workdir: Path) -> Deployment:
        serving = self.serving_config(workload, exporter, workdir)
        app = entry_point(__package__, "app.py", workdir)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        target, answer = json_payload_target(f"{base}/predict", workload.payloads(), serving.bytes_encoding)
        proc = ServerProcess(self.name, [sys.executable, str(app), str(workdir / "serving.json"), str(port)],
                             workdir / "server.log", cwd=workdir, env=self.server_env(),
                             ready=http_ready(f"{base}/health"), ready_timeout_s=self.settings.ready_timeout_s)
        return Deployment(proc, target, answer=answer,
                          info={"framework": self.name, "protocol": self.protocol, "ports": {"http": port}, "runtime": serving.runtime})
