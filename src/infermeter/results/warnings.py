"""Warnings as data: every warning a record carries has a stable code, its text and its remedy.

Writers build them with `warning(code, text)`: the remedy comes from the catalogue below unless the writer
gives one. Results written before warnings were data (schema 1: plain strings) are classified by pattern
on reading (`classify`), so old and new results carry the same codes and remedies.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

Scope = Literal["window", "cell", "run"]


class RecordWarning(BaseModel):
    """One warning: `code` is stable (match on it, never on the text); `applies_to` says whether it is
    about this window alone, the cell (every repeat) or the whole run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    text: str
    remedy: str
    applies_to: Scope = "window"


# code -> (pattern that recognises the old free text, remedy). A pattern with a named group `remedy` takes
# the remedy from the text itself (old warnings often ended with it).
CATALOGUE: dict[str, tuple[str, str]] = {
    "repeats-disagree": (r"^repeats disagree: .*?; (?P<remedy>.+)$", ""),
    "parity-mismatch": (r"^outputs differ from .*?; (?P<remedy>check the export or precision settings)$",
                        "check the export or precision settings"),
    "outlying-repeats": (r"^outlying repeats",
                         "nothing was dropped; rerun on a quiet machine with more repeats to tell a one-off from a pattern"),
    "window-capped": (r"^window hit max_seconds",
                      "raise measure.max_seconds or lower measure.min_iterations: this model is slower than the window allows"),
    "calls-failed": (r"predict calls failed",
                     "read the cell's log in logs/ (named by cell id): the failing call's error is there"),
    "generator-saturated": (r"^generator saturated: .*?\. (?P<remedy>Add --workers.+)$",
                            "add --generator-processes or give the generator its own cores"),
    "schedule-not-kept": (r"^schedule not kept: .*?\. (?P<remedy>Lower the rate.+)$",
                          "lower the rate, add --generator-processes, or give the generator its own cores"),
    "share-started-late": (r"^generator shares started late: ",
                           "hand the shares out earlier (a slow link to a worker), or check the worker's clock (NTP)"),
    "schedule-backlog": (r"scheduled requests were still waiting or in flight",
                         "the target could not keep up with the offered rate: lower the rate, or read the point as overload"),
    "open-loop-saturated": (r"^did not keep up: completed",
                            "the engine could not serve this rate: its latency here grows with the window's length; read the "
                            "point as overload, or lower the rate or add callers (concurrency)"),
    "answers-differ": (r"^the server's answers differ",
                       "check the server's pre- and post-processing and the model it loaded (its log is under servers/); "
                       "until then its speed is not comparable"),
    "little-generator": (r"little's law: .*generator or client was a bottleneck",
                         "give the load generator more processes (load.generator_processes, --generator-processes) or its own cores"),
    "little-counting": (r"little's law: .*counting or timing error",
                        "run `infermeter selftest`; if it passes, report the run: the figures disagree with each other"),
    "busy-machine": (r"quiet machine: ",
                     "close other programs and never run two benchmarks at once; then measure the cell again"),
    "warmup-not-steady": (r"steady warm-up: not steady",
                          "raise warmup.max_seconds so that warm-up can settle; if it never does, the engine changes speed as it runs "
                          "(throttling, memory growth): the record's warmup block shows the drift"),
    "serving-overhead-preprocess": (r"serving overhead(?: at 1 user)?: .*pre-processing takes",
                                    "build what the workload's decode_payload / postprocess needs (tokenizer, processor, decoder) "
                                    "once per process (functools.cache on its builder), not per request; then measure the server again"),
    "serving-overhead": (r"serving overhead(?: at 1 user)?: ",
                         "check the server's threads (OMP_NUM_THREADS), workers and batching wait, then compare it with "
                         "benchmarks/serving_overhead.py on a quiet machine; the budgets are the suite's "
                         "overhead.serving_budget_ms / preprocess_budget_ms"),
    "few-samples": (r"p99 from fewer than|samples for p",
                    "raise measure.min_iterations (in process) or lengthen the windows (servers) to 1,000 samples or more"),
    "not-exportable": (r"cannot be exported to",
                       "this model has no exporter for that engine; compare it on the engines named in the message"),
    "export-failed": (r"^export failed",
                      "an exporter limitation for this model and engine; the full trace is in logs/prepare-<workload>.log"),
    "not-installed": (r"not installed|pip install|servers install", "install it (the command is in the message), then rerun with --resume"),
    "server-died": (r"was killed by|stopped answering|not ready in time|exited before",
                    "read the server log (path in the message); fix the setting or give it more memory or time, then rerun with --resume"),
    "earlier-window-failed": (r"not measured: during an earlier window", "fix the cause of that earlier window, then rerun with --resume"),
    "requests-failed": (r"every request failed|no request completed", "read the server log under servers/; check the URL, payload and timeout"),
    "worker-died": (r"worker process died",
                    "read the cell's log (path in the message); out of memory is the usual cause: lower the batch size"),
}
FALLBACK_CODE = "other"
FALLBACK_REMEDY = "no remedy on record for this one: read the cell's log in logs/ (and the server log under servers/)"
_FIX = re.compile(r"\n\s*fix: (?P<remedy>.+)$", re.S)  # an InfermeterError's own remedy, as stored in its text


def _sentence(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def remedy_for(code: str) -> str:
    return _sentence(CATALOGUE.get(code, ("", FALLBACK_REMEDY))[1] or FALLBACK_REMEDY)


def warning(code: str, text: str, remedy: str | None = None, applies_to: Scope = "window") -> RecordWarning:
    """A warning of a known kind; its remedy from the catalogue unless given."""
    if code not in CATALOGUE and remedy is None:
        raise ValueError(f"unknown warning code {code!r}: add it to results.warnings.CATALOGUE or give a remedy")
    return RecordWarning(code=code, text=text, remedy=_sentence(remedy) if remedy else remedy_for(code), applies_to=applies_to)


def classify(text: str) -> RecordWarning:
    """A free-text warning or error (schema 1, or an error message) as data: (code, problem, remedy). A
    remedy at the end of the text (", fix: ..." or a known tail) is split off rather than said twice."""
    m = _FIX.search(text)
    if m:
        return RecordWarning(code=_code_of(text), text=text[: m.start()].strip(), remedy=m.group("remedy").strip())
    for code, (pattern, remedy) in CATALOGUE.items():
        m = re.search(pattern, text, re.S | re.I)
        if m:
            if "remedy" in m.groupdict():
                return RecordWarning(code=code, text=text[: m.start("remedy")].rstrip(" ;."), remedy=_sentence(m.group("remedy")))
            return RecordWarning(code=code, text=text, remedy=_sentence(remedy))
    return RecordWarning(code=FALLBACK_CODE, text=text, remedy=_sentence(FALLBACK_REMEDY))


def _code_of(text: str) -> str:
    return next((code for code, (pattern, _) in CATALOGUE.items() if re.search(pattern, text, re.S | re.I)), FALLBACK_CODE)
