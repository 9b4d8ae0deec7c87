"""One exception family for everything a user can get wrong.

The CLI turns these into a short message and a distinct exit code; anything else is a bug.
"""

from __future__ import annotations


class InfermeterError(Exception):
    """A problem the user can fix. `hint` says how."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message


class ConfigError(InfermeterError):
    """A suite file, flag or setting that cannot be used as given."""

    exit_code = 2


class DifferentMachinesError(InfermeterError):
    """`infermeter compare` was given runs measured on different machines (without --allow-different-machines)."""

    exit_code = 2


class NotInstalledError(InfermeterError):
    """An engine or workload needs a package that is not installed here."""

    exit_code = 3


class UnsupportedError(InfermeterError):
    """A valid request that this engine, workload or machine cannot do (e.g. TensorRT without a GPU)."""

    exit_code = 4


class CellsFailedError(InfermeterError):
    """A run finished but some cells failed; their causes are in the results."""

    exit_code = 5


class SelfTestFailedError(InfermeterError):
    """`infermeter selftest` found the harness disagreeing with a known answer on this machine."""

    exit_code = 7


class ResultsWriteError(InfermeterError):
    """The results directory refused a write (disk full, quota, permissions). What was already written
    stays whole; the run stops, since nothing measured from then on could be kept."""

    exit_code = 8


class RegressionError(InfermeterError):
    """`infermeter compare --fail-on` found a significant change past a threshold (for CI gates)."""

    exit_code = 9
