from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

# infermeter's test doubles (the fake engine, the fake-tiny workload) exist only where this names them, here
# and in every cell worker the tests start (they inherit the environment): infermeter/plugins.py.
os.environ["INFERMETER_PLUGIN_MODULES"] = ",".join(
    filter(None, [os.environ.get("INFERMETER_PLUGIN_MODULES", ""), "infermeter.testing"]))


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One artifact cache for the whole session: each model is exported once."""
    shared = os.environ.get("INFERMETER_TEST_CACHE")
    if shared:
        Path(shared).mkdir(parents=True, exist_ok=True)
        return Path(shared)
    return tmp_path_factory.mktemp("cache")


LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


_INSTALLS: dict[str, Future] = {}
_INSTALLS_STARTED: list[bool] = []


def _install_every_missing_environment() -> None:
    """At the first test that needs a framework environment, every missing one is made at once, a few at a
    time: pip mostly waits on downloads and disk, and one after another they took about 4 minutes of CI."""
    from infermeter.servers.common import envs
    from infermeter.servers.registry import SERVERS

    if _INSTALLS_STARTED:
        return
    _INSTALLS_STARTED.append(True)
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="env-install")
    for name, cls in SERVERS.items():
        if cls.requirements and not envs.is_installed(name, cls.requirements + cls.pip_args):
            _INSTALLS[name] = pool.submit(envs.install, name, cls.requirements, pip_args=cls.pip_args)
    pool.shutdown(wait=False)


def with_environment(adapter):
    """The adapter, its framework environment (re)made first when missing or stale; skipped, with the
    reason, when it still cannot run here (e.g. TorchServe without Java)."""
    from infermeter.servers.common import envs

    _install_every_missing_environment()
    if adapter.name in _INSTALLS:
        _INSTALLS[adapter.name].result()  # its install's own error, if it failed
    if adapter.requirements and not envs.is_installed(adapter.name, adapter.requirements + adapter.pip_args):
        envs.install(adapter.name, adapter.requirements, pip_args=adapter.pip_args)
    why = adapter.missing()
    if why:
        pytest.skip(why)
    return adapter


def assert_listens_on_loopback_only(procs, at_least: int = 1) -> None:
    from infermeter.servers.common.process import listening_sockets

    socks = listening_sockets(procs)
    assert len(socks) >= at_least, socks
    assert {addr for _, addr, _ in socks} <= LOOPBACK, socks


def whole_records(results_jsonl: Path) -> list[dict]:
    """The records of a results.jsonl, read while it may be growing: whole lines only (the piece after the
    last newline may be a record being written right now); a torn whole line fails the caller's test."""
    import json

    if not results_jsonl.exists():
        return []
    return [json.loads(line) for line in results_jsonl.read_text().split("\n")[:-1]]


def wait_for(cond, timeout: float = 60.0) -> None:

    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def left_in_session(sid: int) -> list:
    """Live (non-zombie) processes of session `sid`."""
    import psutil

    out = []
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getsid(p.pid) == sid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (OSError, psutil.Error):
            pass
    return out


def left_after(sid: int, seconds: float = 5.0) -> list:
    """What of session `sid` is still alive after up to `seconds`: multiprocessing's resource tracker ends
    when it reads EOF from its parent, a few milliseconds after it; anything alive after that is a leak."""
    deadline = time.monotonic() + seconds
    while (left := left_in_session(sid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def generator_processes(pid: int) -> list:
    """The load-generator processes (multiprocessing spawn children) of infermeter process `pid`."""
    import psutil

    out = []
    for child in psutil.Process(pid).children():
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                out.append(child)
        except psutil.Error:  # a child that just exited
            pass
    return out


def synthetic_run(seed, latency_ms=10.0, throughput=100.0, repeats=5, cells=("c1", "c2"), noise=0.03):
    """Records of a run: one server cell per id, `repeats` windows each, latencies drawn from a seeded
    gamma distribution, window-to-window noise of a few percent."""
    import numpy as np

    from infermeter.results import histogram, stats

    rng = np.random.default_rng(seed)
    out = []
    for cid in cells:
        for rep in range(repeats):
            drift = 1 + rng.normal(0, noise)
            lat_ns = rng.gamma(20, latency_ms * drift / 20, 2000) * 1e6
            out.append({
                "kind": "server", "cell_id": cid, "status": "ok", "repeat": rep, "repeats": repeats,
                "cell": {"workload": "w", "users": 1}, "server": {"label": f"srv-{cid}"},
                "metrics": {"latency_hdr": histogram.encode(histogram.from_ns(lat_ns)), "latency_ms": stats.latency_summary_ms(lat_ns),
                            "throughput_rps": throughput / drift},
            })
    return out
