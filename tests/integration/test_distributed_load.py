"""A Locust master and two workers on loopback, against the fake server: the merged record is the one a
single process of all the samples would give, the open-loop shares are the seeded schedule, a killed
worker fails its window with the cause and leaves no process, and nothing listens beyond 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import psutil
import pytest

from infermeter.loadgen.distributed import LocustPool, locust_installed
from infermeter.loadgen.endpoint import build_plans
from infermeter.loadgen.fake_server import FakeHttpServer, FakeServerConfig
from infermeter.loadgen.generator import GeneratorFailedError, merge, scheduled
from infermeter.loadgen.schedule import arrivals, digest, split
from infermeter.loadgen.settings import LoadSettings
from infermeter.protocols.http import HttpTarget
from infermeter.results import histogram

# Never imported here: Locust monkey-patches the process that imports it (the master and workers are their own).
pytestmark = pytest.mark.skipif(not locust_installed(), reason="Locust is not installed (the distributed extra)")


def _tree(pool: LocustPool) -> list[psutil.Process]:
    roots = [pool.master, *(w.proc for w in pool.workers)]
    procs = []
    for r in roots:
        try:
            p = psutil.Process(r.pid)  # type: ignore[union-attr]
            procs += [p, *p.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    return procs


def _window(pool: LocustPool, srv: FakeHttpServer, users: int | None = None, rate: float | None = None, **kw: object):
    s = LoadSettings(generator_processes=pool.count, warmup_s=0.3, min_seconds=2.0, min_requests=50, max_seconds=10,
                     timeout_s=5, repeats=1, seed=7, **kw)
    plans = [p.__class__(**{**p.__dict__, "keep_samples": True}) for p in build_plans(HttpTarget(srv.url), s, users, rate, 0)]
    return s, plans, pool.run(scheduled(plans, pool))


def _pooled_percentiles_match(results) -> None:
    pooled = np.sort(np.concatenate([np.asarray(r.samples_us, dtype=np.int64) for r in results]))
    merged = merge(results)
    assert merged["requests"] == sum(r.completed for r in results) == len(pooled)
    h = histogram.merge(r.latency_hdr for r in results)
    for q in (50, 90, 99):
        exact = int(pooled[max(int(q * len(pooled) / 100 + 0.5), 1) - 1])  # the sample at HdrHistogram's rank
        # the merged figure is that very sample's bucket (3 significant digits), not a neighbour's
        assert h.get_value_at_percentile(q) == h.get_highest_equivalent_value(exact), q
        assert merged["latency_ms"][f"p{q}"] == h.get_highest_equivalent_value(exact) / 1000, q


@pytest.fixture(scope="module")
def pool():
    with LocustPool(local=2) as p:
        yield p


def test_closed_loop_merged_record_is_that_of_all_samples(pool):
    with FakeHttpServer(FakeServerConfig(service_ms=4)) as srv:
        _, plans, results = _window(pool, srv, users=6)
    assert [p.users for p in plans] == [3, 3]
    assert len({r.worker for r in results}) == 2 and all(r.worker for r in results)
    _pooled_percentiles_match(results)
    merged = merge(results)
    assert [s["requests"] for s in merged["generator_shares"]] == [r.completed for r in results]
    # Little's law: users = throughput x mean time in the system (no think time)
    mean_s = histogram.merge(r.latency_hdr for r in results).get_mean_value() / 1e6
    assert merged["throughput_rps"] * mean_s == pytest.approx(6, rel=0.03)
    assert "locust" not in sys.modules and "gevent" not in sys.modules  # this process was not monkey-patched


def test_open_loop_shares_are_the_seeded_schedule(pool):
    with FakeHttpServer(FakeServerConfig(service_ms=2)) as srv:
        s, plans, results = _window(pool, srv, rate=150.0)
    schedule = arrivals(150.0, s.min_seconds, "poisson", seed=s.seed)
    assert sorted(r.schedule_digest for r in results) == sorted(digest(part) for part in split(schedule, 2))
    assert sum(r.completed + r.unsent for r in results) == len(schedule)
    _pooled_percentiles_match(results)


def test_nothing_listens_beyond_loopback(pool):
    listening = [c for p in _tree(pool) for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert listening, "the master listens somewhere"
    assert {c.laddr.ip for c in listening} <= {"127.0.0.1"}, listening


def test_a_worker_killed_mid_window_fails_it_with_the_cause_and_leaves_no_process():
    with FakeHttpServer(FakeServerConfig(service_ms=2)) as srv, LocustPool(local=2) as p:
        victim = p.workers[1].proc
        procs = _tree(p)
        s = LoadSettings(generator_processes=2, warmup_s=0.2, min_seconds=30.0, max_seconds=30.0, repeats=1)
        threading.Timer(3.0, os.kill, (victim.pid, signal.SIGKILL)).start()
        t0 = time.monotonic()
        with pytest.raises(GeneratorFailedError) as err:
            p.run(scheduled(build_plans(HttpTarget(srv.url), s, 4, None, 0), p))
        assert time.monotonic() - t0 < 15  # found by its heartbeats, not at the end of the 30 s window
        assert "stopped answering" in str(err.value) and str(victim.pid) in str(err.value)
    _, alive = psutil.wait_procs(procs, timeout=5)
    assert not alive, alive


def test_load_command_distributed_end_to_end(tmp_path):
    with FakeHttpServer(FakeServerConfig(service_ms=2)) as srv:
        run = subprocess.run([sys.executable, "-m", "infermeter.cli.main", "load", srv.url, "--users", "4", "--distributed", "2",
                              "--duration", "1", "--warmup", "0.2", "--repeats", "1", "--out", str(tmp_path / "out")],
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    import json

    rec = json.loads((tmp_path / "out" / "results.jsonl").read_text().splitlines()[-1])
    shares = rec["metrics"]["generator_shares"]
    assert len(shares) == 2 and sum(x["requests"] for x in shares) == rec["metrics"]["requests"]
    assert rec["cell"]["settings"]["workers"] == 2
    master = rec["metrics"]["generator_master"]
    assert master["workers"] == 2 and master["result_bytes"] > 0 and len(master["clock_offsets_ms"]) == 2
    assert all(abs(x) < 50 for x in master["clock_offsets_ms"])  # one machine, one clock
