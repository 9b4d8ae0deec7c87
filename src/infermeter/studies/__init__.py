"""The published comparisons infermeter reproduces: `infermeter study NAME` (registry.py, claims.py)."""
