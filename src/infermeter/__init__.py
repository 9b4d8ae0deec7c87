"""infermeter: measure how fast a model runs on inference engines and serving frameworks."""

__version__ = "0.1.0"
SCHEMA_VERSION = 2  # of result records: see results/record.py, and results/migrate.py for the history


def load_results(*paths: str) -> object:
    """Every record (one row per repeat) of the results directories or files given, as a pandas
    DataFrame; see infermeter.results.frame. Needs the `analysis` extra."""
    from infermeter.results.frame import load_results as _load

    return _load(*paths)
