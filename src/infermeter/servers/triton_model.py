"""Triton Python-backend model for any infermeter workload (copied into the model repository as
model.py). Each request carries one sample's raw payload (a JPEG, a text...) as a BYTES tensor; the
workload's own code decodes it, so Triton does the same pre-processing as every other server.

The Python backend stub runs isolated from the environment that started Triton, so the path of
infermeter's environment comes in as a model parameter and is added here.
"""

import json
import site

import numpy as np


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        site.addsitedir(params["infermeter_site"])

        from infermeter.workloads.registry import get_workload

        self.workload = get_workload(params["workload"], int(params["seed"]))
        self.names = [s.name for s in self.workload.input_specs()]
        self.runtime = params["runtime"]
        artifact = params["artifact"]
        threads = int(params.get("threads") or 0)
        if self.runtime == "onnxruntime":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            self.session = ort.InferenceSession(artifact, sess_options=opts, providers=["CPUExecutionProvider"])
            self.output = self.session.get_outputs()[0].name
        else:
            import torch

            if threads:
                torch.set_num_threads(threads)
            self.model = torch.load(artifact, weights_only=False).eval()

    def _run(self, batch):
        if self.runtime == "onnxruntime":
            return self.session.run([self.output], batch)[0]
        import torch

        with torch.inference_mode():
            return self.model(*[torch.from_numpy(batch[n]) for n in self.names]).numpy()

    def execute(self, requests):
        import triton_python_backend_utils as pb_utils

        # All requests of a (dynamically batched) call go through the model as one batch.
        counts, samples = [], []
        for request in requests:
            payloads = pb_utils.get_input_tensor_by_name(request, "payload").as_numpy().reshape(-1)
            counts.append(len(payloads))
            samples.extend(self.workload.decode_payload(bytes(p)) for p in payloads)
        batch = {n: np.stack([s[n] for s in samples]) for n in self.names}
        out = self._run(batch)
        responses, start = [], 0
        for request, n in zip(requests, counts):
            answers = [json.dumps(self.workload.postprocess(row)).encode() for row in out[start : start + n]]
            start += n
            shape = pb_utils.get_input_tensor_by_name(request, "payload").as_numpy().shape
            tensor = pb_utils.Tensor("result", np.array(answers, dtype=np.object_).reshape(shape))
            responses.append(pb_utils.InferenceResponse(output_tensors=[tensor]))
        return responses
