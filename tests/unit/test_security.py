"""One test per security and data finding of issue 14 (files, locks, resume, reports, the artifact cache,
framework environments, cleanup, Triton, Ray, credentials in URLs, the report's inline data). Each one
failed on the code before its fix. No model export, no real server: adapters are checked by the command
line and environment they build."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from infermeter.config import parse_suite
from infermeter.errors import ConfigError
from infermeter.results.store import ResultStore
from infermeter.runner import run_suite

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="making a directory someone else's needs root (chown)")
NOBODY = 65534


def suite(**over):
    base = {
        "workloads": ["fake-tiny"],
        "engines": [{"name": "fake", "settings": {"service_ms": 1.0}}],
        "scenarios": [{"kind": "offline", "batch_sizes": [1]}],
        "warmup": {"iterations": 1, "seconds": 0},
        "measure": {"repeats": 2, "min_iterations": 5, "min_seconds": 0.01, "max_seconds": 2},
    }
    base.update(over)
    return parse_suite(base)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """A finished fake run (OUT, cache): copied by the tests that change it."""
    base = tmp_path_factory.mktemp("measured")
    out, cache = base / "out", base / "cache"
    run_suite(suite(), out, cache_root=cache, isolation="none")
    return out, cache


def copy_run(measured, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(measured[0], out, symlinks=True)
    os.chmod(out, 0o700)
    for lock in out.glob(".infermeter.lock"):
        lock.unlink()
    return out


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# --- results directories and the files in them ---------------------------------------------------------

def test_results_directory_is_created_private(tmp_path):
    ResultStore(tmp_path / "a" / "out").create()
    assert mode(tmp_path / "a" / "out") == 0o700


@needs_root
def test_results_directory_of_another_user_is_refused(tmp_path):
    out = tmp_path / "theirs"
    out.mkdir()
    os.chown(out, NOBODY, NOBODY)
    with pytest.raises(ConfigError, match="not to you"):
        ResultStore(out).create()


def test_a_planted_results_csv_link_gets_no_row(tmp_path, measured):
    record = next(ResultStore(measured[0]).records())
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file\n")
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    (out / "results.csv").symlink_to(victim)
    store = ResultStore(out)
    store.create()
    with pytest.raises(ConfigError, match="symbolic link"):
        store.append(record)
    assert victim.read_text() == "someone else's file\n"


def test_summary_csv_is_replaced_whole_never_through_a_link(tmp_path, monkeypatch):
    from infermeter.reports.table import write_summary_csv

    victim = tmp_path / "victim.txt"
    victim.write_text("keep\n")
    link = tmp_path / "summary.csv"
    link.symlink_to(victim)
    write_summary_csv([], link)
    assert victim.read_text() == "keep\n" and not link.is_symlink() and link.read_text().startswith("cell_id")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)  # a write that fails half-way leaves the old file
    with pytest.raises(Exception, match="No space left"):
        write_summary_csv([], link)
    assert link.read_text().startswith("cell_id")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_registry_files_are_private_and_written_whole(tmp_path, monkeypatch):
    from infermeter.servers.common import leftovers

    monkeypatch.setenv("INFERMETER_RUNNING", str(tmp_path / "running"))
    path = leftovers.register(os.getpid(), "x", ["x"], "t")
    assert mode(tmp_path / "running") == 0o700 and mode(path) == 0o600
    assert json.loads(path.read_text())["token"] == "t" and len(list((tmp_path / "running").iterdir())) == 1


def test_a_second_run_on_the_same_out_is_refused(tmp_path, measured):
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(out / '.infermeter.lock')!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode()); print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=f"another infermeter process \\(pid {holder.pid}\\)"):
            run_suite(suite(), out, cache_root=measured[1], isolation="none")
        assert not (out / "results.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()
    run_suite(suite(), out, cache_root=measured[1], isolation="none")  # free again once the other is gone
    fd = os.open(out / ".infermeter.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released after the run
    finally:
        os.close(fd)


def test_resume_refuses_a_different_suite_unless_forced(tmp_path, measured):
    out = copy_run(measured, tmp_path)
    other = suite(scenarios=[{"kind": "offline", "batch_sizes": [1, 2]}])
    before = (out / "suite.json").read_text()
    with pytest.raises(ConfigError, match="different suite") as exc:
        run_suite(other, out, cache_root=measured[1], isolation="none", resume=True)
    assert "--force-suite" in exc.value.hint
    assert (out / "suite.json").read_text() == before
    summary = run_suite(other, out, cache_root=measured[1], isolation="none", resume=True, force_suite=True)
    assert (summary.resumed, summary.measured) == (1, 1)
    assert run_suite(suite(scenarios=[{"kind": "offline", "batch_sizes": [1, 2]}]), out, cache_root=measured[1],
                     isolation="none", resume=True).resumed == 2  # the same suite again: fine


# --- reading forgiving, writing strict; doctor ----------------------------------------------------------

def test_reading_skips_and_names_a_damaged_line(tmp_path, measured):
    out = copy_run(measured, tmp_path)
    with (out / "results.jsonl").open("ab") as f:
        f.write(b"\xff not json\n42\n")
    store = ResultStore(out)
    assert len(store.read()) == 2
    assert [n for n, _ in store.rejected] == [3, 4] and "int" in store.rejected[1][1]


def test_resume_refuses_a_damaged_results_file_and_names_the_repair(tmp_path, measured):
    out = copy_run(measured, tmp_path)
    with (out / "results.jsonl").open("ab") as f:
        f.write(b"garbage\n")
    size = (out / "results.jsonl").stat().st_size
    with pytest.raises(ConfigError, match="damaged line.*line 3: not JSON") as exc:
        run_suite(suite(), out, cache_root=measured[1], isolation="none", resume=True)
    assert f"infermeter doctor {out}" in exc.value.hint
    assert (out / "results.jsonl").stat().st_size == size


def test_doctor_moves_damaged_lines_aside_and_keeps_every_record(tmp_path, measured):
    from infermeter.doctor import doctor

    out = copy_run(measured, tmp_path)
    lines = (out / "results.jsonl").read_bytes().splitlines(keepends=True)
    (out / "results.jsonl").write_bytes(lines[0] + b"[1, 2]\n" + lines[1] + b'{"torn": ')
    victim = tmp_path / "victim.txt"
    victim.write_text("keep\n")
    (out / "results.csv").unlink()
    (out / "results.csv").symlink_to(victim)
    (out / ".summary.csv.123.4.tmp").write_text("half")

    check = doctor(out, repair=False)
    assert len(check.findings) == 2 and (out / ".summary.csv.123.4.tmp").exists()  # a dry run changes nothing

    check = doctor(out)
    assert check.records == 2 and not check.unrepaired
    store = ResultStore(out)
    assert len(store.read()) == 2 and store.rejected == []
    assert (out / "results.damaged.jsonl").read_bytes() == b'[1, 2]\n{"torn": \n'
    assert victim.read_text() == "keep\n" and not (out / "results.csv").is_symlink()
    assert len((out / "results.csv").read_text().splitlines()) == 3
    assert not (out / ".summary.csv.123.4.tmp").exists()
    assert doctor(out).findings == []
    run_suite(suite(), out, cache_root=measured[1], isolation="none", resume=True)  # resumable again


def test_doctor_command_reports_and_exits_nonzero_on_a_dry_run_with_problems(tmp_path, measured):
    out = copy_run(measured, tmp_path)
    with (out / "results.jsonl").open("ab") as f:
        f.write(b"junk\n")
    cli = [sys.executable, "-m", "infermeter.cli.main", "doctor"]
    r = subprocess.run([*cli, str(out), "--dry-run"], capture_output=True, text=True)
    assert r.returncode != 0 and "line 3" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([*cli, str(out)], capture_output=True, text=True)
    assert r.returncode == 0 and "repaired" in r.stderr and "2 records" in r.stderr


# --- reports ------------------------------------------------------------------------------------------

def test_report_never_deletes_what_it_did_not_write(tmp_path, measured):
    from infermeter.reports.report import write_report

    out = copy_run(measured, tmp_path)
    figs = out / "figures"
    figs.mkdir()
    mine = figs / "throughput-vs-my-own.png"
    mine.write_bytes(b"the user's")
    files = write_report([out], out)
    assert mine.read_bytes() == b"the user's"
    manifest = json.loads((out / ".infermeter-report.json").read_text())["files"]
    assert "report.html" in manifest and all((out / f).exists() for f in manifest)
    assert {str(p.relative_to(out)) for p in files.figures} <= set(manifest)
    # A figure an earlier report wrote and this one does not draw is removed; nothing else.
    stale = figs / "latency-gone.png"
    stale.write_bytes(b"old")
    (out / ".infermeter-report.json").write_text(json.dumps({"files": [*manifest, "figures/latency-gone.png", "../victim.png"]}))
    (tmp_path / "victim.png").write_bytes(b"x")
    write_report([out], out)
    assert not stale.exists() and mine.exists() and (tmp_path / "victim.png").exists()


def test_report_inline_data_survives_every_html_parser_state(tmp_path):
    """A label holding `<!--<script>` used to move the parser into the 'script data double escaped'
    state, where the data's `</script>` did not end the element: the page's own script became data."""
    from infermeter.reports.html import _script_json

    nasty = "a <!--<script> b </script> c </SCRIPT x> & \u2028 \u2029 ]]> -->"
    data = [{"label": nasty}]
    encoded = _script_json(data)
    assert not re.search(r"[<>&\u2028\u2029]", encoded) and json.loads(encoded) == data
    page = (f'<!doctype html><html><body><script type="application/json" id="d">{encoded}</script>'
            '<script>draw()</script><p id="after">x</p></body></html>')
    try:
        import html5lib
    except ImportError:
        html5lib = None
    if html5lib is not None:  # the WHATWG tokenizer, every script state
        doc = html5lib.parse(page, namespaceHTMLElements=False)
        scripts = doc.findall(".//script")
        assert [s.text for s in scripts] == [encoded, "draw()"] and doc.find(".//p").text == "x"
    from html.parser import HTMLParser

    class Scripts(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found, self.open = [], False

        def handle_starttag(self, tag, attrs):
            self.open = tag == "script"

        def handle_data(self, text):
            if self.open:
                self.found.append(text)

        def handle_endtag(self, tag):
            self.open = False

    p = Scripts()
    p.feed(page)
    assert p.found == [encoded, "draw()"]


# --- the artifact cache and framework environments ------------------------------------------------------

@pytest.fixture
def fake_exporter(tmp_path):
    from infermeter.export.artifacts import Exporter
    from infermeter.workloads.registry import get_workload

    return Exporter(get_workload("fake-tiny"), tmp_path / "cache")


def test_cache_is_created_private(fake_exporter):
    art = fake_exporter.artifact("fake")
    root = fake_exporter.cache_root
    for d in (root, root / "artifacts", art.path.parent.parent, art.path.parent):
        assert mode(d) == 0o700, d


def test_a_group_writable_cache_entry_is_not_loaded(fake_exporter):
    art = fake_exporter.artifact("fake")
    os.chmod(art.path.parent.parent, 0o777)
    with pytest.raises(ConfigError, match="can be written by other users"):
        fake_exporter.artifact("fake")


@needs_root
def test_a_cache_of_another_user_is_not_loaded(fake_exporter):
    art = fake_exporter.artifact("fake")
    os.chown(art.path.parent, NOBODY, NOBODY)
    with pytest.raises(ConfigError, match="belongs to uid"):
        fake_exporter.artifact("fake")


def test_a_cache_entry_name_cannot_point_outside_the_cache(fake_exporter, tmp_path):
    art = fake_exporter.artifact("fake")
    meta = art.path.parent / "meta.json"
    for name in ("../../../../victim.npy", "/etc/passwd"):
        meta.write_text(json.dumps(json.loads(meta.read_text()) | {"file": name}))
        with pytest.raises(ConfigError, match="outside"):
            fake_exporter.artifact("fake")
    (art.path.parent / "link.npy").symlink_to(tmp_path / "elsewhere.npy")
    meta.write_text(json.dumps(json.loads(meta.read_text()) | {"file": "link.npy"}))
    with pytest.raises(ConfigError, match="outside"):
        fake_exporter.artifact("fake")


def test_an_interrupted_export_leaves_no_temporary_directory(fake_exporter):
    from infermeter.export.artifacts import format_dir

    parent = format_dir(fake_exporter.cache_root, fake_exporter.workload, "fake").parent
    parent.mkdir(parents=True, mode=0o700)
    for p in (fake_exporter.cache_root, fake_exporter.cache_root / "artifacts"):
        os.chmod(p, 0o700)
    dead = subprocess.Popen(["true"])
    dead.wait()
    killed = [parent / f".fake-{dead.pid}-abcdefgh", parent / ".onnx-k2j4h5g6"]  # a SIGKILLed export; an old one
    running = parent / f".onnx-{os.getpid()}-zzzzzzzz"  # an export still running in a live process
    for d in (*killed, running):
        d.mkdir()
        (d / "model.onnx").write_bytes(b"half")
    fake_exporter.artifact("fake")
    assert not any(d.exists() for d in killed) and running.exists()
    assert sorted(p.name for p in parent.iterdir() if p.name.startswith(".")) == [running.name]


def test_a_framework_environment_others_can_write_is_not_run(tmp_path, monkeypatch):
    from infermeter.servers.common import envs

    monkeypatch.setenv("INFERMETER_ENVS", str(tmp_path / "envs"))
    (tmp_path / "envs" / "triton" / "bin").mkdir(parents=True)
    os.chmod(tmp_path / "envs", 0o700)
    assert envs.env_bin("triton") == tmp_path / "envs" / "triton" / "bin"
    os.chmod(tmp_path / "envs" / "triton" / "bin", 0o777)
    with pytest.raises(ConfigError, match="framework environment .* can be written by other users"):
        envs.env_bin("triton")


def test_a_damaged_environment_record_says_so_and_servers_still_lists(tmp_path, monkeypatch, capsys):
    from infermeter.cli.main import main
    from infermeter.servers.common import envs

    monkeypatch.setenv("INFERMETER_ENVS", str(tmp_path / "envs"))
    (tmp_path / "envs" / "litserve" / "bin").mkdir(parents=True)
    os.chmod(tmp_path / "envs", 0o700)
    (tmp_path / "envs" / "litserve" / "infermeter-env.json").write_text('{"torn')  # a kill mid-write, before writes were atomic
    assert envs.env_info("litserve") == {}
    assert "infermeter-env.json is damaged" in envs.why_not_ready("litserve", ["litserve"])
    monkeypatch.setattr(sys, "argv", ["infermeter", "servers"])
    monkeypatch.setenv("COLUMNS", "300")
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None)
    assert "is damaged" in capsys.readouterr().out


# --- cleanup --------------------------------------------------------------------------------------------

def test_cleanup_does_not_stop_a_process_a_planted_registry_file_names(tmp_path):
    """A registry file naming an unrelated process of the user's (here a `sleep` in its own session, with
    its true start time and command) must not make `cleanup` stop it."""
    running = tmp_path / "running"
    running.mkdir(mode=0o700)
    sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        p = psutil.Process(sleeper.pid)
        (running / f"{sleeper.pid}.json").write_text(json.dumps({
            "pid": sleeper.pid, "name": "triton", "command": "sleep 60", "argv": ["sleep", "60"], "created": p.create_time(),
            "owner": 999999, "owner_created": 0, "uid": os.geteuid(), "token": "guessed"}))
        env = dict(os.environ, INFERMETER_RUNNING=str(running))
        r = subprocess.run([sys.executable, "-m", "infermeter.cli.main", "cleanup"], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        time.sleep(0.2)
        assert sleeper.poll() is None, "cleanup stopped an unrelated process"
        assert "no leftover servers" in r.stderr
    finally:
        sleeper.send_signal(signal.SIGKILL)
        sleeper.wait()


# --- what each framework is started with ----------------------------------------------------------------

def _deploy(adapter, tmp_path, monkeypatch):
    workload = SimpleNamespace(name="fake-tiny", payloads=lambda: [b"x"])
    monkeypatch.setattr(type(adapter), "require_runnable", lambda self: None)
    monkeypatch.setattr(type(adapter), "version", lambda self: "test")
    monkeypatch.setattr(type(adapter), "serving_config",
                        lambda self, w, e, d, relative=False: SimpleNamespace(runtime="pytorch", bytes_encoding="base64"))
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return adapter.deploy(workload, None, work)


def test_triton_starts_with_its_admin_apis_behind_a_key(tmp_path, monkeypatch):
    from infermeter.servers.registry import adapter_for

    site = tmp_path / "site"
    stub = site / "pytriton" / "tritonserver" / "backends" / "python" / "triton_python_backend_stub"
    stub.parent.mkdir(parents=True)
    stub.write_text("")
    for pkg in ("numpy", "numpy.libs"):
        (site / pkg).mkdir()
    adapter = adapter_for("triton", {})
    monkeypatch.setattr(type(adapter), "_root", lambda self: site)
    cmd = _deploy(adapter, tmp_path, monkeypatch).process.command
    http = [a for a in cmd if a.startswith("--http-restricted-api=")]
    grpc = [a for a in cmd if a.startswith("--grpc-restricted-protocol=")]
    assert len(http) == len(grpc) == 1
    apis, _, header = http[0].split("=", 1)[1].partition(":")
    assert set(apis.split(",")) >= {"shared-memory", "trace", "logging", "model-repository"}
    assert not set(apis.split(",")) & {"health", "metadata", "inference"}  # what infermeter itself calls
    name, _, key = header.partition("=")
    assert name == "infermeter-admin-key" and re.fullmatch(r"[0-9a-f]{32}", key)
    assert grpc[0].split("=", 1)[1] == http[0].split("=", 1)[1]
    again = _deploy(adapter, tmp_path, monkeypatch).process.command
    assert [a for a in again if a.startswith("--http-restricted-api=")] != http  # a new key per start


def test_ray_token_auth_cannot_be_switched_off_by_the_environment(tmp_path, monkeypatch):
    from infermeter.servers.registry import adapter_for

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    adapter = adapter_for("rayserve", {})
    monkeypatch.setattr("infermeter.servers.common.envs.env_bin", lambda name: tmp_path / "bin")
    env = _deploy(adapter, tmp_path, monkeypatch).process.env
    assert env["RAY_AUTH_MODE"] == "token"


# --- credentials in URLs --------------------------------------------------------------------------------

def test_url_credentials_are_sent_but_never_stored_or_shown(tmp_path):
    from infermeter.loadgen.fake_server import FakeHttpServer
    from infermeter.protocols.http import HttpTarget
    from infermeter.loadgen.endpoint import run_load
    from infermeter.loadgen.settings import LoadSettings
    from infermeter.reports.report import write_report
    from infermeter.results.summary import summarise_loads

    with FakeHttpServer() as srv:
        url = srv.url.replace("http://", "http://alice:s3cr3t@")
        target = HttpTarget(url)
        request = target.encode().decode("latin-1")
        assert "s3cr3t" not in request.split("\r\n")[1]  # the Host header
        assert "Authorization: Basic YWxpY2U6czNjcjN0" in request
        settings = LoadSettings(warmup_s=0, min_seconds=0.1, min_requests=5, max_seconds=2, repeats=1)
        run_load(target, tmp_path / "out", settings, users=[1])
    for f in ("results.jsonl", "results.csv"):
        assert "s3cr3t" not in (tmp_path / "out" / f).read_text(), f
    assert "***@" in (tmp_path / "out" / "results.jsonl").read_text()
    write_report([tmp_path / "out"], tmp_path / "out")
    assert "s3cr3t" not in (tmp_path / "out" / "report.html").read_text()
    # A record written before redaction existed is shown redacted all the same.
    text = (tmp_path / "out" / "results.jsonl").read_text().replace("***@", "alice:s3cr3t@")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "results.jsonl").write_text(text)
    rows = summarise_loads(ResultStore(tmp_path / "old").read())
    assert rows and all("s3cr3t" not in (r.label + str(r.target)) for r in rows)
    from infermeter.results.redact import redact_text

    assert redact_text("GET http://u:p@h:1/x failed; see https://tok@h2/") == "GET http://***@h:1/x failed; see https://***@h2/"
