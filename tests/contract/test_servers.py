"""One contract every serving adapter passes, the same way: it deploys a small real workload and becomes
ready; it answers like the workload's reference engine run in process, through infermeter's own clients
(the answer check run before every load, and the load generator on the target it measures); its process
tree is the whole server; every socket of that tree is on loopback; and stop() leaves no process, no
listening port and no registration behind.

The adapters come from the plugin registry (servers/registry.py), so a new one is covered without touching
this file; the example plugin of tests/data/plugins is added from its source folder. An adapter that
cannot run here (framework environment, Java, TF Serving's binary) is skipped with its own reason. One
deployment per adapter serves all of its checks, so a failure names the part of the contract it broke.
Framework-specific behaviour (batching, protocols, metrics, quirks) is tested in tests/integration."""

from __future__ import annotations

import json
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from conftest import LOOPBACK, left_in_session, with_environment

from infermeter.export.artifacts import Exporter
from infermeter.loadgen.generator import LoadPlan, run_plan
from infermeter.servers.answers import check_answers
from infermeter.servers.base import Deployment, ServerAdapter
from infermeter.servers.common import leftovers
from infermeter.servers.common.process import listening_sockets
from infermeter.servers.registry import SERVERS
from infermeter.workloads.registry import get_workload

pytestmark = pytest.mark.integration

# The smallest real workload every framework serves (a scikit-learn tree model, text payloads; Triton runs
# its ONNX export). The answer check sends each of its 64 payloads once.
WORKLOAD = "malware-gbt"
# Settings where an adapter's defaults cannot serve WORKLOAD: KServe's default V1 protocol serves a
# TensorFlow SavedModel, which a tree model has not.
SETTINGS: dict[str, dict] = {"kserve": {"protocol": "v2"}}

PLUGIN_SOURCE = Path(__file__).resolve().parents[1] / "data" / "plugins" / "infermeter-stdlib-server"


def adapters() -> list[type[ServerAdapter]]:
    """Every registered adapter, and the example plugin (not pip-installed here) from its source."""
    found = dict(SERVERS)
    if "stdlib-http" not in found:
        sys.path.insert(0, str(PLUGIN_SOURCE))
        from infermeter_stdlib_server.adapter import StdlibHttp

        found[StdlibHttp.name] = StdlibHttp
    return [found[name] for name in sorted(found)]


@dataclass
class Served:
    adapter: ServerAdapter
    exporter: Exporter
    workdir: Path
    deployment: Deployment | None = None
    not_ready: str | None = None  # why it was not deployed or did not become ready
    cold_start_s: float | None = None
    stopped: bool = False
    seen_ports: set[int] = field(default_factory=set)  # the ports its tree listened on

    def ready(self) -> Deployment:
        """The deployment, for the checks that need a ready server (skipped without one: the readiness
        test fails and says why)."""
        if self.not_ready or self.deployment is None:
            pytest.skip(f"not ready (see test_deploys_and_becomes_ready): {self.not_ready}")
        if self.stopped:
            pytest.skip("already stopped by test_stop_leaves_nothing")
        return self.deployment


@pytest.fixture(scope="module")
def exporter(cache_root) -> Exporter:
    return Exporter(get_workload(WORKLOAD), cache_root)


@pytest.fixture(scope="module", params=adapters(), ids=lambda cls: cls.name)
def served(request, exporter, tmp_path_factory):
    """One deployment of the adapter, started and waited for as `infermeter run` does; stopped at the end
    (test_stop_leaves_nothing stops it first and checks what is left)."""
    cls = request.param
    adapter = with_environment(cls(cls.Settings(**SETTINGS.get(cls.name, {}))))
    s = Served(adapter, exporter, tmp_path_factory.mktemp(cls.name))
    try:
        s.deployment = adapter.deploy(exporter.workload, exporter, s.workdir)
        s.deployment.process.start()
        s.cold_start_s = s.deployment.process.wait_ready()
        adapter.on_ready(s.deployment)
    except Exception as exc:  # the readiness test reports it; the stop test still checks what it left
        s.not_ready = f"{type(exc).__name__}: {exc}"
    yield s
    if s.deployment is not None:
        s.deployment.process.stop()


def alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def processes_in(directory: Path) -> list[psutil.Process]:
    """Live processes whose command line or working directory names `directory`: found without the
    process tree, so that a helper which left the server's session is found too."""
    inside = str(directory) + "/"
    found = []
    for p in psutil.process_iter(["cmdline", "cwd"]):
        words = [*(p.info["cmdline"] or []), p.info["cwd"] or ""]
        if any(w == str(directory) or inside in w for w in words) and alive(p):
            found.append(p)
    return found


def inet_sockets(procs: list[psutil.Process]) -> list[tuple[int, str, str]]:
    """(pid, kind, address) for every address a TCP or UDP socket of `procs` is bound or connected to."""
    out = []
    for p in procs:
        try:
            conns = p.net_connections(kind="inet")
        except psutil.Error:
            continue
        for c in conns:
            kind = "udp" if c.type == socket.SOCK_DGRAM else c.status.lower()
            out.append((p.pid, kind, c.laddr.ip))
            if c.raddr:
                out.append((p.pid, f"{kind} to", c.raddr.ip))
    return out


def registered_guards() -> set[int]:
    """Pids of the guards of the servers registered as running (servers/common/leftovers.py)."""
    out = set()
    for path in leftovers.registry_dir().glob("*.json"):
        try:
            out.add(json.loads(path.read_text())["pid"])
        except (OSError, ValueError, KeyError):
            pass
    return out


def test_deploys_and_becomes_ready(served):
    assert served.not_ready is None, served.not_ready
    proc = served.deployment.process
    assert 0 < served.cold_start_s < served.adapter.settings.ready_timeout_s
    assert proc.exit_code() is None, "it exited after it was ready"
    assert proc.ready(), "its readiness check failed again right after it held"
    assert served.deployment.target.host == "127.0.0.1", served.deployment.target.url


def test_answers_like_the_reference_engine_in_process(served):
    d = served.ready()
    assert d.answer is not None, "the adapter does not decode its answers, so they cannot be checked before load"
    result = check_answers(d, served.exporter)
    assert result["verdict"] == "match", result
    assert result["checked"] == len(served.exporter.workload.payloads())


def test_the_load_generator_s_requests_succeed(served):
    """What is measured is the target (pre-encoded requests with their headers, e.g. an auth key), not the
    answer path: each of its requests must succeed through the load generator's own client."""
    d = served.ready()
    n = len(d.target.encode_all())
    result = run_plan(LoadPlan(d.target, "closed", users=1, warmup_s=0, min_seconds=0, min_requests=n, max_seconds=60, timeout_s=30))
    assert result.completed >= n and result.ok == result.completed, (result.outcomes, result.errors[:3])


def test_its_process_tree_is_the_whole_server(served):
    """Every process working in the server's directory is in the tree that is measured, checked for sockets
    and stopped: a helper that left the server's session would escape all three."""
    d = served.ready()
    d.answer(served.exporter.workload.payloads()[0])  # traffic first: some frameworks start their parts lazily
    tree = {p.pid for p in d.process.tree()}
    found = {p.pid: p.info["cmdline"] for p in processes_in(served.workdir) if p.pid != d.process.proc.pid}
    assert found, "no process of the server found in its directory"
    escaped = {pid: cmd for pid, cmd in found.items() if pid not in tree}
    assert not escaped, f"processes of the server outside its tree: {escaped}"


def test_every_socket_is_on_loopback(served):
    """Listening, connected or UDP, every socket of the tree is on loopback; and the ports the adapter says
    it serves on are the tree's own."""
    d = served.ready()
    d.answer(served.exporter.workload.payloads()[0])  # traffic first: some frameworks connect their parts lazily
    procs = d.process.tree()
    listening = listening_sockets(procs)
    ports = {port for _, _, port in listening}
    served.seen_ports |= ports
    declared = set(d.info.get("ports", {}).values()) | {d.target.port}
    assert declared <= ports, f"declared ports nothing of its tree listens on: {declared - ports}; listening: {listening}"
    beyond = [s for s in inet_sockets(procs) if s[2] not in LOOPBACK]
    assert not beyond, f"sockets beyond loopback (pid, kind, address): {beyond}"


def test_stop_leaves_nothing(served):
    """After stop(): no process of its tree or its session runs, nor any working in its directory; no port
    it listened on is listened on; it is no longer registered as running (`infermeter cleanup` would
    otherwise report it). Checked also when it did not become ready."""
    if served.deployment is None or served.deployment.process.proc is None:
        pytest.skip(f"never started: {served.not_ready}")
    proc = served.deployment.process
    guard = proc.proc.pid
    assert guard in registered_guards(), "a running server must be registered, so that `infermeter cleanup` finds it"
    tree = [psutil.Process(guard), *proc.tree()] if psutil.pid_exists(guard) else proc.tree()
    served.seen_ports |= {port for _, _, port in listening_sockets(tree)}
    proc.stop()
    served.stopped = True
    left = [p for p in tree if alive(p)] + [p for p in left_in_session(guard) if p not in tree]
    assert not left, f"still running after stop: {[(p.pid, p.name()) for p in left]}"
    elsewhere = [(p.pid, p.info["cmdline"]) for p in processes_in(served.workdir)]
    assert not elsewhere, f"processes working in the server's directory still run after stop: {elsewhere}"
    assert proc.exit_code() is not None
    still = [c for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN and c.laddr.port in served.seen_ports]
    assert not still, f"ports still listened on after stop: {still}"
    for port in served.seen_ports:  # and each can be had again
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
    assert guard not in registered_guards(), "still registered as a running server after stop"
