"""TorchServe handler for any infermeter workload (copied into the model archive).

Each request body is one sample's payload (a JPEG, a text...). The workload's own code decodes it, so
TorchServe does the same pre-processing as every other server. Runs inside TorchServe's Python worker,
which sees infermeter's environment (see servers/envs.py).
"""

import json
import os

import numpy as np
import torch


class InfermeterHandler:
    def __init__(self):
        self.initialized = False

    def initialize(self, context):
        from infermeter.workloads.registry import get_workload

        model_dir = context.system_properties.get("model_dir")
        with open(os.path.join(model_dir, "infermeter.json")) as f:
            cfg = json.load(f)
        if cfg.get("threads"):
            torch.set_num_threads(int(cfg["threads"]))
        self.workload = get_workload(cfg["workload"], cfg["seed"])
        self.names = [s.name for s in self.workload.input_specs()]
        self.model = torch.load(os.path.join(model_dir, "model.pt"), weights_only=False).eval()
        self.initialized = True

    def handle(self, data, context):
        samples = []
        for row in data:
            body = row.get("data") if row.get("data") is not None else row.get("body")
            if isinstance(body, str):  # TorchServe decodes text/* bodies to str
                body = body.encode("utf-8")
            samples.append(self.workload.decode_payload(bytes(body)))
        batch = {n: np.stack([s[n] for s in samples]) for n in self.names}
        with torch.inference_mode():
            out = self.model(*[torch.from_numpy(batch[n]) for n in self.names]).numpy()
        return [json.dumps(self.workload.postprocess(row)) for row in out]


_service = InfermeterHandler()


def handle(data, context):
    if not _service.initialized:
        _service.initialize(context)
    if data is None:
        return None
    return _service.handle(data, context)
