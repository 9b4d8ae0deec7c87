"""`infermeter doctor OUT`: check a results directory and repair what can be repaired without losing a
measured record.

results.jsonl is the only source of truth; everything else in OUT is derived from it or is scratch:
- lines of results.jsonl that are not records (damaged, torn by a kill) move, byte for byte, to
  results.damaged.jsonl (appended, so a second repair loses nothing either); every record stays;
- results.csv and summary.csv are rebuilt from results.jsonl (also when one is a planted link);
- temporary files of interrupted atomic writes are removed;
- OUT writable by other users is made private to the user.
What cannot be repaired (OUT not the user's, results.jsonl a link) is reported with what to do.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from infermeter.errors import ConfigError
from infermeter.results.files import LOCK_NAME, TMP_SUFFIX, locked, replace_atomically
from infermeter.results.store import DAMAGED_NAME, ResultStore, _append


@dataclass
class Finding:
    problem: str
    fix: str  # what was done, or what the user must do
    repaired: bool


@dataclass
class Checkup:
    out: Path
    records: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def unrepaired(self) -> list[Finding]:
        return [f for f in self.findings if not f.repaired]

    def add(self, problem: str, fix: str, repaired: bool) -> None:
        self.findings.append(Finding(problem, fix, repaired))


def doctor(out: Path, repair: bool = True) -> Checkup:
    """Check OUT (and repair it unless `repair` is False); holds OUT's lock, so never runs beside a run."""
    c = Checkup(out)
    try:
        st = os.stat(out)
    except FileNotFoundError:
        raise ConfigError(f"{out} does not exist", "give the --out directory of an infermeter run or load test") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{out} is not a directory", "give the --out directory of an infermeter run or load test")
    if st.st_uid != os.geteuid():
        c.add(f"{out} belongs to uid {st.st_uid}, not to you", "copy what you need into a directory of your own; nothing was changed", False)
        return c
    if st.st_mode & 0o022:
        if repair:
            os.chmod(out, stat.S_IMODE(st.st_mode) & ~0o022)
        c.add(f"{out} can be written by other users (mode {stat.S_IMODE(st.st_mode):o})", "removed their write permission" if repair
              else f"chmod go-w {out}", repair)
    with locked(out):
        _check_results(c, out, repair)
        _remove_scratch(c, out, repair)
    return c


def _check_results(c: Checkup, out: Path, repair: bool) -> None:
    store = ResultStore(out)
    if store.jsonl.is_symlink():
        c.add(f"{store.jsonl} is a symbolic link (to {os.path.realpath(store.jsonl)})",
              "replace it by a copy of the file it points to if you trust that file; nothing was changed", False)
        return
    if not store.jsonl.exists():
        c.add(f"{out} holds no results.jsonl", "nothing to repair: give the --out directory of a run", False)
        return
    data = store.jsonl.read_bytes()
    lines = data.splitlines(keepends=True)
    store.read(include_superseded=True)
    bad = {n for n, _ in store.rejected}
    torn = bool(lines) and not lines[-1].endswith(b"\n")
    if torn:
        bad.add(len(lines))  # a partial last record (a kill mid-write): not a record either
    records = sum(1 for i, line in enumerate(lines, start=1) if line.strip() and i not in bad)
    c.records = records
    if bad:
        why = {n: w for n, w in store.rejected} | ({len(lines): "a partial last line (a kill mid-write)"} if torn else {})
        shown = "; ".join(f"line {n}: {why[n]}" for n in sorted(bad)[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        if repair:
            moved = b"".join(line if line.endswith(b"\n") else line + b"\n" for i, line in enumerate(lines, start=1) if i in bad)
            _append(out / DAMAGED_NAME, moved)  # first: a kill between the two steps duplicates, never loses
            kept = b"".join(line for i, line in enumerate(lines, start=1) if i not in bad)
            replace_atomically(store.jsonl, kept)
        c.add(f"{store.jsonl}: {len(bad)} line(s) not records ({shown})",
              f"moved to {out / DAMAGED_NAME}; the {records} records stay" if repair else f"infermeter doctor {out}", repair)
    if repair:
        _rebuild_views(c, store)


def _rebuild_views(c: Checkup, store: ResultStore) -> None:
    """results.csv and summary.csv are views of results.jsonl: rebuilt from it, links replaced by files."""
    from infermeter.reports.table import write_summary_csv
    from infermeter.results.summary import summarise_engines

    for view in (store.csv, store.out / "summary.csv"):
        if view.is_symlink():
            c.add(f"{view} was a symbolic link (to {os.path.realpath(view)})", "replaced by a file rebuilt from results.jsonl", True)
    store._rewrite_csv()
    summary = store.out / "summary.csv"
    if summary.exists() or summary.is_symlink():
        write_summary_csv(summarise_engines(store.read()), summary)


def _remove_scratch(c: Checkup, out: Path, repair: bool) -> None:
    """Temporary files of atomic writes (.NAME.PID.N.tmp) left by a kill: under OUT's lock, none is live."""
    stale = [p for p in out.iterdir() if p.name.startswith(".") and p.name.endswith(TMP_SUFFIX) and p.name != LOCK_NAME
             and (p.is_file() or p.is_symlink())]
    if stale:
        if repair:
            for p in stale:
                p.unlink(missing_ok=True)
        c.add(f"{len(stale)} temporary file(s) of interrupted writes ({', '.join(p.name for p in stale[:3])})",
              "removed" if repair else f"infermeter doctor {out}", repair)
