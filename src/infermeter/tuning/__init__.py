"""`infermeter tune`: searching an engine's or a serving framework's settings for the highest capacity under
an SLO (or the lowest latency, or the lowest cost), each trial a real capacity search (capacity/), the
search itself Optuna's (a study in OUT/tune.db, resumable)."""
