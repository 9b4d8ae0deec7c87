"""BentoML 1.4: a @bentoml.service running infermeter's ServingModel, JSON REST, with or without adaptive
batching (batchable=True, max_batch_size, max_latency_ms).

- adapter.py: BentoMLSettings and the adapter.
- service.py: the service, copied into the working directory as bentoml_service.py and started with
  `bentoml serve bentoml_service:Infermeter`; its settings come from INFERMETER_* environment variables
  because BentoML imports it itself.

Ready: GET /readyz answers 200.
Binds: --host 127.0.0.1 -p PORT.
Quirks (../shared/FACTS.md): with batching, a latency budget (max_latency_ms) too tight for the model makes
BentoML answer 503 "process is overloaded" - those are failures and are counted as such; usage tracking
is turned off (BENTOML_DO_NOT_TRACK); BENTOML_HOME is inside the working directory.
"""
