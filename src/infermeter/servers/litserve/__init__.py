"""LitServe 0.2 (Lightning AI): a LitAPI running infermeter's ServingModel, JSON over REST, optional
batching (max_batch_size / batch_timeout).

- adapter.py: the adapter (ServingModelSettings, nothing of its own).
- app.py: the server, copied as litserve_app.py and run in the LitServe environment.

Ready: GET /health answers 200.
Binds: 0.0.0.0 unless told otherwise; app.py runs it on host 127.0.0.1.
Quirks (../shared/FACTS.md): SIGTERM to the main process leaves worker children that keep the port and keep
answering; infermeter starts every server in its own session and stops the whole tree.
"""
