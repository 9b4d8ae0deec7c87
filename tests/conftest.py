from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One artifact cache for the whole session: each model is exported once."""
    shared = os.environ.get("INFERMETER_TEST_CACHE")
    if shared:
        Path(shared).mkdir(parents=True, exist_ok=True)
        return Path(shared)
    return tmp_path_factory.mktemp("cache")


LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1"}


def with_environment(adapter):
    """The adapter, its framework environment (re)made first when missing or stale; skipped, with the
    reason, when it still cannot run here (e.g. TorchServe without Java)."""
    from infermeter.servers import envs

    if adapter.requirements and not envs.is_installed(adapter.name, adapter.requirements + adapter.pip_args):
        envs.install(adapter.name, adapter.requirements, pip_args=adapter.pip_args)
    why = adapter.missing()
    if why:
        pytest.skip(why)
    return adapter


def assert_listens_on_loopback_only(procs, at_least: int = 1) -> None:
    from infermeter.servers.process import listening_sockets

    socks = listening_sockets(procs)
    assert len(socks) >= at_least, socks
    assert {addr for _, addr, _ in socks} <= LOOPBACK, socks
