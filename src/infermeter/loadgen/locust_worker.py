"""`infermeter worker --master HOST:PORT`: a Locust worker that runs infermeter's shares of load.

Locust (its WorkerRunner: ZeroMQ, heartbeats, reconnection) carries the messages; infermeter's own request
loop runs each share in a child process (loadgen/share_child.py) and the worker ships the child's
histograms and counts back. Messages, all prefixed `im_` (Locust's own names are left alone):

    worker -> master  im_hello   {version, host, pid}
    master -> worker  im_clock   {t0}            worker -> master  im_clock  {t0, tw}  (clock offset)
    master -> worker  im_window  {window, plan}  worker -> master  im_result {window, result | error}

This module is imported only in its own process: importing Locust monkey-patches the standard library.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time


def parse_master(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("give HOST:PORT, the master's address and port")
    return host.strip("[]"), int(port)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="infermeter worker")
    ap.add_argument("--master", required=True, help="HOST:PORT of the master (infermeter load --distributed ...)")
    args = ap.parse_args(argv)
    try:
        host, port = parse_master(args.master)
    except ValueError as exc:
        print(f"error: --master {args.master!r}: {exc}, e.g. --master 127.0.0.1:5557", file=sys.stderr)
        return 2
    from infermeter.lifeline import child_env, die_with_parent

    die_with_parent()  # a local worker (started by infermeter load --distributed) ends with it

    from gevent import subprocess
    from locust.env import Environment
    from locust.event import Events

    import infermeter

    env = Environment(user_classes=[], events=Events())
    try:
        runner = env.create_worker_runner(host, port)  # blocks until the master acknowledges
    except Exception as exc:
        print(f"error: cannot join the master at {host}:{port}: {exc}", file=sys.stderr)
        return 2
    child = subprocess.Popen([sys.executable, "-m", "infermeter.loadgen.share_child"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=child_env())  # it ends with this worker

    def on_clock(environment: object, msg: object, **kw: object) -> None:
        try:
            runner.send_message("im_clock", {"t0": msg.data["t0"], "tw": time.time()})  # type: ignore[attr-defined]
        except Exception as exc:  # an exception here would end Locust's receive loop
            print(f"clock reply failed: {exc!r}", file=sys.stderr)

    def on_window(environment: object, msg: object, *rest: object, **kw: object) -> None:
        data = msg.data  # type: ignore[attr-defined]
        try:
            import json

            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(json.dumps(data["plan"]) + "\n")
            child.stdin.flush()
            line = child.stdout.readline()
            reply = json.loads(line) if line else {"error": f"the generator process ended (exit code {child.poll()})"}
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        runner.send_message("im_result", {"window": data["window"], **reply})

    runner.register_message("im_clock", on_clock)
    runner.register_message("im_window", on_window, concurrent=True)  # the receive loop stays free for clock and quit
    runner.send_message("im_hello", {"version": infermeter.__version__, "host": socket.gethostname(), "pid": os.getpid()})

    try:
        runner.greenlet.join()
    except KeyboardInterrupt:
        pass
    finally:
        child.kill()
        child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
