"""BentoML's adapter (facts: servers/bentoml/__init__.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field

from infermeter.export.artifacts import Exporter
from infermeter.protocols.http import HttpTarget
from infermeter.protocols.rest import http_answer, http_ready, json_payload_bodies
from infermeter.servers.common import envs
from infermeter.servers.base import Deployment, ServerAdapter, ServingModelSettings
from infermeter.servers.common.entry_points import entry_point
from infermeter.servers.common.process import ServerProcess, free_port
from infermeter.workloads.base import TORCH, Workload


class BentoMLSettings(ServingModelSettings):
    max_latency_ms: float = Field(60000.0, gt=0, description="adaptive batching: BentoML's latency budget per request "
                                  "(requests that cannot meet it get 503)")


def bento_bodies(payloads: list[bytes], bytes_encoding: str, batched: bool) -> list[bytes]:
    bodies = json_payload_bodies(payloads, bytes_encoding)
    if not batched:
        return bodies
    return [json.dumps({"payload": [json.loads(b)["payload"]]}).encode() for b in bodies]


class BentoML(ServerAdapter):
    name = "bentoml"
    description = "BentoML 1.4 service per workload, JSON REST, with or without adaptive batching"
    requirements = ["bentoml==1.4.39"]
    artifact_format = TORCH
    protocol = "REST (JSON)"
    features = frozenset({"dynamic batching", "model versions", "metrics endpoint", "custom handlers"})
    licence = "Apache-2.0"
    maintenance = "active (BentoML; 1.4.40 newest on PyPI)"
    released = "2026-05-07"
    Settings = BentoMLSettings

    def deploy(self, workload: Workload, exporter: Exporter, workdir: Path) -> Deployment:
        self.require_runnable()
        s: BentoMLSettings = self.settings  # type: ignore[assignment]
        serving = self.serving_config(workload, exporter, workdir)
        entry_point(__package__, "service.py", workdir, "bentoml_service.py")
        bin_dir = envs.env_bin(self.name)
        port = free_port()
        batched = s.max_batch_size > 1
        env = self.server_env(
            bin_on_path=True, BENTOML_DO_NOT_TRACK="True", BENTOML_HOME=str(workdir / "bentoml-home"),
            INFERMETER_SERVING_CONFIG=str(workdir / "serving.json"), INFERMETER_WORKERS=str(s.workers),
            INFERMETER_MAX_BATCH=str(s.max_batch_size), INFERMETER_MAX_LATENCY_MS=str(s.max_latency_ms),
        )
        cmd = [str(bin_dir / "bentoml"), "serve", "bentoml_service:Infermeter", "--host", "127.0.0.1", "-p", str(port),
               "--working-dir", str(workdir)]
        base = f"http://127.0.0.1:{port}"
        target = HttpTarget(f"{base}/predict", "POST", headers=(("Content-Type", "application/json"),),
                            bodies=tuple(bento_bodies(workload.payloads(), serving.bytes_encoding, batched)))

        def answer(payload: bytes) -> Any:
            got = http_answer(target, bento_bodies([payload], serving.bytes_encoding, batched)[0])
            return got[0] if batched else got

        proc = ServerProcess(self.name, cmd, workdir / "server.log", cwd=workdir, env=env, ready=http_ready(f"{base}/readyz"), ready_timeout_s=s.ready_timeout_s)
        return Deployment(proc, target, answer=answer,
                          info={"framework": "bentoml", "version": self.version(), "protocol": self.protocol, "ports": {"http": port},
                                "runtime": serving.runtime, "workers": s.workers, "batching": batched})
