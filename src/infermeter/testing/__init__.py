"""Test doubles for infermeter's own tests: an engine that sleeps a set time per batch (`fake`) and a
numpy-only workload (`fake-tiny`). Never part of a real run: they are registered only when this module is
named in INFERMETER_PLUGIN_MODULES (tests/conftest.py does so; cell workers inherit it), through the same
plugin path as any unpackaged plugin (infermeter/plugins.py)."""

from __future__ import annotations

from typing import Any

from infermeter.testing.engine import FakeEngine
from infermeter.testing.workload import FakeTiny

PLUGINS: dict[str, list[Any]] = {"engines": [FakeEngine], "workloads": [FakeTiny]}
