"""BentoML service running infermeter's ServingModel (copied into the server's working directory and
started with `bentoml serve bentoml_service:Infermeter`). Its settings come from environment variables
because BentoML imports this module itself.

A request is JSON {"payload": TEXT} (base64 for binary payloads, as serving.json says), or with adaptive
batching {"payload": [TEXT]}: BentoML concatenates those lists into one batch and splits the answers.
"""

import os

import bentoml

CONFIG = os.environ["INFERMETER_SERVING_CONFIG"]
WORKERS = int(os.environ.get("INFERMETER_WORKERS", "1"))
MAX_BATCH = int(os.environ.get("INFERMETER_MAX_BATCH", "1"))
MAX_LATENCY_MS = int(float(os.environ.get("INFERMETER_MAX_LATENCY_MS", "60000")))


@bentoml.service(workers=WORKERS, traffic={"timeout": 300})
class Infermeter:
    def __init__(self):
        from infermeter.servers.common.serving_model import ServingModel

        self.serving = ServingModel.from_file(CONFIG)

    if MAX_BATCH > 1:

        @bentoml.api(batchable=True, max_batch_size=MAX_BATCH, max_latency_ms=MAX_LATENCY_MS)
        def predict(self, payload: list[str]) -> list[dict]:
            return self.serving.predict(payload)

    else:

        @bentoml.api
        def predict(self, payload: str) -> dict:
            return self.serving.predict([payload])[0]
