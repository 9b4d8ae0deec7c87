"""The coordinator of a distributed load: a Locust MasterRunner in its own process, driven by infermeter
(loadgen/distributed.py) over JSON lines on stdin/stdout.

Commands in (one JSON object a line) and their replies out:

    {"op": "wait", "count": N, "timeout": S}   -> {"workers": [...]} once N workers have joined, or {"error"}
    {"op": "window", "window": K, "plans": [...]}  (as many plans as workers; each plan's start_at is the
        master's clock, moved to each worker's clock by the offset measured when it joined)
                                                -> {"results": [...], "workers": [...]} or {"error"}
    {"op": "quit"}

First line out: {"listening": PORT}. Locust binds every interface by default; this binds the one given
(127.0.0.1 unless the user names another). A worker that stops answering (Locust marks it missing after
its heartbeats stop, about 4 s) fails the window it was in with that cause. Locust's own statistics and
Users are not used: no User is ever spawned.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

CLOCK_PINGS = 5  # the offset is taken from the ping with the shortest round trip (NTP's rule)
CLOCK_TIMEOUT_S = 5.0
WINDOW_GRACE_S = 30.0  # beyond the plans' own longest duration, before a window is given up


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    from infermeter.lifeline import die_with_parent

    die_with_parent()

    import gevent
    from gevent.event import AsyncResult
    from gevent.fileobject import FileObjectPosix
    from locust.env import Environment
    from locust.event import Events

    import infermeter

    env = Environment(user_classes=[], events=Events())
    runner = env.create_master_runner(args.bind, args.port)
    out = sys.stdout
    sys.stdout = sys.stderr

    def say(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    joined: dict[str, dict[str, Any]] = {}  # client id -> what it said and its clock, in joining order
    refused: list[str] = []
    clock_waiters: dict[str, AsyncResult] = {}
    results: dict[tuple[int, str], AsyncResult] = {}

    def sync_clock(client: str, hello: dict[str, Any]) -> None:
        best: tuple[float, float] | None = None  # (round trip, offset)
        for _ in range(CLOCK_PINGS):
            waiter = clock_waiters[client] = AsyncResult()
            t0 = time.time()
            runner.send_message("im_clock", {"t0": t0}, client_id=client)
            try:
                reply = waiter.get(timeout=CLOCK_TIMEOUT_S)
            except gevent.Timeout:
                refused.append(f"{client}: no answer to the clock exchange in {CLOCK_TIMEOUT_S:g} s")
                return
            t1 = time.time()
            rtt, offset = t1 - t0, reply["tw"] - (t0 + t1) / 2
            if best is None or rtt < best[0]:
                best = (rtt, offset)
        assert best is not None
        joined[client] = {"id": client, "host": hello.get("host"), "pid": hello.get("pid"),
                          "clock_offset_ms": 1000 * best[1], "rtt_ms": 1000 * best[0]}

    def on_hello(environment: object, msg: Any, **kw: object) -> None:
        hello = msg.data or {}
        if hello.get("version") != infermeter.__version__:
            refused.append(f"{msg.node_id} on {hello.get('host')}: infermeter {hello.get('version')}, the master has "
                           f"{infermeter.__version__}")
            return
        gevent.spawn(sync_clock, msg.node_id, hello)

    def on_clock(environment: object, msg: Any, **kw: object) -> None:
        waiter = clock_waiters.get(msg.node_id)
        if waiter is not None and not waiter.ready():
            waiter.set(msg.data)

    def on_result(environment: object, msg: Any, **kw: object) -> None:
        waiter = results.get((msg.data.get("window"), msg.node_id))
        if waiter is not None and not waiter.ready():
            waiter.set(msg.data)

    runner.register_message("im_hello", on_hello)
    runner.register_message("im_clock", on_clock)
    runner.register_message("im_result", on_result)
    say({"listening": runner.server.port})

    def lost(client: str) -> str | None:
        node = runner.clients.get(client)
        if node is None:
            return "left"
        if node.state == "missing":
            return "stopped answering (no heartbeat for about 4 s)"
        return None

    def prune() -> None:
        for client in [c for c in joined if lost(c)]:
            del joined[client]

    def wait(count: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            prune()
            if len(joined) >= count:
                return {"workers": list(joined.values())[:count]}
            if time.monotonic() > deadline:
                why = f"; refused: {'; '.join(refused[-3:])}" if refused else ""
                return {"error": f"{len(joined)} of {count} workers joined the master in {timeout:g} s{why}"}
            gevent.sleep(0.1)

    def window(number: int, plans: list[dict[str, Any]]) -> dict[str, Any]:
        cpu0 = time.process_time()
        prune()
        workers = list(joined.values())[: len(plans)]
        if len(workers) < len(plans):
            return {"error": f"{len(plans)} shares but {len(workers)} workers are joined"}
        waiters = []
        sent = 0
        for plan, w in zip(plans, workers):
            # The worker's clock reads offset later than the master's: its start is moved by it.
            shifted = dict(plan, start_at=plan["start_at"] + w["clock_offset_ms"] / 1000) if plan.get("start_at") else plan
            waiter = results[(number, w["id"])] = AsyncResult()
            runner.send_message("im_window", {"window": number, "plan": shifted}, client_id=w["id"])
            sent += len(json.dumps(shifted))
            waiters.append(waiter)
        longest = max(p["warmup_s"] + p["max_seconds"] + p["timeout_s"] for p in plans)
        deadline = time.monotonic() + longest + WINDOW_GRACE_S + max(0.0, plans[0].get("start_at", 0) - time.time())
        try:
            while not all(x.ready() for x in waiters):
                for w, x in zip(workers, waiters):
                    why = None if x.ready() else lost(w["id"])
                    if why:
                        return {"error": f"worker {w['id']} (pid {w['pid']} on {w['host']}) {why} during the window; "
                                         "the window is not counted"}
                if time.monotonic() > deadline:
                    slow = [w["id"] for w, x in zip(workers, waiters) if not x.ready()]
                    return {"error": f"workers {', '.join(slow)} did not report their share of the window in time"}
                gevent.sleep(0.2)
        finally:
            for w in workers:
                results.pop((number, w["id"]), None)
        replies = [x.get() for x in waiters]
        failed = [(w, r["error"]) for w, r in zip(workers, replies) if "error" in r]
        if failed:
            w, err = failed[0]
            return {"error": f"worker {w['id']} (pid {w['pid']} on {w['host']}) could not run its share: {err}"}
        # What the master itself spent, to size a master for many workers: its CPU over the window and
        # the plans and results it moved (as JSON; msgpack on the wire is a little smaller).
        master = {"cpu_s": time.process_time() - cpu0, "workers": len(workers), "plan_bytes": sent,
                  "result_bytes": sum(len(json.dumps(r["result"])) for r in replies)}
        return {"results": [r["result"] for r in replies], "workers": workers, "master": master}

    commands = FileObjectPosix(sys.stdin.fileno(), "r", close=False)  # cooperative: heartbeats go on while it waits
    try:
        for line in commands:
            cmd = json.loads(line)
            if cmd["op"] == "quit":
                break
            if cmd["op"] == "wait":
                say(wait(int(cmd["count"]), float(cmd["timeout"])))
            elif cmd["op"] == "window":
                say(window(int(cmd["window"]), cmd["plans"]))
            else:
                say({"error": f"unknown command {cmd['op']!r}"})
    finally:
        runner.quit()  # tells every worker to quit
    return 0


if __name__ == "__main__":
    sys.exit(main())
