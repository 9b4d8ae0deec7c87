"""Closed-loop load shapes: when each virtual user is running, drawn once before the window and dealt to
the generator processes (or Locust workers), so the union is the shape asked for.

A ramp-up starts user k at k / spawn_rate. Stages (Locust's StagesShape) are `DURATION:USERS[@SPAWN_RATE]`
steps: the user count moves to USERS at SPAWN_RATE users a second (at once without one) and holds there
for the rest of the stage; users above the count stop after their request in flight. A custom shape is
a Python file with `tick(run_time) -> (users, spawn_rate) | None` (Locust's LoadTestShape.tick, with the
run time passed in): it is read once a second into stages, which the record keeps, so a shaped run can
be repeated without the file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

Span = tuple[float, float]  # seconds from the start of the warm-up: running from, until
MAX_SHAPE_S = 3600.0
_STAGE = re.compile(r"^\s*(?P<d>\d+(?:\.\d+)?)\s*s?\s*:\s*(?P<u>\d+)\s*(?:@\s*(?P<r>\d+(?:\.\d+)?))?\s*$")


@dataclass(frozen=True)
class Stage:
    duration_s: float
    users: int
    spawn_rate: float | None = None  # None: at once


def parse_stages(text: str) -> list[Stage]:
    stages = []
    for part in text.split(","):
        m = _STAGE.match(part)
        if not m:
            raise ValueError(f"stage {part.strip()!r}: give DURATION:USERS or DURATION:USERS@SPAWN_RATE, e.g. 30s:10,60s:50@5")
        rate = float(m["r"]) if m["r"] else None
        stage = Stage(float(m["d"]), int(m["u"]), rate)
        if stage.duration_s <= 0 or (rate is not None and rate <= 0):
            raise ValueError(f"stage {part.strip()!r}: durations and spawn rates must be > 0")
        stages.append(stage)
    if not any(s.users for s in stages):
        raise ValueError(f"stages {text!r}: no stage has a user")
    if total_s(stages) > MAX_SHAPE_S:
        raise ValueError(f"stages {text!r}: {total_s(stages):g} s is longer than {MAX_SHAPE_S:g} s")
    return stages


def total_s(stages: list[Stage]) -> float:
    return sum(s.duration_s for s in stages)


def peak(stages: list[Stage]) -> int:
    return max(s.users for s in stages)


def stage_spans(stages: list[Stage]) -> list[tuple[Span, ...]]:
    """Per user slot (0 = the first started, the last stopped), the spans it runs."""
    slots: list[list[Span]] = [[] for _ in range(peak(stages))]
    started: dict[int, float] = {}
    count, t = 0, 0.0
    for st in stages:
        step = 0.0 if st.spawn_rate is None else 1.0 / st.spawn_rate
        if st.users > count:
            for k, u in enumerate(range(count, st.users)):
                started[u] = t + min(k * step, st.duration_s)
        else:
            for k, u in enumerate(range(count - 1, st.users - 1, -1)):  # the last started stops first
                slots[u].append((started.pop(u), t + min(k * step, st.duration_s)))
        count, t = st.users, t + st.duration_s
    for u, a in started.items():
        slots[u].append((a, t))
    return [tuple(sorted(s)) for s in slots]


def ramp_spans(users: int, spawn_rate: float, until_s: float = math.inf) -> list[tuple[Span, ...]]:
    return [((k / spawn_rate, until_s),) for k in range(users)]


def sample_shape(path: Path) -> str:
    """A custom shape file read into stages, one a second, until tick returns None (at most an hour)."""
    namespace: dict[str, object] = {"__name__": "infermeter_shape", "__file__": str(path)}
    try:
        code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
        exec(code, namespace)  # the user's own file on the user's own machine, as Locust runs a locustfile
    except OSError as exc:
        raise ValueError(f"cannot read the shape {path}: {exc.strerror or exc}") from None
    except Exception as exc:
        raise ValueError(f"the shape {path} failed to load: {type(exc).__name__}: {exc}") from None
    tick = namespace.get("tick")
    if not callable(tick):
        raise ValueError(f"the shape {path} defines no tick(run_time) function")
    stages: list[str] = []
    t = 0
    while t < MAX_SHAPE_S:
        try:
            out = tick(float(t))
        except Exception as exc:
            raise ValueError(f"the shape {path}: tick({t}) failed: {type(exc).__name__}: {exc}") from None
        if out is None:
            break
        try:
            users, rate = int(out[0]), float(out[1])
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"the shape {path}: tick({t}) gave {out!r}, not (users, spawn_rate) or None") from None
        if users < 0 or rate <= 0:
            raise ValueError(f"the shape {path}: tick({t}) gave {out!r}: users >= 0 and a spawn rate > 0")
        stages.append(f"1:{users}@{rate:g}")
        t += 1
    if not stages:
        raise ValueError(f"the shape {path}: tick(0) returned None, no load")
    return _compact(stages)


def _compact(stages: list[str]) -> str:
    """Runs of equal one-second stages joined ("1:5@2,1:5@2" -> "2:5@2")."""
    out: list[list[str]] = []
    for s in stages:
        _, rest = s.split(":", 1)
        if out and out[-1][1] == rest:
            out[-1][0] = f"{float(out[-1][0]) + 1:g}"
        else:
            out.append(["1", rest])
    return ",".join(f"{d}:{r}" for d, r in out)
