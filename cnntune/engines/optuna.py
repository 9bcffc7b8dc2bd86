"""The Optuna engine: samplers tpe, random, grid, cmaes, qmc; pruners none, median, hyperband,
asha (asynchronous successive halving). Studies live in any Optuna storage URL; opening a study
whose name exists resumes it.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

from ..errors import StorageError
from ..stores import redact, sqlite_path
from ..space import (BoolParam, CategoricalParam, FixedParam, FloatParam, IntParam, SearchSpace)
from ._base import Outcome, Sample, StudyInfo, TrialRecord

SAMPLERS = ("tpe", "random", "grid", "cmaes", "qmc")
PRUNERS = ("none", "median", "hyperband", "asha")


class _TrialFailed(Exception):
    """Raised inside the objective so that Optuna records FAIL and goes on."""


class OptunaEngine:
    def __init__(self, space: SearchSpace, study_name: str, storage: str, *,
                 algorithm: str = "tpe", pruner: str = "median", seed: int | None = 0,
                 direction: str = "maximize", max_epochs: int = 20):
        sampler = algorithm
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler '{sampler}'; use one of {', '.join(SAMPLERS)}")
        if pruner not in PRUNERS:
            raise ValueError(f"unknown pruner '{pruner}'; use one of {', '.join(PRUNERS)}")
        self.space = space
        self.study_name = study_name
        self.storage = storage
        self.sampler_name = sampler
        self.pruner_name = pruner
        self.seed = seed
        self.direction = direction
        self.max_epochs = max_epochs
        self._study = None

    # -- construction --------------------------------------------------------------------

    def _sampler(self):
        import optuna

        s, seed = self.sampler_name, self.seed
        if s == "tpe":
            conditional = any(p.when for p in self.space.params.values())
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=conditional,
                                              warn_independent_sampling=False)
        if s == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if s == "grid":
            return optuna.samplers.GridSampler(self.space.grid(), seed=seed)
        if s == "cmaes":
            return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)

    def _pruner(self):
        import optuna

        p = self.pruner_name
        if p == "none":
            return optuna.pruners.NopPruner()
        if p == "median":
            return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
        if p == "hyperband":
            return optuna.pruners.HyperbandPruner(min_resource=1,
                                                  max_resource=max(self.max_epochs, 2),
                                                  reduction_factor=3)
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)

    def open(self) -> StudyInfo:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        db = sqlite_path(self.storage)
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning for group/independent sampling
            try:
                existing = optuna.study.get_all_study_names(self.storage)
                created = self.study_name not in existing
                self._study = optuna.create_study(
                    storage=self.storage, study_name=self.study_name,
                    sampler=self._sampler(), pruner=self._pruner(), direction=self.direction,
                    load_if_exists=True)
                if not created and self.seed is not None:
                    # Optuna keeps no sampler state: re-seeded with the same seed, a resumed
                    # study would draw its first (random start-up) trials again. Offset the
                    # seed by the trials already there: still reproducible, never repeated.
                    done = len(self._study.get_trials(deepcopy=False))
                    seed, self.seed = self.seed, self.seed + done
                    self._study.sampler = self._sampler()
                    self.seed = seed
            except (ValueError, ImportError, ModuleNotFoundError) as exc:
                raise StorageError(f"study storage '{redact(self.storage)}' cannot be used "
                                   f"({str(exc).splitlines()[0]}); check --storage") from None
            except Exception as exc:  # sqlalchemy OperationalError and friends
                raise StorageError(f"study storage '{redact(self.storage)}' cannot be opened "
                                   f"({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                                   "check --storage and that the database is reachable") from None
        study = self._study
        want = optuna.study.StudyDirection.MAXIMIZE if self.direction == "maximize" \
            else optuna.study.StudyDirection.MINIMIZE
        if study.direction != want:
            raise StorageError(f"study '{self.study_name}' exists and was created to "
                               f"{study.direction.name.lower()}, but this space wants to "
                               f"{self.direction}; use another --study name")
        return StudyInfo(name=self.study_name, created=created,
                         n_trials=len(study.get_trials(deepcopy=False)),
                         attrs=dict(study.user_attrs))

    # -- running --------------------------------------------------------------------------

    def set_study_attr(self, key: str, value: Any) -> None:
        self._study.set_user_attr(key, value)

    def sample(self, trial) -> dict[str, Any]:
        """Sample every active param, in dependency order."""
        values: dict[str, Any] = {}
        for name in self.space.order:
            if not self.space.is_active(name, values):
                continue
            p = self.space.params[name]
            if isinstance(p, IntParam):
                values[name] = trial.suggest_int(name, p.low, p.high, step=p.step, log=p.log)
            elif isinstance(p, FloatParam):
                values[name] = trial.suggest_float(name, p.low, p.high, step=p.step, log=p.log)
            elif isinstance(p, CategoricalParam):
                values[name] = trial.suggest_categorical(name, p.choices)
            elif isinstance(p, BoolParam):
                values[name] = trial.suggest_categorical(name, [False, True])
            elif isinstance(p, FixedParam):
                values[name] = trial.suggest_categorical(name, [p.value])
        return values

    def run(self, evaluate: Callable[[Sample], Outcome], *, n_trials: int | None,
            timeout: float | None) -> None:
        import optuna

        def objective(trial):
            def report(step: int, value: float) -> bool:
                trial.report(value, step)
                return trial.should_prune()

            sample = Sample(number=trial.number, params=self.sample(trial), report=report,
                            set_attr=trial.set_user_attr)
            outcome = evaluate(sample)
            if outcome.state == "PRUNED":
                raise optuna.TrialPruned()
            if outcome.state == "FAIL":
                trial.set_user_attr("error", outcome.error or "")
                raise _TrialFailed(outcome.error)
            return outcome.value

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._study.optimize(objective, n_trials=n_trials, timeout=timeout,
                                 catch=(_TrialFailed,))

    # -- reading ----------------------------------------------------------------------------

    def trials(self) -> list[TrialRecord]:
        return [_record(t) for t in self._study.get_trials(deepcopy=False)]

    def best(self) -> TrialRecord | None:
        try:
            return _record(self._study.best_trial)
        except ValueError:  # no completed trial
            return None


def _record(t) -> TrialRecord:
    return TrialRecord(number=t.number, state=t.state.name, value=t.value, params=dict(t.params),
                       attrs=dict(t.user_attrs))


def study_summaries(storage: str) -> list[dict[str, Any]]:
    """One dict per study in an Optuna storage: name, direction, counts by state, best."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    db = sqlite_path(storage)
    if db is not None and not db.exists():
        return []
    try:
        summaries = optuna.study.get_all_study_summaries(storage, include_best_trial=True)
    except Exception as exc:
        raise StorageError(f"study storage '{redact(storage)}' cannot be read "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0]}); check "
                           "--storage") from None
    out = []
    for s in summaries:
        study = optuna.load_study(study_name=s.study_name, storage=storage)
        counts: dict[str, int] = {}
        for t in study.get_trials(deepcopy=False):
            counts[t.state.name] = counts.get(t.state.name, 0) + 1
        best = s.best_trial
        out.append({"study": s.study_name, "engine": "optuna",
                    "direction": s.direction.name.lower() if s.direction else "",
                    "trials": s.n_trials, "counts": counts,
                    "best_value": best.value if best else None,
                    "best_trial": best.number if best else None,
                    "started": s.datetime_start, "attrs": dict(s.user_attrs)})
    return out
