"""TorchServe 0.12 (Java frontend + Python workers), with the workload's model in a .mar archive.

- adapter.py: TorchServeSettings and the adapter: archive, config.properties, start, token keys.
- handler.py: the handler, copied into the archive as handler.py; runs in TorchServe's Python worker.

Ready: the management API's GET /models/NAME shows every worker READY (/ping says Healthy while workers
crash-loop).
Binds: inference, management and metrics addresses http://127.0.0.1:PORT; gRPC inference and
management on 127.0.0.1.
Quirks (../shared/FACTS.md): needs Java 11+; pyyaml is an undeclared dependency; token auth is on by
default (kept on: requests carry the inference key it writes to key_file.json once ready);
job_queue_size bounds the queue and excess requests get 503; stopping the Python launcher orphans Java,
so the whole session is stopped; it refuses to start while another TorchServe's pid file is in the
temporary directory, so each start gets a temporary directory of its own (TMPDIR);
ts_inference_latency_microseconds includes the queue.
"""
