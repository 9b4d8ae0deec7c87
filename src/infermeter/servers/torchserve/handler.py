"""TorchServe handler for any infermeter workload (copied into the model archive).

Each request body is one sample's payload (a JPEG, a text...). The infermeter ServingModel decodes it with
the workload's own code, so TorchServe does the same work per request as every other server. Runs inside
TorchServe's Python worker, which sees infermeter's environment (see servers/common/envs.py).
"""

import json
import os

_model = None


def handle(data, context):
    global _model
    if _model is None:
        from infermeter.servers.common.serving_model import ServingModel

        _model = ServingModel.from_file(os.path.join(context.system_properties.get("model_dir"), "serving.json"))
    if data is None:
        return None
    payloads = []
    for row in data:
        body = row.get("data") if row.get("data") is not None else row.get("body")
        if isinstance(body, (dict, list)):  # TorchServe parses application/json bodies itself
            body = json.dumps(body)
        payloads.append(body.encode("utf-8") if isinstance(body, str) else bytes(body))  # text/* arrives as str
    return _model.predict_json(payloads)
