"""The process behind a Locust worker that runs its shares of load: JSON lines in (one plan a line, as
loadgen/wire.py writes it), one JSON line out per plan (the result, or {"error": ...}).

It is a plain interpreter: the worker that starts it is gevent's (Locust patches the standard library on
import), and infermeter's asyncio request loop must not run under those patches or hold the worker's
heartbeats up. It ends with its parent: a worker killed mid-window leaves no generator behind.
"""

from __future__ import annotations

import json
import sys

from infermeter.lifeline import die_with_parent


def main() -> None:
    die_with_parent()
    from infermeter.loadgen.generator import run_plan
    from infermeter.loadgen.wire import plan_from_wire, result_to_wire

    out = sys.stdout
    sys.stdout = sys.stderr  # what a library prints must not break the line protocol
    for line in sys.stdin:
        try:
            reply = {"result": result_to_wire(run_plan(plan_from_wire(json.loads(line))))}
        except Exception as exc:  # reported to the master, which fails the window with it
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
