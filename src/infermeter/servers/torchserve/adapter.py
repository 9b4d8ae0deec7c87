"""TorchServe's adapter (facts: servers/torchserve/__init__.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from pydantic import Field

from infermeter.export.artifacts import Exporter
from infermeter.protocols.http import HttpTarget
from infermeter.protocols.rest import http_answer
from infermeter.servers.common import envs, prometheus
from infermeter.servers.base import Deployment, ServerAdapter, ServingModelSettings
from infermeter.servers.common.entry_points import entry_point
from infermeter.servers.common.process import ServerFailedError, ServerProcess, free_port
from infermeter.workloads.base import TORCH, Workload, file_slug


class TorchServeSettings(ServingModelSettings):
    job_queue_size: int = Field(100, ge=1, description="requests queued per model before 503s")
    token_auth: bool = Field(True, description="keep TorchServe's token authorization on (requests send the key)")


class TorchServe(ServerAdapter):
    name = "torchserve"
    description = "TorchServe 0.12 (Java frontend, Python workers), custom handler per workload, REST"
    requirements = ["torchserve==0.12.0", "torch-model-archiver==0.12.0", "pyyaml"]
    artifact_format = TORCH
    protocol = "REST (TorchServe inference API)"
    features = frozenset({"dynamic batching", "model versions", "metrics endpoint", "gRPC", "custom handlers"})
    licence = "Apache-2.0"
    maintenance = "archived 2025-08-07 (read-only, no further releases; 0.12.0 is the last)"
    released = "2024-09-30"
    Settings = TorchServeSettings
    gpu_placement = "number_of_gpu 1: TorchServe gives every worker the server's one visible GPU"

    def missing(self) -> str | None:
        if shutil.which("java") is None:
            return "Java is not installed (TorchServe needs a JRE 11+: apt-get install openjdk-17-jre-headless)"
        return super().missing()

    def deploy(self, workload: Workload, exporter: Exporter, workdir: Path) -> Deployment:
        self.require_runnable()
        s: TorchServeSettings = self.settings  # type: ignore[assignment]
        bin_dir = envs.env_bin(self.name)
        model = file_slug(workload.name).replace(".", "_")
        src, store = workdir / "src", workdir / "store"
        src.mkdir(parents=True, exist_ok=True)
        store.mkdir(exist_ok=True)
        serving = self.serving_config(workload, exporter, src, relative=True)
        artifact = exporter.artifact(self.needed_format(workload.name))
        handler = entry_point(__package__, "handler.py", src)
        archiver = subprocess.run(
            [str(bin_dir / "torch-model-archiver"), "--model-name", model, "--version", "1.0", "--serialized-file",
             str(artifact.path), "--handler", str(handler), "--extra-files", str(src / "serving.json"),
             "--export-path", str(store), "--force"],
            capture_output=True, text=True,
        )
        if archiver.returncode != 0:
            raise ServerFailedError(f"torch-model-archiver failed: {archiver.stderr[-1000:]}")
        ports = {k: free_port() for k in ("inference", "management", "metrics")}
        models = {model: {"1.0": {
            "defaultVersion": True, "marName": f"{model}.mar", "minWorkers": s.workers, "maxWorkers": s.workers,
            "batchSize": s.max_batch_size, "maxBatchDelay": int(s.max_batch_delay_ms), "responseTimeout": 300,
        }}}
        config = {
            "inference_address": f"http://127.0.0.1:{ports['inference']}",
            "management_address": f"http://127.0.0.1:{ports['management']}",
            "metrics_address": f"http://127.0.0.1:{ports['metrics']}",
            "grpc_inference_address": "127.0.0.1",
            "grpc_management_address": "127.0.0.1",
            "grpc_inference_port": str(free_port()),
            "grpc_management_port": str(free_port()),
            "model_store": str(store),
            "load_models": f"{model}.mar",
            "models": json.dumps(models),
            "default_workers_per_model": str(s.workers),
            "number_of_gpu": "0" if s.device == "cpu" else "1",  # it sees one GPU (CUDA_VISIBLE_DEVICES)
            "job_queue_size": str(s.job_queue_size),
            "metrics_mode": "prometheus",
            "disable_token_authorization": "false" if s.token_auth else "true",
            "install_py_dep_per_model": "false",
            "default_response_timeout": "300",
        }
        (workdir / "config.properties").write_text("".join(f"{k}={v}\n" for k, v in config.items()))
        # TorchServe refuses to start while any other TorchServe runs on the machine: it keeps one pid file in
        # the temporary directory (ts/model_server.py). A temporary directory of its own makes it this one's.
        tmp = workdir / "tmp"
        tmp.mkdir(exist_ok=True)
        env = self.server_env(bin_on_path=True, LOG_LOCATION=str(workdir / "logs"), METRICS_LOCATION=str(workdir / "logs"),
                              TS_DISABLE_SYSTEM_METRICS="true", TMPDIR=str(tmp))
        cmd = [str(bin_dir / "torchserve"), "--start", "--foreground", "--ncs", "--model-store", str(store),
               "--ts-config", str(workdir / "config.properties")]
        if not s.token_auth:
            cmd.append("--disable-token-auth")
        mgmt = f"http://127.0.0.1:{ports['management']}/models/{model}"
        keys = workdir / "key_file.json"

        def ready() -> bool:
            headers = {"Authorization": f"Bearer {_key(keys, 'management')}"} if s.token_auth else {}
            with urllib.request.urlopen(urllib.request.Request(mgmt, headers=headers), timeout=2) as r:
                desc = json.loads(r.read())
            workers = desc[0].get("workers", [])
            return len(workers) >= s.workers and all(w.get("status") == "READY" for w in workers)

        proc = ServerProcess(self.name, cmd, workdir / "server.log", cwd=workdir, env=env, ready=ready,
                             ready_timeout_s=s.ready_timeout_s)
        url = f"http://127.0.0.1:{ports['inference']}/predictions/{model}"
        deployment = Deployment(
            proc, HttpTarget(url, "POST", headers=(("Content-Type", workload.payload_content_type),), bodies=tuple(workload.payloads())),
            info={"framework": "torchserve", "version": self.version(), "protocol": self.protocol, "model": model,
                  "ports": ports, "token_auth": s.token_auth, "runtime": serving.runtime},
            metrics_url=f"http://127.0.0.1:{ports['metrics']}/metrics",
        )
        deployment.info["_keys"] = str(keys)
        deployment.answer = lambda p: http_answer(deployment.target, p)  # the target gains its key once ready
        return deployment

    def on_ready(self, deployment: Deployment) -> None:
        """After ready: the inference key exists now; requests must carry it."""
        if self.settings.token_auth:  # type: ignore[attr-defined]
            key = _key(Path(deployment.info["_keys"]), "inference")
            t = deployment.target
            deployment.target = HttpTarget(t.url, t.method, t.body, t.headers + (("Authorization", f"Bearer {key}"),), t.bodies)

    def server_metrics(self, deployment: Deployment) -> dict[str, float]:
        if not deployment.metrics_url:
            return {}
        m = prometheus.scrape(deployment.metrics_url, ("ts_queue_latency_microseconds", "ts_inference_latency_microseconds", "ts_inference_requests_total"))
        queue = m.get("ts_queue_latency_microseconds", 0.0)
        return {
            "queue_us_total": queue,
            # TorchServe's inference latency runs from arrival to response, queue included; what the
            # table calls inference time is the part after the queue (as Triton reports it).
            "inference_us_total": m.get("ts_inference_latency_microseconds", 0.0) - queue,
            "requests_total": m.get("ts_inference_requests_total", 0.0),
        }


def _key(path: Path, which: str) -> str:
    data: dict[str, Any] = json.loads(path.read_text())
    entry = data.get(which) or {}
    return entry.get("key", "")
