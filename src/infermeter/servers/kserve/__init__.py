"""KServe 0.21's Python model server without Kubernetes.

- adapter.py: KServeSettings and the adapter.
  protocol v1: the workload's SavedModel on TensorFlow over the V1 protocol (/v1/models/NAME:predict with
  "instances", TF Serving's REST format). This is how TF Serving's protocol is exercised on machines
  without a tensorflow_model_server binary; results are labelled KServe, never TF Serving.
  protocol v2 / v2-grpc: infermeter's ServingModel over the Open Inference Protocol (REST JSON or gRPC),
  the same V2 client as MLServer and Triton.
- app.py: the model server, copied as kserve_app.py and run in the KServe environment.

Ready: v1, GET /v1/models/NAME says "ready": true; v2, V2 health (/v2/health/ready, /v2/models/NAME/ready).
Binds: KServe hard-codes 0.0.0.0 (REST) and [::] (gRPC); app.py makes every listener 127.0.0.1.
Quirks: no request batching without Kubernetes (max_batch_size must stay 1); its REST binary extension
decodes BYTES elements as UTF-8 text (a JPEG fails with a 500), so REST carries payloads inline in JSON,
base64-encoded where binary; with V1 the client does the pre-processing, and results say so.
"""
