"""How much load can infermeter's generator drive, next to Locust (FastHttpUser) and wrk, and what does
distributing it on Locust's master/worker runner cost?

One nginx endpoint on 127.0.0.1 answers a fixed 2-byte body. nginx gets core 1; each generator in turn
gets core 0 alone (taskset), so all have the same core budget. For each: requests/s with many
connections, and the p50 latency it reports with one connection (low load). "infermeter distributed" is
`--distributed 1`: a Locust master and one worker (and the worker's generator process), all on core 0.
Goals (issue 16): infermeter >= 0.5x wrk and >= 5x Locust; distributed >= 0.9x one process. The master's
own CPU and the bytes it moved per window size a master for many workers.

Needs: nginx and wrk (Debian packages), locust (pip: the distributed extra), taskset (util-linux).

    python benchmarks/loadgen_vs_locust_wrk.py [--seconds 10] [--users 64]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok"; }}
    }}
}}
"""

LOCUSTFILE = """
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

class Hammer(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")
"""


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port: int, timeout: float = 10) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start")


def on_core(core: int, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *cmd]


MASTER: dict = {}  # the distributed run's master figures, for the sizing note


def run_infermeter(url: str, users: int, seconds: float, tmp: Path, extra: tuple[str, ...] = ()) -> tuple[float, float]:
    out = tmp / f"im-{users}-{len(extra)}"
    cmd = [sys.executable, "-m", "infermeter.cli.main", "load", url, "--users", str(users), "--duration", str(seconds),
           "--warmup", "2", "--repeats", "1", "--min-requests", "1", "--out", str(out), *extra]
    subprocess.run(on_core(0, cmd), check=True, capture_output=True)
    rec = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    if rec["metrics"].get("generator_master") and users > 1:
        MASTER.update(rec["metrics"]["generator_master"], window_s=rec["metrics"]["window_s"], requests=rec["metrics"]["requests"])
    return rec["metrics"]["throughput_rps"], rec["metrics"]["latency_ms"]["p50"]


def run_distributed(url: str, users: int, seconds: float, tmp: Path) -> tuple[float, float]:
    return run_infermeter(url, users, seconds, tmp, ("--distributed", "1"))


def run_locust(url: str, users: int, seconds: float, tmp: Path) -> tuple[float, float]:
    lf = tmp / "locustfile.py"
    lf.write_text(textwrap.dedent(LOCUSTFILE))
    prefix = tmp / f"locust-{users}"
    # Locust has no warm-up: give it 2 s more and read its totals (it reports the whole run).
    cmd = [sys.executable, "-m", "locust", "-f", str(lf), "--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds + 2:.0f}s",
           "--host", url.rstrip("/"), "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"]
    subprocess.run(on_core(0, cmd), check=False, capture_output=True)
    with open(f"{prefix}_stats.csv") as f:
        row = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"][0]
    return float(row["Requests/s"]), float(row["50%"])


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def run_wrk(url: str, users: int, seconds: float, tmp: Path) -> tuple[float, float]:
    cmd = ["wrk", "-t1", f"-c{users}", f"-d{seconds:.0f}s", "--latency", url]
    text = subprocess.run(on_core(0, cmd), check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"50%\s+([\d.]+)(us|ms|s)", text)
    return rps, _ms(m.group(1), m.group(2))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--users", type=int, default=64)
    args = ap.parse_args()
    for tool in ("nginx", "wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install nginx-light wrk")
    from infermeter.loadgen.distributed import locust_installed

    if not locust_installed():
        sys.exit("locust not found: pip install 'infermeter[distributed]'")
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs 2 cores: one for nginx, one for the generator")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        port = free_port()
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port))
        nginx = subprocess.Popen(on_core(1, ["nginx", "-c", str(tmp / "nginx.conf"), "-p", str(tmp)]), start_new_session=True)
        try:
            wait_port(port)
            url = f"http://127.0.0.1:{port}/"
            print(f"nginx on core 1 at {url}; each generator alone on core 0; {args.seconds:.0f} s per measurement")
            print(f"{'generator':<12} {'req/s @' + str(args.users) + ' conns':>18} {'p50 ms @1 conn':>16}")
            results = {}
            for name, fn in (("infermeter", run_infermeter), ("distributed", run_distributed), ("locust", run_locust),
                             ("wrk", run_wrk)):
                rps, _ = fn(url, args.users, args.seconds, tmp)
                _, p50 = fn(url, 1, args.seconds, tmp)
                results[name] = (rps, p50)
                print(f"{name:<12} {rps:>18.0f} {p50:>16.3f}")
            im, di, lo, wr = (results[k][0] for k in ("infermeter", "distributed", "locust", "wrk"))
            print(f"infermeter / wrk = {im / wr:.2f}x (goal >= 0.5)   infermeter / locust = {im / lo:.2f}x (goal >= 5)   "
                  f"distributed / one process = {di / im:.2f}x (goal >= 0.9)")
            print("(Locust reports percentiles in whole milliseconds: a sub-millisecond median shows as 0 or 1.)")
            if MASTER:
                per = MASTER["cpu_s"] / MASTER["workers"]
                print(f"master, one window of {MASTER['window_s']:.1f} s and {MASTER['requests']} requests: CPU {1000 * MASTER['cpu_s']:.1f} ms "
                      f"for {MASTER['workers']} worker(s), {MASTER['plan_bytes']} B of plans out, {MASTER['result_bytes']} B of results in; "
                      f"at this per-worker cost 100 workers take ~{100 * per:.2f} s of master CPU a window and "
                      f"~{100 * MASTER['result_bytes'] / MASTER['workers'] / 1e6:.1f} MB of results")
        finally:
            os.killpg(nginx.pid, signal.SIGTERM)
            nginx.wait(10)


if __name__ == "__main__":
    main()
