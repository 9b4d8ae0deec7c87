"""Capacity under an SLO with default settings against tuned ones, in one run: for each target, one
`infermeter tune` study (the defaults are its first trial, so both figures come from the same run on the
same machine), then a table of default capacity, tuned capacity, their ratio and the settings that won,
and the same two measured again after the study (`--confirm` rounds: fresh searches, alternating), whose
ratio is the one to quote: a study's single searches on a noisy machine favour a lucky trial.

    python benchmarks/tune_vs_default.py [TARGET ...] [--budget 8m] [--server-budget 15m] [--budget-for bert-base=12m]
        [--confirm 2] [--out DIR] [--cache DIR] [--tune-option=value ...]

A target is WORKLOAD@ENGINE (in process) or WORKLOAD@server:NAME, optionally with its SLO after a
'/', e.g. resnet50@onnxruntime/p90<=250ms. Without targets: ResNet-50 and BERT-base on ONNX Runtime and
OpenVINO in process, and ResNet-50 on TorchServe, Triton and MLServer (their environments first:
infermeter servers install torchserve triton mlserver). The SLOs are p90 bounds (a p90 verdict at 95%
confidence needs ~60 requests a probe; a p99 one ~600, minutes a probe for these models on 2 cores).

Models carry seeded random weights (no weights are downloaded): the speed of a setting does not depend
on them, and each trial's answers are checked against the reference engine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

DEFAULT_TARGETS = [
    "resnet50@onnxruntime/p90<=250ms,confidence=95%",
    "resnet50@openvino/p90<=250ms,confidence=95%",
    "bert-base@onnxruntime/p90<=500ms,confidence=95%",
    "bert-base@openvino/p90<=500ms,confidence=95%",
    "resnet50@server:torchserve/p90<=600ms,confidence=95%",
    "resnet50@server:triton/p90<=600ms,confidence=95%",
    "resnet50@server:mlserver/p90<=600ms,confidence=95%",
]


def study(target: str, budget: str, out: Path, cache: Path | None, extra: list[str]) -> dict:
    spec, _, slo = target.partition("/")
    workload, _, where = spec.partition("@")
    flag = ["--server", where.removeprefix("server:")] if where.startswith("server:") else ["--engine", where]
    d = out / spec.replace("@", "-").replace(":", "-")
    cmd = [sys.executable, "-m", "infermeter.cli.main", "tune", workload, *flag, "--slo", slo or "p90<=500ms,confidence=95%",
           "--budget", budget, "--out", str(d), *(["--cache", str(cache)] if cache else []), *extra]
    t0 = time.monotonic()
    run = subprocess.run(cmd, capture_output=True, text=True)
    row = {"target": spec, "slo": slo, "seconds": time.monotonic() - t0, "exit": run.returncode}
    if run.returncode != 0:
        row["error"] = (run.stderr.strip().splitlines() or ["?"])[-1]
        return row
    records = [json.loads(x) for x in (d / "results.jsonl").read_text().splitlines()]
    records = [x for x in records if x.get("kind") == "capacity" and x.get("tuning")]
    trials = [x for x in records if x["tuning"]["role"] != "confirm"]
    confirms = [x for x in records if x["tuning"]["role"] == "confirm"]
    default = next((x for x in trials if x["tuning"]["role"] == "default"), None)
    measured = [x for x in trials if x["status"] == "ok" and x["stopped"] != "pruned" and x["capacity"]]
    best = max(measured, key=lambda x: x["capacity"], default=None)
    row |= {"trials": len(trials), "pruned": sum(x["stopped"] == "pruned" for x in trials),
            "failed": sum(x["status"] != "ok" for x in trials),
            "default": default and default["capacity"], "default_interval": default and [default["capacity"], default["upper"]],
            "tuned": best and best["capacity"], "tuned_interval": best and [best["capacity"], best["upper"]],
            "best_settings": best and (best["tuning"]["settings"] | ({"callers": best["tuning"]["callers"]} if best["tuning"]["callers"] else {})),
            "best_is_default": bool(best and default and best["tuning"]["number"] == default["tuning"]["number"])}
    if row["default"] and row["tuned"]:
        row["ratio"] = row["tuned"] / row["default"]
    if best and default and confirms:
        again = {n: [x["capacity"] or 0.0 for x in confirms if x["tuning"]["number"] == n]
                 for n in (default["tuning"]["number"], best["tuning"]["number"])}
        row["confirm_default"], row["confirm_tuned"] = again[default["tuning"]["number"]], again[best["tuning"]["number"]]
        if row["confirm_default"] and row["confirm_tuned"]:  # a confirmation that failed leaves one side empty
            md, mb = statistics.median(row["confirm_default"]), statistics.median(row["confirm_tuned"])
            row["confirmed_ratio"] = mb / md if md else None
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("targets", nargs="*", default=DEFAULT_TARGETS)
    p.add_argument("--budget", default="8m", help="each study's budget")
    p.add_argument("--server-budget", default=None, help="each server study's budget (default: --budget); a server "
                   "trial deploys the framework and takes minutes where an engine's takes seconds")
    p.add_argument("--budget-for", action="append", default=[], metavar="WORKLOAD=DURATION",
                   help="one workload's budget on engines (repeatable), e.g. bert-base=12m: its default trial alone takes minutes")
    p.add_argument("--confirm", type=int, default=None, help="rounds measuring the defaults and the best again (tune's --confirm)")
    p.add_argument("--out", type=Path, default=Path("results/tune-vs-default"))
    p.add_argument("--cache", type=Path, default=None)
    args, extra = p.parse_known_args()  # anything else goes to every `infermeter tune`, written --option=value
    # An option's value written apart (`--resolution 0.2`) would be read as a target: refuse what is not one.
    if bad := [t for t in args.targets if "@" not in t.partition("/")[0]]:
        p.error(f"not a target (WORKLOAD@ENGINE or WORKLOAD@server:NAME): {', '.join(bad)}; "
                "write options passed on to `infermeter tune` as --option=value")
    per_workload = {}
    for item in args.budget_for:
        workload, sep, duration = item.partition("=")
        if not sep or not workload or not duration:
            p.error(f"--budget-for takes WORKLOAD=DURATION (e.g. bert-base=12m), not {item!r}")
        per_workload[workload] = duration
    if args.confirm is not None:
        extra = [*extra, "--confirm", str(args.confirm)]
    rows = []
    for target in args.targets:
        if "@server:" in target:
            budget = args.server_budget or args.budget
        else:
            budget = per_workload.get(target.partition("@")[0], args.budget)
        print(f"tuning {target} (budget {budget})", file=sys.stderr, flush=True)
        rows.append(study(target, budget, args.out, args.cache, extra))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.json").write_text(json.dumps(rows, indent=1))  # after each target: a later failure loses none
    t = Table(title="capacity under the SLO: defaults against tuned (one study each; requests/s, open loop)")
    for col in ("target", "SLO", "default", "tuned", "ratio", "again: default", "again: tuned", "ratio again", "tuned settings",
                "trials (pruned, failed)", "minutes"):
        t.add_column(col)
    for r in rows:
        if "error" in r:
            t.add_row(r["target"], r["slo"], "-", "-", "-", "-", "-", "-", f"failed: {r['error']}", "-", f"{r['seconds'] / 60:.1f}")
            continue
        settings = "the defaults were best" if r["best_is_default"] else ", ".join(f"{k}={v}" for k, v in (r["best_settings"] or {}).items())
        again = [", ".join(f"{v:.3g}" for v in r.get(k, [])) or "-" for k in ("confirm_default", "confirm_tuned")]
        ratio_again = r.get("confirmed_ratio")
        t.add_row(r["target"], r["slo"], f"{r['default'] or 0:.3g}", f"{r['tuned'] or 0:.3g}", f"{r.get('ratio', float('nan')):.2f}",
                  *again, f"{ratio_again:.2f}" if ratio_again else "-", settings, f"{r['trials']} ({r['pruned']}, {r['failed']})",
                  f"{r['seconds'] / 60:.1f}")
    Console(width=200).print(t)


if __name__ == "__main__":
    main()
