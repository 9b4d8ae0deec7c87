"""MLflow 3 model serving: the workload saved as a pyfunc model that runs infermeter's ServingModel, served
by `mlflow models serve --env-manager local` on /invocations (JSON).

- adapter.py: MLflowSettings (no batching) and the adapter: saves the model, then serves it.
- model.py: the pyfunc model and the script that saves it, copied as mlflow_model.py and run in the
  MLflow environment.

Ready: GET /ping answers 200.
Binds: -h 127.0.0.1 -p PORT.
Quirks (../shared/FACTS.md): 3.18.0 does not resolve, 3.17.2 does; the environment's bin directory must be
on PATH or its uvicorn cannot start; cold start 13-15 s; its server has no request batching; the tracking
URI is a local directory, never a remote tracking server.
"""
