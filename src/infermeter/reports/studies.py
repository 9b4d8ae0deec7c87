"""A study's claims against the run's records (studies/claims.py), as one table: the report's "Study
findings" section and what `infermeter study` prints at the end; and the list of studies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infermeter.reports.grid import Grid

if TYPE_CHECKING:
    from infermeter.results.record import AnyRecord
    from infermeter.studies.registry import Study

_MARK = {"contradicted": "bad", "not decidable": "warn"}


def findings_grid(study: Study, records: list[AnyRecord]) -> Grid:
    from infermeter.studies.claims import ALPHA, check, evidence

    g = Grid(f"the findings of {study.title} ({study.year}) on this machine",
             ["claim", "study item", "workload, point", "verdict", "why", "numbers (mean per window, windows, one-sided Welch p)"], left=6,
             caption=f"A claim is supported when each pair differs in its direction at p<{ALPHA:g}, contradicted when any pair "
             "differs the other way (Bonferroni-corrected), and not decidable otherwise. Claims paraphrase the study.")
    for claim in study.claims:
        v = check(claim, records)
        g.add([claim.text, claim.item or "-", f"{claim.workload}, {claim.point()}", v.verdict, v.reason, evidence(v)],
              {3: _MARK[v.verdict]} if v.verdict in _MARK else None)  # type: ignore[dict-item]
    return g


def studies_grid(studies: list[Study]) -> Grid:
    g = Grid("studies infermeter reproduces (infermeter study NAME [--full])", ["study", "title", "authors", "year", "compares", "claims"], left=5)
    for s in studies:
        g.add([s.name, s.title, s.authors, str(s.year), s.compares, str(len(s.claims))])
    return g
