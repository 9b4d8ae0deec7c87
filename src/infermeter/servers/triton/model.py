"""Triton Python-backend model for any infermeter workload (copied into the model repository as
model.py). Each request carries one sample's raw payload (a JPEG, a text...) as a BYTES tensor; the
infermeter ServingModel decodes it with the workload's own code, so Triton does the same work per request
as every other server.

The Python backend stub runs isolated from the environment that started Triton, so the path of
infermeter's environment comes in as a model parameter and is added here, and where the infermeter that
started Triton is not the one installed there (a checkout on PYTHONPATH), its directory too, ahead of
everything but the working directory (where numpy<2 is linked).
"""

import json
import site
import sys

import numpy as np


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        site.addsitedir(params["infermeter_site"])
        if params.get("infermeter_path"):
            sys.path.insert(1, params["infermeter_path"])

        from infermeter.servers.common.serving_model import ServingModel

        self.model = ServingModel.from_file(params["serving_config"])

    def execute(self, requests):
        import triton_python_backend_utils as pb_utils

        # All requests of a (dynamically batched) call go through the model as one batch.
        counts, payloads = [], []
        for request in requests:
            values = pb_utils.get_input_tensor_by_name(request, "payload").as_numpy().reshape(-1)
            counts.append(len(values))
            payloads.extend(bytes(v) for v in values)
        answers = [a.encode() for a in self.model.predict_json(payloads)]
        responses, start = [], 0
        for request, n in zip(requests, counts):
            shape = pb_utils.get_input_tensor_by_name(request, "payload").as_numpy().shape
            tensor = pb_utils.Tensor("result", np.array(answers[start : start + n], dtype=np.object_).reshape(shape))
            start += n
            responses.append(pb_utils.InferenceResponse(output_tensors=[tensor]))
        return responses
