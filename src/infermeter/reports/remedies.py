"""Every warning and every cell not measured, with what to do about it.

Warnings carry their remedy as data (results/warnings.py); a cell's error is free text (often an
InfermeterError's message with its "fix:"), classified by the same catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from infermeter.results.warnings import classify


@dataclass(frozen=True)
class Advice:
    where: str
    problem: str
    remedy: str


def advise(where: str, text: str) -> Advice:
    w = classify(text)
    return Advice(where, w.text, w.remedy)
