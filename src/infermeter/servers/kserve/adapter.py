"""KServe's adapter (facts: servers/kserve/__init__.py)."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from infermeter.export.artifacts import Exporter
from infermeter.protocols.http import HttpTarget
from infermeter.protocols.v2 import V2Endpoint
from infermeter.protocols.rest import http_answer
from infermeter.servers.common import envs
from infermeter.servers.base import Deployment, ServerAdapter, ServingModelSettings
from infermeter.servers.common.entry_points import entry_point
from infermeter.servers.common.payloads import v1_instances_bodies
from infermeter.servers.common.process import ServerProcess, free_port
from infermeter.workloads.base import SAVEDMODEL, Workload, file_slug


class KServeSettings(ServingModelSettings):
    protocol: Literal["v1", "v2", "v2-grpc"] = Field("v1", description="V1 (SavedModel on TensorFlow), V2 REST, or V2 gRPC")

    @model_validator(mode="after")
    def _no_batching(self) -> KServeSettings:
        if self.max_batch_size > 1:
            raise ValueError("KServe's model server has no request batching without Kubernetes: leave max_batch_size at 1")
        if self.protocol == "v1" and self.runtime not in (None, "tensorflow"):
            raise ValueError("protocol v1 serves the SavedModel on TensorFlow; choose protocol v2 for another runtime")
        return self


class KServe(ServerAdapter):
    name = "kserve"
    description = "KServe 0.21 Python model server (no Kubernetes): V1 with a SavedModel, or V2 REST / gRPC"
    requirements = ["kserve==0.21.0"]
    artifact_format = SAVEDMODEL
    protocol = "V1 REST (TF Serving's instances format) or V2 REST / gRPC"
    features = frozenset({"metrics endpoint", "gRPC", "V2 protocol", "custom handlers"})
    licence = "Apache-2.0"
    maintenance = "active (KServe community; 0.21.0 newest on PyPI)"
    released = "2026-09-25"
    Settings = KServeSettings

    def runtime(self, workload: str) -> str | None:
        if self.settings.protocol == "v1":  # type: ignore[attr-defined]
            return None
        return super().runtime(workload)

    def deploy(self, workload: Workload, exporter: Exporter, workdir: Path) -> Deployment:
        self.require_runnable()
        s: KServeSettings = self.settings  # type: ignore[assignment]
        model = file_slug(workload.name).replace(".", "_")
        app = entry_point(__package__, "app.py", workdir, "kserve_app.py")
        ports = {"http": free_port()}
        cmd = [str(envs.env_bin(self.name) / "python"), str(app), "v1" if s.protocol == "v1" else "v2", "--name", model,
               "--http-port", str(ports["http"]), "--threads", str(s.threads or 0)]
        env = self.server_env()
        base = f"http://127.0.0.1:{ports['http']}"
        info = {"framework": "kserve", "version": self.version(), "model": model, "python": sys.version.split()[0]}
        if s.protocol == "v1":
            inputs = [sp.name for sp in workload.input_specs()]
            cmd += ["--savedmodel", str(exporter.artifact(SAVEDMODEL).path), "--input", inputs[0]]

            def ready() -> bool:
                with urllib.request.urlopen(f"{base}/v1/models/{model}", timeout=2) as r:
                    return bool(json.loads(r.read()).get("ready"))

            target = HttpTarget(f"{base}/v1/models/{model}:predict", "POST", headers=(("Content-Type", "application/json"),),
                                bodies=tuple(v1_instances_bodies(workload)))
            info |= {"protocol": "V1 REST (TF Serving's instances format)", "runtime": "tensorflow (SavedModel)",
                     "payload": "pre-processed tensor (JSON instances)"}
            proc = ServerProcess(self.name, cmd, workdir / "server.log", cwd=workdir, env=env, ready=ready, ready_timeout_s=s.ready_timeout_s)

            def answer(payload: bytes) -> object:
                """V1 carries pre-processed tensors: decode the payload here, post-process the prediction here."""
                sample = workload.decode_payload(payload)
                body = json.dumps({"instances": [sample[inputs[0]].tolist()]}).encode()
                return workload.postprocess(np.asarray(http_answer(target, body)["predictions"][0]))

            return Deployment(proc, target, info=info | {"ports": ports}, answer=answer)
        serving = self.serving_config(workload, exporter, workdir)
        cmd += ["--serving-config", str(workdir / "serving.json")]
        if s.protocol == "v2-grpc":
            ports["grpc"] = free_port()
            cmd += ["--grpc-port", str(ports["grpc"])]
        # KServe's REST binary extension decodes BYTES elements as UTF-8 text (a JPEG fails with a 500), so
        # REST carries payloads inline in JSON, base64-encoded where they are binary; gRPC carries raw bytes.
        endpoint = V2Endpoint(model, base, f"127.0.0.1:{ports['grpc']}" if "grpc" in ports else None,
                              binary=False, bytes_encoding=serving.bytes_encoding)
        grpc = s.protocol == "v2-grpc"
        target = endpoint.grpc_target(workload.payloads()) if grpc else endpoint.http_target(workload.payloads())
        info |= {"protocol": "V2 gRPC" if grpc else "V2 REST (JSON)", "runtime": serving.runtime, "ports": ports}
        proc = ServerProcess(self.name, cmd, workdir / "server.log", cwd=workdir, env=env, ready=endpoint.ready, ready_timeout_s=s.ready_timeout_s)
        return Deployment(proc, target, info=info, v2=endpoint, answer=lambda p: endpoint.answer(p, "grpc" if grpc else "http"))
