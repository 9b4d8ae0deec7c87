"""TensorFlow Serving (tensorflow_model_server) serving the workload's SavedModel; REST predict API.

- adapter.py: TfServingSettings and the adapter (no code runs inside TF Serving).

Ready: GET /v1/models/NAME lists a version AVAILABLE.
Binds: its REST listener is hard-coded to 0.0.0.0 (tensorflow/serving#1969), so infermeter starts it only
when the user accepts that (settings.allow_all_interfaces); gRPC goes to a Unix socket.
Quirks: no tensorflow_model_server binary can be installed here from PyPI or Debian: the adapter runs the
real binary when the user supplies one (settings.binary, $TENSORFLOW_MODEL_SERVER, or PATH) and says so
clearly otherwise; the client does the pre-processing (JSON instances), and results say so.
"""
