"""TF Serving's adapter (facts: servers/tfserving/__init__.py)."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path

from pydantic import Field

from infermeter.errors import NotInstalledError, UnsupportedError
from infermeter.export.artifacts import Exporter
from infermeter.protocols.http import HttpTarget
from infermeter.servers.base import Deployment, ServerAdapter, ServerSettings
from infermeter.servers.common.payloads import v1_instances_bodies
from infermeter.servers.common.process import ServerProcess, free_port
from infermeter.workloads.base import SAVEDMODEL, Workload, file_slug

BINARY = "tensorflow_model_server"


class TfServingSettings(ServerSettings):
    binary: str | None = Field(None, description=f"path of {BINARY} (else $TENSORFLOW_MODEL_SERVER, else PATH)")
    allow_all_interfaces: bool = Field(False, description="accept that its REST port listens on 0.0.0.0")
    gpu_build: bool = Field(False, description="the binary is built with CUDA (tensorflow/serving's -gpu build): only then "
                            "can it run on a GPU; a CPU build given a GPU runs on the CPU and says nothing")


class TfServing(ServerAdapter):
    name = "tfserving"
    description = "TensorFlow Serving (your tensorflow_model_server binary), SavedModel, REST predict"
    requirements: list[str] = []
    artifact_format = SAVEDMODEL
    protocol = "REST (TF Serving predict, instances)"
    features = frozenset({"dynamic batching", "model versions", "metrics endpoint", "gRPC"})
    licence = "Apache-2.0"
    maintenance = "active (Google; tensorflow-serving-api 2.21.0 newest on PyPI)"
    released = "your binary's"
    Settings = TfServingSettings
    gpu_placement = "a CUDA build of tensorflow_model_server uses every GPU it sees: only the server's GPU is visible to it"

    def framework_placement(self) -> str | None:
        s: TfServingSettings = self.settings  # type: ignore[assignment]
        if s.precision != "fp32":
            return f"TF Serving runs the SavedModel as exported (fp32); {s.precision} is not a setting of its own"
        if s.device == "cpu":
            return None
        if not s.gpu_build:
            return (f"{s.device} asked for, but whether {BINARY} can use a GPU was decided when it was built; set gpu_build: true "
                    "for a CUDA build (a CPU build would run on the CPU and report nothing)")
        from infermeter.collectors import gpu

        api, why = gpu.open_nvml()  # no engine of infermeter's runs inside it: the driver says which GPUs exist
        index = int(s.device.split(":")[1])
        if api is None:
            return f"device {s.device} asked for, but {why}"
        return None if index < api.count() else f"device {s.device} asked for, but NVML sees {api.count()} GPU(s) here"

    def binary(self) -> str | None:
        s: TfServingSettings = self.settings  # type: ignore[assignment]
        for candidate in (s.binary, os.environ.get("TENSORFLOW_MODEL_SERVER"), shutil.which(BINARY)):
            if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
                return candidate
        return None

    def missing(self) -> str | None:
        if self.binary() is None:
            return (f"no {BINARY} binary here (it is not installable from PyPI or Debian); give its path in the "
                    f"server's settings (binary: PATH) or $TENSORFLOW_MODEL_SERVER")
        if not self.settings.allow_all_interfaces:  # type: ignore[attr-defined]
            return (f"{BINARY} always listens on 0.0.0.0 for REST; set allow_all_interfaces: true in its settings "
                    "to run it anyway")
        return None

    def deploy(self, workload: Workload, exporter: Exporter, workdir: Path) -> Deployment:
        why = self.missing()
        if why:
            raise (NotInstalledError if self.binary() is None else UnsupportedError)(f"TF Serving cannot run: {why}")
        s: TfServingSettings = self.settings  # type: ignore[assignment]
        model = file_slug(workload.name).replace(".", "_")
        base_path = workdir / "models" / model
        base_path.mkdir(parents=True, exist_ok=True)
        version = base_path / "1"
        if not version.exists():
            version.symlink_to(exporter.artifact(SAVEDMODEL).path, target_is_directory=True)
        port = free_port()
        cmd = [self.binary() or BINARY, "--port=0", f"--grpc_socket_path={workdir / 'grpc.sock'}", f"--rest_api_port={port}",
               f"--model_name={model}", f"--model_base_path={base_path}", f"--rest_api_num_threads={max(4, s.workers * 4)}"]
        if s.threads:
            cmd += [f"--tensorflow_intra_op_parallelism={s.threads}", f"--tensorflow_inter_op_parallelism={s.threads}"]
        if s.max_batch_size > 1:
            params = workdir / "batching.txt"
            params.write_text(f"max_batch_size {{ value: {s.max_batch_size} }}\nbatch_timeout_micros {{ value: "
                              f"{int(s.max_batch_delay_ms * 1000)} }}\nnum_batch_threads {{ value: {s.workers} }}\n")
            cmd += ["--enable_batching", f"--batching_parameters_file={params}"]
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            with urllib.request.urlopen(f"{base}/v1/models/{model}", timeout=2) as r:
                states = [v.get("state") for v in json.loads(r.read()).get("model_version_status", [])]
            return "AVAILABLE" in states

        proc = ServerProcess(self.name, cmd, workdir / "server.log", cwd=workdir, env=self.server_env(), ready=ready,
                             ready_timeout_s=s.ready_timeout_s)
        target = HttpTarget(f"{base}/v1/models/{model}:predict", "POST", headers=(("Content-Type", "application/json"),),
                            bodies=tuple(v1_instances_bodies(workload)))
        return Deployment(proc, target, info={"framework": "tensorflow-serving", "binary": self.binary(), "protocol": self.protocol,
                                               "model": model, "ports": {"rest": port}, "payload": "pre-processed tensor (JSON instances)",
                                               "listens_on_all_interfaces": True})
