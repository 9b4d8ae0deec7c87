"""NVIDIA Triton Inference Server 2.51, from the nvidia-pytriton 0.7.0 wheel (a real tritonserver binary with
the Python backend; no ONNX Runtime, PyTorch or TensorFlow backends).

- adapter.py: TritonSettings and the adapter: a model repository whose model.py runs infermeter's
  ServingModel on PyTorch or ONNX Runtime; V2 HTTP (binary tensor extension) or V2 gRPC.
- model.py: the Python-backend model, copied into the repository as <model>/1/model.py.

Ready: V2 health, /v2/health/ready and /v2/models/NAME/ready (started with --strict-readiness true).
Binds: HTTP, gRPC and metrics each on --*-address 127.0.0.1 and a free port; SageMaker and Vertex AI
listeners off; the APIs infermeter never calls (shared memory, model config and repository, statistics,
trace, logging) restricted behind a random key per start (adapter.RESTRICTED_APIS).
Quirks (../shared/FACTS.md): PyPI's tritonserver wheels cannot run here; the Python backend stub links
the system libpython unless LD_LIBRARY_PATH names the interpreter's own lib directory; the stub runs
isolated (no PYTHONPATH), so model.py adds infermeter's site-packages itself (a model parameter); the stub
was built against numpy 1.x, so numpy<2 is linked into the server's working directory; no scikit-learn
runtime in the stub (onnxruntime instead); server-side counters are nv_inference_* in microseconds.
"""
