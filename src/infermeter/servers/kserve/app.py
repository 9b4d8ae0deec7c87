"""KServe model server for infermeter, started inside the KServe environment:

    python kserve_app.py v1 --name NAME --savedmodel DIR --input INPUT --http-port P [--threads N]
    python kserve_app.py v2 --name NAME --serving-config FILE --http-port P [--grpc-port G]

v1: a TensorFlow SavedModel over the V1 protocol (/v1/models/NAME:predict, "instances").
v2: infermeter's ServingModel over the Open Inference Protocol (REST, binary extension, gRPC): a BYTES
"payload" input, a BYTES "result" output of JSON answers.

KServe 0.21 hard-codes its REST host to 0.0.0.0 and its gRPC host to [::]; here uvicorn's Config and the
gRPC server's listening address are made 127.0.0.1, so nothing listens beyond loopback.
"""

import argparse
import os


def loopback_only():
    import uvicorn
    from grpc import aio

    base_config = uvicorn.Config

    class LoopbackConfig(base_config):
        def __init__(self, *a, **kw):
            kw["host"] = "127.0.0.1"
            super().__init__(*a, **kw)

    uvicorn.Config = LoopbackConfig  # this process only: KServe builds its REST server from it
    make_server = aio.server

    def loopback_server(*a, **kw):
        server = make_server(*a, **kw)
        add = server.add_insecure_port
        server.add_insecure_port = lambda address: add("127.0.0.1:" + address.rsplit(":", 1)[1])
        return server

    aio.server = loopback_server


def savedmodel_v1(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    import kserve

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)

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

    return SavedModelV1()


def serving_v2(args):
    import kserve
    from kserve.protocol.infer_type import InferOutput, InferResponse

    from infermeter.servers.common.serving_model import ServingModel

    class ServingV2(kserve.Model):
        def __init__(self):
            super().__init__(args.name)
            self.serving = None
            self.load()

        def load(self):
            self.serving = ServingModel.from_file(args.serving_config)
            self.ready = True
            return self.ready

        def predict(self, payload, headers=None, response_headers=None):
            values = payload.inputs[0].as_numpy().reshape(-1).tolist()
            answers = self.serving.predict_json(values)
            output = InferOutput("result", [len(answers)], "BYTES", data=answers)
            return InferResponse(response_id=payload.id or "", model_name=self.name, infer_outputs=[output])

    return ServingV2()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("protocol", choices=["v1", "v2"])
    ap.add_argument("--name", required=True)
    ap.add_argument("--savedmodel")
    ap.add_argument("--input")
    ap.add_argument("--serving-config")
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--grpc-port", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    loopback_only()
    import kserve

    model = savedmodel_v1(args) if args.protocol == "v1" else serving_v2(args)
    grpc = dict(enable_grpc=True, grpc_port=args.grpc_port) if args.grpc_port else dict(enable_grpc=False)
    kserve.ModelServer(http_port=args.http_port, workers=1, **grpc).start([model])


if __name__ == "__main__":
    main()
