"""Reading results written by earlier versions: one step per schema version, applied in order on read.
The file itself is never rewritten by a migration; the record a reader gets is of the current schema.

Format history:
- 1 (infermeter before the typed record model): warnings are plain strings; a failed server window whose
  generator died has `metrics: {}`; `superseded` does not exist (a cell interrupted and measured again by
  --resume kept its old repeats beside the new ones; the reader now marks them, see store.mark_superseded).
- 2: warnings are data ({code, text, remedy, applies_to}); `superseded` on every record; NotMeasured
  records are told apart from windows by having no `repeat`. Added since, optional (absent reads as None,
  so no step): a window's `slo` block, and `metrics.failure_latency_hdr` on load windows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infermeter import SCHEMA_VERSION
from infermeter.results.warnings import classify

# Top-level fields of a schema-1 record that schema 2 keeps (anything else was never written by a released
# writer; it is dropped from the view, and stays in the file).
_V1_FIELDS = {
    "schema_version", "kind", "run_id", "cell_id", "cell", "status", "error", "finished_at", "machine", "packages",
    "warnings", "repeat", "repeats", "sanity", "workload", "engine", "artifact", "parity", "thread_env", "metrics",
    "server", "answers", "deployment", "cost", "source", "warmup", "superseded", "inprocess", "decomposition",
}


def _v1_to_v2(r: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in r.items() if k in _V1_FIELDS}
    # A hand-edited or damaged line may hold any JSON: shapes that are not a record's are passed on as they
    # are, for the record model to refuse with its field's name (never a TypeError here).
    warnings = r.get("warnings") or []
    out["warnings"] = [classify(w).model_dump() if isinstance(w, str) else w for w in warnings] if isinstance(warnings, list) else warnings
    out.setdefault("kind", "engine")
    out.setdefault("run_id", "unknown")  # early schema-1 writers and hand-made records may lack the identity blocks
    cell = out.get("cell") if isinstance(out.get("cell"), dict) else {}
    for block, name in (("engine", cell.get("engine")), ("server", cell.get("server"))):
        info = out.get(block)
        if (out["kind"] == block or info is not None) and isinstance(info, (dict, type(None))):
            info = dict(info or {})
            info.setdefault("name", info.get("label") or name or "unknown")
            info.setdefault("label", info["name"])
            out[block] = info
    if out.get("metrics") == {} and out["kind"] != "engine":
        out["metrics"] = None
    if out.get("repeat") is None:
        # A cell not measured: only the fields such a record has.
        for key in ("repeat", "repeats", "sanity", "metrics", "artifact", "parity", "thread_env", "cost"):
            out.pop(key, None)
        out["error"] = out.get("error") or "not measured (no reason was recorded)"
    if isinstance(out.get("repeat"), int):
        out.setdefault("repeats", out["repeat"] + 1)
    out["schema_version"] = 2
    return out


STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


class UnknownSchema(ValueError):
    pass


def migrate(record: dict[str, Any]) -> dict[str, Any]:
    """`record` brought to SCHEMA_VERSION. A record from a newer infermeter cannot be read by this one."""
    version = record.get("schema_version", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION or version < 1:
        raise UnknownSchema(f"schema_version {version!r}: written by a newer infermeter (this one reads up to {SCHEMA_VERSION})")
    while version < SCHEMA_VERSION:
        record = STEPS[version](record)
        version = record["schema_version"]
    return record
