"""Every warning and every cell not measured, with what to do about it.

Warnings are stored as text in the records (old results too), so the remedy is found by pattern. Where a
warning already ends with its remedy, the remedy is split off rather than said twice. Anything no pattern
knows still gets a remedy: where to read more."""

from __future__ import annotations

import re
from dataclasses import dataclass

# (pattern, remedy). A pattern with a named group `remedy` takes it from the text itself.
REMEDIES: list[tuple[str, str]] = [
    (r"^repeats disagree: .*?; (?P<remedy>.+)$", ""),
    (r"^outputs differ from .*?; (?P<remedy>check the export or precision settings)$", ""),
    (r"^outlying repeats", "nothing was dropped; rerun on a quiet machine with more repeats to tell a one-off from a pattern"),
    (r"^window hit max_seconds", "raise measure.max_seconds or lower measure.min_iterations: this model is slower than the window allows"),
    (r"predict calls failed", "read the cell's log in logs/ (named by cell id): the failing call's error is there"),
    (r"^generator saturated: .*?\. (?P<remedy>Add --workers.+)$", ""),
    (r"^schedule not kept: .*?\. (?P<remedy>Lower the rate.+)$", ""),
    (r"scheduled requests were still waiting or in flight",
     "the target could not keep up with the offered rate: lower the rate, or read the point as overload"),
    (r"^the server's answers differ",
     "check the server's pre- and post-processing and the model it loaded (its log is under servers/); until then its speed is not comparable"),
    (r"little's law: .*generator or client was a bottleneck",
     "give the load generator more processes (load.generator_processes, --workers) or its own cores"),
    (r"little's law: .*counting or timing error", "run `infermeter selftest`; if it passes, report the run: the figures disagree with each other"),
    (r"serving overhead(?: at 1 user)?: .*pre-processing takes",
     "build what the workload's decode_payload / postprocess needs (tokenizer, processor, decoder) once per process "
     "(functools.cache on its builder), not per request; then measure the server again"),
    (r"serving overhead(?: at 1 user)?: ",
     "check the server's threads (OMP_NUM_THREADS), workers and batching wait, then compare it with "
     "benchmarks/serving_overhead.py on a quiet machine; the budgets are the suite's overhead.serving_budget_ms / preprocess_budget_ms"),
    (r"quiet machine: ", "close other programs and never run two benchmarks at once; then measure the cell again (--resume after deleting it)"),
    (r"p99 from fewer than", "raise measure.min_iterations (in process) or lengthen the windows (servers) to 1,000 samples or more"),
    (r"cannot be exported to", "this model has no exporter for that engine; compare it on the engines named in the message"),
    (r"^export failed", "an exporter limitation for this model and engine; the full trace is in logs/prepare-<workload>.log"),
    (r"not installed|pip install|servers install", "install it (the command is in the message), then rerun with --resume"),
    (r"was killed by|stopped answering|not ready in time|exited before",
     "read the server log (path in the message); fix the setting or give it more memory or time, then rerun with --resume"),
    (r"not measured: during an earlier window", "fix the cause of that earlier window, then rerun with --resume"),
    (r"every request failed|no request completed", "read the server log under servers/; check the URL, payload and timeout"),
    (r"worker process died", "read the cell's log (path in the message); out of memory is the usual cause: lower the batch size"),
]
FALLBACK = "no remedy on record for this one: read the cell's log in logs/ (and the server log under servers/)"
_FIX = re.compile(r"\n\s*fix: (?P<remedy>.+)$", re.S)  # an InfermeterError's own remedy, as stored


@dataclass(frozen=True)
class Advice:
    where: str
    problem: str
    remedy: str


def advise(where: str, text: str) -> Advice:
    m = _FIX.search(text)
    if m:
        return Advice(where, text[: m.start()].strip(), m.group("remedy").strip())
    for pattern, remedy in REMEDIES:
        m = re.search(pattern, text, re.S | re.I)
        if m:
            if "remedy" in m.groupdict():
                told = m.group("remedy")
                problem = text[: m.start("remedy")].rstrip(" ;.")
                return Advice(where, problem, told[0].upper() + told[1:])
            return Advice(where, text, remedy[0].upper() + remedy[1:])
    return Advice(where, text, FALLBACK[0].upper() + FALLBACK[1:])
