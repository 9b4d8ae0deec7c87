"""Ray Serve's adapter (facts: servers/rayserve/__init__.py)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from infermeter.export.artifacts import Exporter
from infermeter.protocols.rest import json_payload_target
from infermeter.servers.common import envs
from infermeter.servers.base import Deployment, ServerAdapter, ServingModelSettings
from infermeter.servers.common.entry_points import entry_point
from infermeter.servers.common.process import ServerProcess, free_port
from infermeter.workloads.base import TORCH, Workload


# Ray's token authentication on, whatever the user's environment says (RAY_AUTH_MODE=disabled there would
# leave the local cluster's GCS and job APIs open to every local user: they run code). Ray makes the
# token itself for a local cluster (2.52+).
RAY_AUTH = {"RAY_AUTH_MODE": "token"}


class RayServe(ServerAdapter):
    name = "rayserve"
    description = "Ray Serve 2.60 deployment per workload (local Ray cluster on 127.0.0.1), JSON REST, optional batching"
    requirements = ["ray[serve]==2.60.0"]
    artifact_format = TORCH
    protocol = "REST (JSON)"
    features = frozenset({"dynamic batching", "metrics endpoint", "gRPC", "custom handlers"})
    licence = "Apache-2.0"
    maintenance = "active (Anyscale; ray 2.60.0 newest on PyPI)"
    released = "2026-11-04"
    Settings = ServingModelSettings
    gpu_placement = "num_gpus 1/replicas per replica: Ray shares the server's one visible GPU among the replicas"

    def deploy(self, workload: Workload, exporter: Exporter, workdir: Path) -> Deployment:
        self.require_runnable()
        s = self.settings
        serving = self.serving_config(workload, exporter, workdir)
        app = entry_point(__package__, "app.py", workdir, "rayserve_app.py")
        port = free_port()
        batched = s.max_batch_size > 1
        cmd = [str(envs.env_bin(self.name) / "python"), str(app), "--serving-config", str(workdir / "serving.json"),
               "--port", str(port), "--replicas", str(s.workers), "--max-batch-size", str(s.max_batch_size),
               "--batch-wait-s", str(s.max_batch_delay_ms / 1000 if batched else 0.0),
               "--gpu-share", "0" if s.device == "cpu" else str(1 / s.workers)]
        env = self.server_env(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_USAGE_STATS_ENABLED="0", RAY_DEDUP_LOGS="0", **RAY_AUTH)
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            with urllib.request.urlopen(f"{base}/-/routes", timeout=2) as r:
                return "/predict" in json.loads(r.read())

        target, answer = json_payload_target(f"{base}/predict", workload.payloads(), serving.bytes_encoding)
        proc = ServerProcess(self.name, cmd, workdir / "server.log", cwd=workdir, env=env, ready=ready, ready_timeout_s=s.ready_timeout_s)
        return Deployment(
            proc, target, answer=answer,
            info={"framework": "rayserve", "version": self.version(), "protocol": self.protocol, "ports": {"http": port},
                  "runtime": serving.runtime, "replicas": s.workers, "batching": batched},
        )
