"""LitServe server for infermeter, started inside the LitServe environment:

    python litserve_app.py --serving-config FILE --port P [--workers N] [--max-batch-size B --batch-timeout S]

A request is JSON {"payload": TEXT} (base64 for binary payloads, as serving.json says); the answer is the
workload's JSON answer. With max_batch_size > 1 LitServe groups requests and predict() gets a list.
"""

import argparse

import litserve as ls


class InfermeterAPI(ls.LitAPI):
    def __init__(self, config, **kw):
        super().__init__(**kw)
        self.config = config  # travels with the API object into LitServe's worker processes

    def setup(self, device):
        from infermeter.servers.common.serving_model import ServingModel

        self.serving = ServingModel.from_file(self.config)

    def decode_request(self, request):
        return request["payload"]

    def batch(self, inputs):
        return list(inputs)

    def predict(self, x):
        if isinstance(x, list):
            return self.serving.predict(x)
        return self.serving.predict([x])[0]

    def unbatch(self, output):
        return output

    def encode_response(self, output):
        return output


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--serving-config", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-batch-size", type=int, default=1)
    ap.add_argument("--batch-timeout", type=float, default=0.0)
    ap.add_argument("--accelerator", choices=["cpu", "cuda"], default="cpu")
    args = ap.parse_args()

    api = InfermeterAPI(args.serving_config, max_batch_size=args.max_batch_size, batch_timeout=args.batch_timeout)
    # On cuda the one GPU the server sees (CUDA_VISIBLE_DEVICES); the engine's device comes from serving.json.
    server = ls.LitServer(api, accelerator=args.accelerator, devices=1, workers_per_device=args.workers, timeout=300)
    server.run(host="127.0.0.1", port=args.port, generate_client_file=False, num_api_servers=1)


if __name__ == "__main__":
    main()
