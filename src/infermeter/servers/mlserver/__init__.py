"""MLServer 1.7 (Seldon) with a custom runtime that runs infermeter's ServingModel; V2 REST and gRPC.

- adapter.py: MLServerSettings and the adapter: settings.json, model-settings.json, start.
- runtime.py: the custom runtime, copied beside model-settings.json as mlserver_runtime.py (model-settings
  names it "mlserver_runtime.InfermeterRuntime"; the model directory is put on PYTHONPATH).

Ready: V2 health, /v2/health/ready and /v2/models/NAME/ready.
Binds: all of its servers (REST, gRPC, metrics) bind settings.json's host, 127.0.0.1 (MLSERVER_HOST too).
Quirks (../shared/FACTS.md): uvloop 0.23 crashes the inference worker ("no current event loop"), so
uvloop<0.22 is pinned; parallel_workers is the number of inference worker processes (0: inference in the
main process); adaptive batching is max_batch_size / max_batch_time per model; its REST has no binary
tensor extension, so binary payloads (JPEG, WAV) travel base64-encoded inside the JSON.
"""
