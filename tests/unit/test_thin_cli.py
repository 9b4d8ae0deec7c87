"""The CLI parses and delegates (issue 13): a command validates its inputs (cli/inputs.py), calls the run or
report layer, hands what it returns to a renderer (reports/) and maps errors to exit codes. Tables are drawn
and statistics made elsewhere, once, so that what `run` prints and what the report shows cannot drift apart."""

from __future__ import annotations

import ast

from test_layout import SRC, imported_modules, module_name

# Drawing a table or making a statistic needs one of these; none belongs in cli/.
NOT_IN_CLI = ("rich.table", "infermeter.reports.grid", "infermeter.results.summary", "infermeter.results.stats",
              "infermeter.results.histogram", "infermeter.results.cost", "numpy", "scipy", "statistics", "hdrh")
# ... or calls like these (a Table built from a name imported some other way, a statistic by hand).
CALLS_NOT_IN_CLI = {"Table", "add_row", "add_column", "to_rich", "mean", "median", "quantile", "percentile", "stdev"}


def called_name(node: ast.Call) -> str | None:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def drawing_and_statistics(source: str, module: str, is_package: bool = False) -> list[str]:
    """The imports and calls of `source` (module `module`) that draw a table or make a statistic."""
    found = sorted(m for m in imported_modules(source, module, is_package)
                   if any(m == bad or m.startswith(bad + ".") for bad in NOT_IN_CLI))
    calls = {called_name(n) for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)}
    return found + sorted(f"{name}()" for name in calls & CALLS_NOT_IN_CLI)


def test_the_cli_draws_no_table_and_makes_no_statistic():
    files = sorted((SRC / "cli").glob("*.py"))
    assert {"main.py", "inputs.py"} <= {f.name for f in files}  # the walk sees the commands
    found = {f.name: drawing_and_statistics(f.read_text(), module_name(f), f.name == "__init__.py") for f in files}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_check_sees_what_the_cli_used_to_do():
    """The check above could not fail if it missed how `run` printed its tables before (issue 13 step 4)."""
    before = ("from rich.table import Table\n"
              "def run(records, out_console):\n"
              "    from infermeter.results.summary import summarise_engines\n"
              "    from infermeter.reports.table import comparison_table\n"
              "    out_console.print(comparison_table(summarise_engines(records)))\n"
              "    t = Table(title='x')\n"
              "    t.add_row('a')\n")
    assert drawing_and_statistics(before, "infermeter.cli.main") == [
        "infermeter.results.summary", "infermeter.results.summary.summarise_engines", "rich.table", "rich.table.Table",
        "Table()", "add_row()"]
