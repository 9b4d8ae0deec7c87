"""infermeter: measure how fast a model runs on inference engines and serving frameworks."""

__version__ = "0.1.0"
SCHEMA_VERSION = 1
