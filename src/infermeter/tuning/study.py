"""A tuning study: Optuna's TPE sampler proposes settings from the target's declared space, each trial a
capacity search on the target set up with them (tuning/trials.py), the study kept in OUT/tune.db (Optuna's
SQLite storage) so that --resume goes on where it stopped.

The first trial is always the defaults (the settings given, or the framework's own): the reference every
gain is measured against, in the same run. Then the target's starting points (all cores on one model
instance, one core for each of several; the defaults for the rest of their parameters), then the sampler's
own. A trial that can no longer beat the best one is pruned by Optuna's pruning interface (CannotBeatPruner:
the search reports, after each rate that missed the SLO, the best value still reachable). A trial whose
settings repeat a finished trial's is told that trial's result without measuring again; the study ends at
the budget (no trial starts with less time left than the median trial took), at --max-trials, or when the
sampler keeps proposing settings already measured.

Interrupted (Ctrl-C), the trial in progress is marked in the study; --resume proposes it again first, and
its probes already in results.jsonl are not measured again (run_capacity's resume).
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from infermeter.capacity.driver import search_id
from infermeter.collectors import machine
from infermeter.errors import InfermeterError
from infermeter.results.record import CapacityResult, TuningTrial
from infermeter.tuning.objective import Objective, best_trial
from infermeter.tuning.space import OptunaSuggest, usable_cores
from infermeter.tuning.trials import AnswersDiffer, TrialContext, Tunable

REPEATS_TO_STOP = 20  # proposals in a row that repeat measured settings: the space is exhausted
# A trial is pruned only when the best value it can still reach is worse than the best trial's by more than
# this: one setting's capacity measured in two searches here differed by 30% (ResNet-50 on ONNX Runtime,
# defaults, p90<=250ms: 14.6 and 19.2/s), so a single probe that missed a little below the best is no proof.
PRUNE_MARGIN = 0.15


@dataclass
class TuneOutcome:
    study: str
    objective: Objective
    trials: list[CapacityResult]  # one per trial measured (failed ones with status "failed"), in trial order
    stopped: str  # why the study ended
    default: CapacityResult | None = None
    best: CapacityResult | None = None
    snippet: str | None = None
    notes: list[str] = field(default_factory=list)
    confirms: list[CapacityResult] = field(default_factory=list)  # the defaults and the best measured again, alternating

    def value(self, r: CapacityResult) -> float | None:
        if r.status != "ok" or r.tuning is None:
            return None
        return self.objective.value(r, r.tuning.cores)

    def gain(self) -> float | None:
        """How many times better the best trial is than the defaults (for minimised objectives, default / best)."""
        if self.best is None or self.default is None:
            return None
        b, d = self.value(self.best), self.value(self.default)
        if b is None or d is None or b in (0.0, float("inf")) or d in (0.0, float("inf")):
            return None
        return b / d if self.objective.direction == "maximize" else d / b

    def confirmed(self) -> tuple[list[float], list[float], float | None]:
        """The confirmation rounds' values of the defaults and of the best, and the gain of their medians."""
        if self.best is None or self.default is None or not self.confirms:
            return [], [], None
        assert self.best.tuning is not None and self.default.tuning is not None

        def values(number: int) -> list[float]:
            return [v for r in self.confirms if r.tuning and r.tuning.number == number and (v := self.value(r)) is not None]

        d, b = values(self.default.tuning.number), values(self.best.tuning.number)
        if not d or not b:
            return d, b, None
        md, mb = statistics.median(d), statistics.median(b)
        if md in (0.0, math.inf) or mb in (0.0, math.inf):
            return d, b, None
        return d, b, (mb / md if self.objective.direction == "maximize" else md / mb)


def study_name(tunable: Tunable, ctx: TrialContext, objective: Objective) -> str:
    key = {"target": tunable.label, "base": tunable.base, "slo": ctx.slo.text, "objective": objective.name,
           "traffic": objective.traffic, "price": objective.price_per_core_hour, "requests": ctx.requests,
           "settings": ctx.settings.model_dump(), "search": ctx.search}
    return f"tune-{search_id(key)}"


def _pruner(objective: Objective) -> Any:
    import optuna
    from optuna.trial import TrialState

    class CannotBeatPruner(optuna.pruners.BasePruner):
        """Prune a trial whose best reachable value (its last intermediate value) is worse than the best
        finished trial's by more than PRUNE_MARGIN: more probes cannot make it win."""

        def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
            step = trial.last_step
            if step is None:
                return False
            reachable = trial.intermediate_values[step]
            done = [t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
            if not done:
                return False
            best = max(done) if objective.direction == "maximize" else min(done)
            return not objective.better(reachable, best * (1 - PRUNE_MARGIN if objective.direction == "maximize" else 1 + PRUNE_MARGIN))

    return CannotBeatPruner()


def run_study(tunable: Tunable, ctx: TrialContext, objective: Objective, budget_s: float, max_trials: int | None = None,
              seed: int = 0, confirm: int = 1) -> TuneOutcome:
    """The study, then `confirm` rounds that measure the defaults and the best setting again, one after the
    other, each a fresh search without pruning (TuneOutcome.confirmed): a study's single searches on a noisy machine
    favour a lucky trial, and the gain that counts is the one that holds when both are measured again."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failed trials are reported by infermeter, with their cause
    name = study_name(tunable, ctx, objective)
    storage = optuna.storages.RDBStorage(f"sqlite:///{(ctx.store.out / 'tune.db').absolute()}")
    study = optuna.create_study(study_name=name, storage=storage, direction=objective.direction, load_if_exists=True,
                                sampler=optuna.samplers.TPESampler(seed=seed), pruner=_pruner(objective))
    cores = usable_cores()
    _requeue(study, storage, tunable.starts(cores))
    deadline = time.monotonic() + budget_s
    durations: list[float] = []
    state = {"repeats_in_a_row": 0, "stopped": "budget"}

    def trial_fn(trial: optuna.Trial) -> float:
        t0 = time.monotonic()
        default = trial.user_attrs.get("role") == "default"
        if default:
            settings, callers = dict(tunable.base), (1 if tunable.kind == "engine" else None)
        else:
            settings, callers = tunable.space(OptunaSuggest(trial), cores)
        trial.set_user_attr("setting", json.dumps({"settings": settings, "callers": callers}, sort_keys=True))
        same = None if default else _measured_with(study, trial)
        if same is not None:
            trial.set_user_attr("repeat_of", same.number)
            state["repeats_in_a_row"] += 1
            if same.state != TrialState.COMPLETE or same.value is None:
                raise optuna.TrialPruned(f"repeats trial {same.number}")
            return float(same.value)
        state["repeats_in_a_row"] = 0
        tuning = TuningTrial(study=name, number=trial.number, role="default" if default else "trial", params=dict(trial.params),
                             settings=settings, callers=callers, cores=tunable.cores(settings, callers, cores),
                             objective=objective.name, traffic=objective.traffic, price_per_core_hour=objective.price_per_core_hour)
        steps = itertools.count()

        def stop(met: float | None, missed: float | None) -> bool:
            if default:  # the reference of every gain is measured to the end (on resume it may come after other trials)
                return False
            reachable = objective.bound(missed, tuning.cores) if missed is not None else None
            if reachable is None:
                return False
            trial.report(reachable, next(steps))
            return trial.should_prune()

        ctx.on_progress(f"trial {trial.number}{' (defaults)' if default else ''}: {_settings_text(settings, callers)}")
        try:
            result = tunable.run(settings, callers, tuning, ctx, stop)
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        except (AnswersDiffer, InfermeterError) as exc:
            # Recorded as failed, and told to the sampler as the worst value, so that it proposes such settings
            # less (TPE leaves failed trials out: it proposed bf16 in 4 of 5 trials when they were FAIL).
            _store_failed(ctx, tunable, tuning, str(exc))
            trial.set_user_attr("failed", str(exc))
            return 0.0 if objective.direction == "maximize" else math.inf
        durations.append(time.monotonic() - t0)
        if result.stopped == "pruned":
            raise optuna.TrialPruned(f"capacity below {result.upper:g}/s cannot beat the best trial")
        return objective.value(result, tuning.cores)

    def after(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        left = deadline - time.monotonic()
        if state["repeats_in_a_row"] >= REPEATS_TO_STOP:
            state["stopped"] = f"the sampler proposed only settings already measured ({REPEATS_TO_STOP} in a row): the space is exhausted"
            study.stop()
        elif durations and left < statistics.median(durations):
            state["stopped"] = f"budget: {max(0.0, left):.0f} s left, less than a trial takes (median {statistics.median(durations):.0f} s)"
            study.stop()
        elif max_trials is not None and len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                                                     TrialState.FAIL))) >= max_trials:
            state["stopped"] = f"--max-trials {max_trials} reached"
            study.stop()

    study.optimize(trial_fn, timeout=budget_s, catch=(AnswersDiffer, InfermeterError), callbacks=[after])
    found = outcome(tunable, ctx, objective, name, state["stopped"])
    if confirm and found.best is not None and found.default is not None and found.best is not found.default:
        for i in range(confirm):
            # Fresh windows on another draw of the arrival schedules: cells of their own beside the trials' searches.
            again = replace(ctx, resume=False, schedule=i + 1)
            for r in (found.default, found.best):
                assert r.tuning is not None
                t = r.tuning.model_copy(update={"role": "confirm"})
                ctx.on_progress(f"confirming {i + 1}/{confirm}: trial {t.number} again")
                try:
                    found.confirms.append(tunable.run(t.settings, t.callers, t, again, None))
                except (AnswersDiffer, InfermeterError) as exc:
                    found.notes.append(f"measuring trial {t.number} again failed: {exc}")
    repeated = [t for t in study.get_trials(deepcopy=False) if "repeat_of" in t.user_attrs]
    if repeated:
        found.notes.append(f"{len(repeated)} proposals repeated settings already measured and were told that trial's result "
                           f"without measuring again (trials {', '.join(str(t.number) for t in repeated[:10])}"
                           f"{', ...' if len(repeated) > 10 else ''})")
    return found


def outcome(tunable: Tunable, ctx: TrialContext, objective: Objective, name: str, stopped: str) -> TuneOutcome:
    """The study's trials as stored (the last record of each trial), the defaults, the best and its suite."""
    by_number: dict[int, CapacityResult] = {}
    for r in ctx.store.capacity():
        if r.tuning is not None and r.tuning.study == name and r.tuning.role != "confirm":
            by_number[r.tuning.number] = r
    trials = [by_number[n] for n in sorted(by_number)]
    out = TuneOutcome(name, objective, trials, stopped)
    out.default = next((r for r in trials if r.tuning and r.tuning.role == "default"), None)
    out.best = best_trial(trials, objective)
    if out.best is not None and out.best.tuning is not None:
        out.snippet = tunable.snippet(out.best.tuning.settings, out.best.tuning.callers, out.best.capacity, ctx.slo)
    return out


def _measured_with(study: Any, trial: Any) -> Any:
    """A finished trial of this study that measured exactly this setting (the settings and callers it comes
    to, so that a parameter the user fixed with --set makes no difference), and was not itself a repeat."""
    from optuna.trial import TrialState

    setting = trial.user_attrs.get("setting")
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)):
        if t.number != trial.number and t.user_attrs.get("setting") == setting and "repeat_of" not in t.user_attrs \
                and not t.user_attrs.get("interrupted"):
            return t
    return None


def _requeue(study: Any, storage: Any, starts: list[dict[str, Any]]) -> None:
    """Before a study (re)starts: a trial left running (a killed process; the OUT lock says no other run holds
    it) is marked interrupted; the defaults are queued if they were never measured and are not waiting, then
    each interrupted trial not yet queued again, once, with its parameters; a new study then queues the
    target's starting points (Tunable.starts). Queued trials run in order, so after an interrupt the defaults
    may come after starting points still waiting from the first run."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(t._trial_id, "interrupted", True)
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    trials = study.get_trials(deepcopy=False)
    if not any(t.user_attrs.get("role") == "default" and t.state in (TrialState.COMPLETE, TrialState.WAITING) for t in trials):
        study.enqueue_trial({}, user_attrs={"role": "default"})
    retried = {t.user_attrs.get("retry_of") for t in trials}
    for t in trials:
        if t.user_attrs.get("interrupted") and t.user_attrs.get("role") != "default" and t.number not in retried:
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
    if not trials:
        for params in starts:
            study.enqueue_trial(params)


def _store_failed(ctx: TrialContext, tunable: Tunable, tuning: TuningTrial, why: str) -> None:
    cell = {"label": f"{tunable.label} (trial {tuning.number})", "study": tuning.study, "trial": tuning.number, "settings": tuning.settings}
    ctx.store.append(CapacityResult(
        run_id=ctx.run_id, cell_id=search_id(cell), cell=cell, status="failed", error=why, mode="rate", slo=ctx.slo.text,
        resolution=float(ctx.search.get("resolution", 0.05)), stopped="failed", tuning=tuning,
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), machine=machine.machine_info(),
        packages=machine.package_versions(),
    ))


def _settings_text(settings: dict[str, Any], callers: int | None) -> str:
    parts = [f"{k}={v}" for k, v in sorted(settings.items())] + ([f"callers={callers}"] if callers is not None else [])
    return ", ".join(parts) or "the framework's defaults"
