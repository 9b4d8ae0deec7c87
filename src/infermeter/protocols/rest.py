"""Blocking one-off REST calls (urllib) for answer checks and readiness probes, and infermeter's own JSON
request convention {"payload": TEXT} that its in-server code reads (LitServe, Ray Serve, BentoML, MLflow).
Not for load: the load generator sends pre-encoded requests through http.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infermeter.protocols.http import HttpTarget


def http_answer(target: HttpTarget, body: bytes, timeout: float = 60) -> Any:
    """POST one body to `target` with its headers; the decoded JSON response (for answer checks)."""
    import json
    import urllib.request

    req = urllib.request.Request(target.url, data=body, headers=dict(target.headers), method=target.method)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def json_payload_bodies(payloads: list[bytes], bytes_encoding: str) -> list[bytes]:
    """{"payload": ...} JSON bodies for servers whose requests are JSON (text as is, binary as base64)."""
    import base64
    import json

    def text(p: bytes) -> str:
        return base64.b64encode(p).decode("ascii") if bytes_encoding == "base64" else p.decode("utf-8")

    return [json.dumps({"payload": text(p)}).encode() for p in payloads]


def http_ready(url: str) -> Callable[[], bool]:
    """A readiness probe: GET `url` answers 200."""
    import urllib.request

    def ready() -> bool:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200

    return ready


def json_payload_target(url: str, payloads: list[bytes], bytes_encoding: str) -> tuple[HttpTarget, Callable[[bytes], Any]]:
    """POST {"payload": ...} bodies to `url`, and the matching answer function (the JSON response)."""
    target = HttpTarget(url, "POST", headers=(("Content-Type", "application/json"),),
                        bodies=tuple(json_payload_bodies(payloads, bytes_encoding)))
    return target, lambda p: http_answer(target, json_payload_bodies([p], bytes_encoding)[0])
