"""KServe model server serving a SavedModel over the V1 protocol (/v1/models/NAME:predict, "instances"),
started by infermeter inside the KServe environment:

    python kserve_app.py --name NAME --savedmodel DIR --input INPUT --http-port P [--threads N]

KServe 0.21 hard-codes its REST host to 0.0.0.0 and its gRPC host to [::]; here uvicorn's Config is made
to bind 127.0.0.1 and gRPC is off, so nothing listens beyond loopback.
"""

import argparse
import os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--savedmodel", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import numpy as np
    import tensorflow as tf
    import uvicorn

    import kserve

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)

    base_config = uvicorn.Config

    class LoopbackConfig(base_config):
        def __init__(self, *a, **kw):
            kw["host"] = "127.0.0.1"
            super().__init__(*a, **kw)

    uvicorn.Config = LoopbackConfig  # this process only: KServe builds its REST server from it

    class SavedModelV1(kserve.Model):
        def __init__(self):
            super().__init__(args.name)
            self.fn = None
            self.load()

        def load(self):
            self.fn = tf.saved_model.load(args.savedmodel).signatures["serving_default"]
            self.ready = True
            return self.ready

        def predict(self, payload, headers=None):
            x = tf.constant(np.asarray(payload["instances"], dtype=np.float32))
            out = self.fn(**{args.input: x})
            return {"predictions": next(iter(out.values())).numpy().tolist()}

    kserve.ModelServer(http_port=args.http_port, enable_grpc=False, workers=1).start([SavedModelV1()])


if __name__ == "__main__":
    main()
