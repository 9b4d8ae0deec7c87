"""Ray Serve application for infermeter, started inside the Ray environment:

    python rayserve_app.py --serving-config FILE --port P [--replicas N] [--max-batch-size B --batch-wait-s S]

A request is JSON {"payload": TEXT} (base64 for binary payloads, as serving.json says); the answer is the
workload's JSON answer. With max_batch_size > 1, @serve.batch groups concurrent requests.

Kept on loopback (checked by infermeter's tests, socket by socket): the local cluster is started with
node address 127.0.0.1 (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 set by the adapter, without which Ray used
the machine's external address here), the HTTP proxy binds 127.0.0.1, and every worker runs
loopback_only() first, because Serve 2.60 binds each replica's inter-deployment gRPC server to [::].
"""

import argparse
import os
import sys
import time


def loopback_only():
    """Runs in every Ray worker before any task (worker_process_setup_hook)."""
    from ray.serve._private import replica

    add = replica.add_port_to_grpc_server
    replica.add_port_to_grpc_server = lambda server, address: add(server, address.replace("[::]", "127.0.0.1"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--serving-config", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--max-batch-size", type=int, default=1)
    ap.add_argument("--batch-wait-s", type=float, default=0.0)
    ap.add_argument("--gpu-share", type=float, default=0.0, help="num_gpus per replica (0: the CPU)")
    args = ap.parse_args()

    import ray
    from ray import serve

    here = os.path.dirname(os.path.abspath(__file__))
    ray.init(
        _node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=os.cpu_count(), logging_level="WARNING",
        object_store_memory=256 * 2**20,
        runtime_env={"worker_process_setup_hook": "rayserve_app.loopback_only",
                     "env_vars": {"PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])}},
    )
    serve.start(http_options={"host": "127.0.0.1", "port": args.port})
    config = args.serving_config
    batched = args.max_batch_size > 1

    @serve.deployment(num_replicas=args.replicas, ray_actor_options={"num_cpus": 0, "num_gpus": args.gpu_share}, max_ongoing_requests=1000)
    class Infermeter:
        def __init__(self):
            from infermeter.servers.common.serving_model import ServingModel

            self.serving = ServingModel.from_file(config)

        @serve.batch(max_batch_size=args.max_batch_size, batch_wait_timeout_s=args.batch_wait_s)
        async def predict_batch(self, payloads):
            return self.serving.predict(payloads)

        async def __call__(self, request):
            payload = (await request.json())["payload"]
            if batched:
                return await self.predict_batch(payload)
            return self.serving.predict([payload])[0]

    serve.run(Infermeter.bind(), route_prefix="/predict", blocking=False)
    print("infermeter: application running", file=sys.stderr, flush=True)
    while True:  # infermeter stops the whole process group
        time.sleep(3600)


if __name__ == "__main__":
    main()
