"""KServe's Python model server without Kubernetes, V1 protocol, serving the workload's SavedModel with
TensorFlow. It speaks TF Serving's REST format (/v1/models/NAME:predict with "instances"), which is how
TF Serving's protocol is exercised on machines where no tensorflow_model_server binary exists; results
are labelled KServe, never TF Serving."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from importlib import resources
from pathlib import Path

from infermeter.errors import NotInstalledError
from infermeter.export.artifacts import Exporter
from infermeter.load.http import HttpTarget
from infermeter.servers import envs
from infermeter.servers.base import Deployment, ServerAdapter, ServerSettings
from infermeter.servers.payloads import v1_instances_bodies
from infermeter.servers.process import ServerProcess, free_port
from infermeter.workloads.base import SAVEDMODEL, Workload, file_slug


class KServe(ServerAdapter):
    name = "kserve"
    description = "KServe 0.21 Python model server (no Kubernetes), V1 protocol, TensorFlow SavedModel"
    requirements = ["kserve==0.21.0"]
    artifact_format = SAVEDMODEL
    protocol = "V1 REST (TF Serving's instances format)"
    Settings = ServerSettings

    def deploy(self, workload: Workload, exporter: Exporter, workdir: Path) -> Deployment:
        why = self.missing()
        if why:
            raise NotInstalledError(f"KServe cannot run here: {why}", f"infermeter servers install {self.name}")
        s = self.settings
        model = file_slug(workload.name).replace(".", "_")
        artifact = exporter.artifact(SAVEDMODEL)
        app = workdir / "kserve_app.py"
        app.write_text(resources.files("infermeter.servers").joinpath("kserve_app.py").read_text())
        port = free_port()
        inputs = [sp.name for sp in workload.input_specs()]
        cmd = [str(envs.env_bin(self.name) / "python"), str(app), "--name", model, "--savedmodel", str(artifact.path),
               "--input", inputs[0], "--http-port", str(port), "--threads", str(s.threads or 0)]
        env = dict(os.environ)
        if s.threads:
            env["OMP_NUM_THREADS"] = str(s.threads)
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            with urllib.request.urlopen(f"{base}/v1/models/{model}", timeout=2) as r:
                return bool(json.loads(r.read()).get("ready"))

        proc = ServerProcess(self.name, cmd, workdir / "server.log", cwd=workdir, env=env, ready=ready, ready_timeout_s=s.ready_timeout_s)
        target = HttpTarget(f"{base}/v1/models/{model}:predict", "POST", headers=(("Content-Type", "application/json"),),
                            bodies=tuple(v1_instances_bodies(workload)))
        return Deployment(proc, target, info={"framework": "kserve", "version": self.version(), "protocol": self.protocol,
                                               "model": model, "ports": {"http": port}, "payload": "pre-processed tensor (JSON instances)",
                                               "python": sys.version.split()[0]})
