from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest


def installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One artifact cache for the whole session: each model is exported once."""
    shared = os.environ.get("INFERMETER_TEST_CACHE")
    if shared:
        Path(shared).mkdir(parents=True, exist_ok=True)
        return Path(shared)
    return tmp_path_factory.mktemp("cache")
