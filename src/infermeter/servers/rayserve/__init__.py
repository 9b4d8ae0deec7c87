"""Ray Serve 2.60: a deployment running infermeter's ServingModel behind Serve's HTTP proxy, JSON REST,
replicas and optional batching (@serve.batch).

- adapter.py: the adapter (ServingModelSettings; workers are replicas).
- app.py: the application, copied as rayserve_app.py (its workers' setup hook is named
  "rayserve_app.loopback_only") and run in the Ray environment.

Ready: GET /-/routes lists /predict.
Binds: the HTTP proxy on 127.0.0.1; the local cluster's node address 127.0.0.1.
Quirks (../shared/FACTS.md): Ray starts about a dozen processes (GCS, raylet, agents, controller, proxy,
replicas) and about 1.2 GB; ray.init(_node_ip_address="127.0.0.1") was silently replaced by the machine's
external address until RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 was set; each replica's inter-deployment gRPC
server binds [::] (patched in every worker by app.loopback_only). The tests assert that every socket of
every Ray process is on 127.0.0.1. Ray's token auth is forced on (RAY_AUTH_MODE=token, whatever the
user's environment says).
"""
