"""`infermeter load`'s settings and a suite's `load:` section are one model: same defaults, same bounds,
and cells keep the ids they had (--resume and compare match cells by them)."""

import hashlib
import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from infermeter.config import LoadSection, parse_suite, plan_servers
from infermeter.protocols.http import HttpTarget
from infermeter.loadgen.endpoint import LoadSettings, cell_of

WINDOW_FIELDS = ("arrival", "warmup_s", "min_seconds", "min_requests", "max_seconds", "timeout_s", "repeats",
                 "generator_processes")


def cli(*args):
    return subprocess.run([sys.executable, "-m", "infermeter.cli.main", *args], capture_output=True, text=True)


def test_the_load_command_and_a_suite_have_the_same_window_defaults():
    cli_side, suite_side = LoadSettings(), LoadSection()
    assert {f: getattr(cli_side, f) for f in WINDOW_FIELDS} == {f: getattr(suite_side, f) for f in WINDOW_FIELDS}


def test_the_defaults_load_help_shows_are_the_models():
    from infermeter.cli.main import LOAD_DEFAULTS_SHOWN

    assert LOAD_DEFAULTS_SHOWN == LoadSettings().model_dump()


@pytest.mark.parametrize("args, named", [
    (["--duration", "0"], "--duration"),
    (["--timeout", "0"], "--timeout"),
    (["--warmup", "-1"], "--warmup"),
    (["--repeats", "0"], "--repeats"),
    (["--generator-processes", "0"], "--generator-processes"),
    (["--workers", "0"], "--workers"),  # the old name: the message names the flag as typed
    (["--min-requests", "0"], "--min-requests"),
    (["--duration", "30", "--max-duration", "10"], "max_seconds (10.0) is below min_seconds (30.0)"),
])
def test_load_flags_out_of_the_models_bounds_are_refused_naming_the_flag(args, named):
    r = cli("load", "http://127.0.0.1:1/", "--users", "1", *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr and named in r.stderr, r.stderr


@pytest.mark.parametrize("flag, deprecated", [("--generator-processes", False), ("--workers", True)])
def test_generator_processes_and_its_old_name_workers_both_set_the_generator_processes(tmp_path, flag, deprecated):
    """`--workers` was the flag's name (a server's `workers` are its model instances): it still works, and
    says on stderr what it is called now."""
    from infermeter.loadgen.fake_server import FakeHttpServer, FakeServerConfig

    with FakeHttpServer(FakeServerConfig(service_ms=1)) as srv:
        r = cli("load", srv.url, "--users", "2", flag, "2", "--duration", "0.3", "--repeats", "1", "--warmup", "0",
                "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / "o" / "results.jsonl").read_text().splitlines()[0])
    assert rec["cell"]["settings"]["workers"] == 2  # the cell's key, unchanged: its id stays what it was
    assert rec["metrics"]["generator_processes"] == 2
    said = "deprecated: --workers is now --generator-processes" in " ".join(r.stderr.split())
    assert said == deprecated, r.stderr


def test_workers_and_generator_processes_together_are_refused():
    r = cli("load", "http://127.0.0.1:1/", "--users", "1", "--workers", "2", "--generator-processes", "2")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "both given" in r.stderr and "--generator-processes only" in r.stderr, r.stderr


def test_unset_load_flags_take_the_models_defaults(tmp_path):
    from infermeter.loadgen.fake_server import FakeHttpServer, FakeServerConfig

    with FakeHttpServer(FakeServerConfig(service_ms=1)) as srv:
        r = cli("load", srv.url, "--users", "1", "--duration", "0.3", "--repeats", "1", "--warmup", "0",
                "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / "o" / "results.jsonl").read_text().splitlines()[0])
    defaults = LoadSection()
    assert rec["cell"]["settings"]["timeout_s"] == defaults.timeout_s
    assert rec["cell"]["settings"]["min_requests"] == defaults.min_requests
    assert rec["cell"]["settings"]["workers"] == defaults.generator_processes == 1


def test_cell_ids_are_those_of_the_code_before_the_shared_model():
    # Hashes computed by the code before the shared model (LoadSettings a dataclass with `workers`).
    target = HttpTarget("http://127.0.0.1:8080/predict", "POST", b"{}", (("Content-Type", "application/json"),))
    s = LoadSettings(warmup_s=0.5, min_seconds=3, min_requests=200, max_seconds=30, timeout_s=5, repeats=2,
                     generator_processes=2, arrival="constant", seed=7)
    cell = cell_of(target, s, None, 25.0, "x")
    assert hashlib.sha256(json.dumps(cell, sort_keys=True).encode()).hexdigest()[:16] == "0a2e2dfd39698bdd"
    suite = parse_suite({"workloads": ["resnet50"], "servers": [{"name": "litserve"}],
                         "load": {"users": [1, 4], "rates": [5.0], "timeout_s": 30}})
    ids = [c.cell_id for _, _, cells in plan_servers(suite) for c in cells]
    assert ids == ["bd040dc078cafe93", "5a961f97f2aaa21d", "2ad09e46199990ec"]


def test_a_suite_load_section_runs_with_its_own_values_and_the_suites_seed():
    section = LoadSection(users=[2], timeout_s=30, min_requests=10, generator_processes=3)
    s = LoadSettings.of(section, seed=11)
    assert (s.timeout_s, s.min_requests, s.generator_processes, s.seed) == (30, 10, 3, 11)
    with pytest.raises(ValidationError):
        LoadSection(users=[1], seed=3)  # the seed is the suite's, not the load section's
