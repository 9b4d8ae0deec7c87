"""Protocol clients that both the serving adapters and the load generator use: HTTP/1.1 (http), the Open
Inference Protocol V2 over REST and gRPC (v2, grpc_client), and blocking one-off REST calls and readiness
probes (rest). This package imports nothing from infermeter.loadgen or infermeter.servers (tests/unit/test_layout.py)."""
