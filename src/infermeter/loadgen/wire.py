"""Plans and results as plain data (str, int, float, lists, dicts), for processes and machines that share
no Python objects: the generator child behind a worker (JSON lines) and Locust's messages (msgpack). No
pickle: a worker on a network must not run what a message carries.

Request bodies travel as base64; an open-loop share's send times as base64 of little-endian int64, the
exact offsets the master drew from the seed (a worker never draws its own, so the union is the schedule
whatever numpy a worker has).
"""

from __future__ import annotations

import base64
from dataclasses import asdict, fields, replace
from typing import Any

import numpy as np

from infermeter.errors import ConfigError
from infermeter.loadgen.generator import LoadPlan, LoadResult
from infermeter.loadgen.schedule import schedule_bytes
from infermeter.protocols.grpc_client import GrpcTarget
from infermeter.protocols.http import HttpTarget


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _target_to_wire(target: HttpTarget | GrpcTarget) -> dict[str, Any]:
    if isinstance(target, GrpcTarget):
        return {"kind": "grpc", "address": target.address, "method": target.method,
                "bodies": [_b64(b) for b in target.bodies], "metadata": [list(m) for m in target.metadata]}
    return {"kind": "http", "url": target.url, "method": target.method, "body": _b64(target.body),
            "headers": [list(h) for h in target.headers], "bodies": [_b64(b) for b in target.bodies]}


def _target_from_wire(d: dict[str, Any]) -> HttpTarget | GrpcTarget:
    if d["kind"] == "grpc":
        return GrpcTarget(address=d["address"], method=d["method"], bodies=tuple(_unb64(b) for b in d["bodies"]),
                          metadata=tuple((k, v) for k, v in d["metadata"]))
    return HttpTarget(url=d["url"], method=d["method"], body=_unb64(d["body"]), headers=tuple((k, v) for k, v in d["headers"]),
                      bodies=tuple(_unb64(b) for b in d["bodies"]))


def plan_to_wire(plan: LoadPlan) -> dict[str, Any]:
    d = {f.name: getattr(plan, f.name) for f in fields(plan) if f.name not in ("target", "schedule_ns")}
    return d | {"target": _target_to_wire(plan.target), "schedule": _b64(schedule_bytes(plan.schedule_ns))}


def plan_from_wire(d: dict[str, Any]) -> LoadPlan:
    try:
        offsets = np.frombuffer(_unb64(d["schedule"]), dtype="<i8")
        # JSON and msgpack give lists back for tuples
        rest = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k not in ("target", "schedule")}
        return LoadPlan(target=_target_from_wire(d["target"]), schedule_ns=tuple(offsets.tolist()), **rest)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"a load plan from the master could not be read ({type(exc).__name__}: {exc})",
                          "run the same infermeter version on the master and every worker") from None


def result_to_wire(result: LoadResult) -> dict[str, Any]:
    return asdict(result)


def result_from_wire(d: dict[str, Any], worker: str = "") -> LoadResult:
    result = LoadResult(**d)
    return replace(result, worker=worker) if worker else result
