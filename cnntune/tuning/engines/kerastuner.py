"""The KerasTuner engine: KerasTuner's own oracles (random, bayesian, hyperband) drive the search.

Only KerasTuner's *oracles* are used, never its ``Tuner``: the SearchSpace is declared up front as
a ``HyperParameters`` object (a ``when:`` condition becomes a conditional scope), the oracle
proposes values, and cnntune's own trial (model builder, augmentation, early stopping, data
pipeline, MLflow tracking) runs them, exactly as for Optuna. So KerasTuner never has to discover
the space by running model-building code, and both engines train the same models.

A study is a folder ``<workdir>/<study>/`` holding the oracle's own state (``oracle.json``,
``trial_*/trial.json``, which is how KerasTuner resumes) and ``cnntune.json`` with what the
engine contract adds: study attributes and per-trial attributes and states. ``--storage`` names
the workdir: a folder path, or a ``sqlite:///`` URL whose folder is used (so by default studies
live in ``mlruns/kerastuner/``, beside the Optuna database and the MLflow store).

Hyperband hands each trial a budget (``tuner/epochs``, in steps: a trial's checks); the trial
trains for that many from scratch (KerasTuner's Tuner would reload the checkpoint of the trial
it continues; cnntune retrains instead, so every trial's model stands on its own). The budget,
bracket and round are trial attributes, not params, so MLflow shows the same param columns for
both engines.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

from ...budget import Budget
from ...files import write_json
from ...catalog import ALGORITHMS as CATALOG_ALGORITHMS, Direction, State
from ...errors import StorageError
from ...space import (SearchSpace)
from ._base import Abilities, Outcome, Sample, StudyInfo, TrialRecord

ALGORITHMS = CATALOG_ALGORITHMS["kerastuner"]
_TUNER_ID = "cnntune"
_STATE_FILE = "cnntune.json"
_KT_STATES = {"COMPLETED": State.COMPLETE, "FAILED": State.FAIL, "INVALID": State.FAIL,
              "RUNNING": State.RUNNING, "IDLE": State.WAITING, "STOPPED": State.FAIL}


def workdir_for(storage: str) -> Path:
    """The folder KerasTuner studies live in, from a ``--storage`` value: a folder path, or
    the ``kerastuner/`` folder beside a journal or sqlite file."""
    from ...tracking.stores import Store

    store = Store.of(storage)
    if store.kind == "folder":
        return store.path
    if store.folder is not None:  # beside a journal or sqlite file
        return store.folder / "kerastuner"
    if store.kind == "sqlite":
        raise StorageError("the kerastuner engine keeps studies in a folder; an in-memory "
                           "sqlite storage has none; pass --storage a folder path")
    raise StorageError(f"the kerastuner engine keeps studies in a folder, not in a "
                       f"{store.scheme} database; pass --storage a folder path (many-worker "
                       "studies on a database need --engine optuna)")


class _Codec:
    """Maps a SearchSpace param to a KerasTuner hyperparameter and values both ways.

    KerasTuner's Choice takes values of one type among str, int, float and bool; a categorical
    with mixed types or ``null`` is declared as a Choice over the indices of its choices.
    """

    def __init__(self, space: SearchSpace):
        self.space = space
        self.indexed: set[str] = set()
        for name, p in space.params.items():
            types = {type(c) for c in p.options() or ()}
            if types and (len(types) > 1 or not types <= {str, int, float, bool}):
                self.indexed.add(name)

    def encode(self, name: str, value: Any) -> Any:
        if name not in self.indexed:
            return value
        return str(self.space.params[name].options().index(value))

    def decode(self, name: str, value: Any) -> Any:
        p = self.space.params[name]
        return p.options()[int(value)] if name in self.indexed else p.cast(value)

    def hyperparameters(self):
        """The whole space as one KerasTuner HyperParameters object, conditions included.

        A param's ``when`` becomes one ``Parent`` condition per named param: exactly what
        nested ``conditional_scope`` blocks produce, but also for a ``when`` over several
        unrelated params, which KerasTuner's scopes (each opened inside the parent's own
        conditions) cannot express.
        """
        import keras_tuner as kt
        from keras_tuner.src.engine.conditions import Parent

        types = kt.engine.hyperparameters
        hp = kt.HyperParameters()
        for name in self.space.order:
            p = self.space.params[name]
            conds = [Parent(parent, [self.encode(parent, w) for w in (
                wanted if isinstance(wanted, list) else [wanted])])
                for parent, wanted in (p.when or {}).items()]
            options = p.options()
            if p.type == "int":
                obj = types.Int(name, p.low, p.high, sampling="log", conditions=conds) if p.log \
                    else types.Int(name, p.low, p.high, step=p.step, conditions=conds)
            elif p.type == "float":
                obj = types.Float(name, p.low, p.high, step=p.step,
                                  sampling="log" if p.log else "linear", conditions=conds)
            elif p.type == "bool":
                obj = types.Boolean(name, conditions=conds)
            elif p.type == "fixed":
                obj = types.Fixed(name, self.encode(name, options[0]), conditions=conds)
            else:
                obj = types.Choice(name, [self.encode(name, c) for c in options],
                                   ordered=False, conditions=conds)
            hp.merge([obj])
        return hp


class KerasTunerEngine:
    # KerasTuner persists its algorithm (its oracle) with the study: default names carry it
    abilities = Abilities(name="kerastuner", algorithms=ALGORITHMS,
                          early_stop="stops trials early only through --algorithm hyperband",
                          algorithm_in_study_name=True)

    def __init__(self, space: SearchSpace, study_name: str, storage: str, *,
                 algorithm: str = "bayesian", seed: int | None = 0,
                 direction: str = "maximize", max_steps: int = 20, objective: str | None = None):
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm '{algorithm}'; use one of {', '.join(ALGORITHMS)}")
        self.space = space
        self.study_name = study_name
        self.storage = storage
        self.algorithm = algorithm
        self.seed = seed
        self.direction = direction
        self.max_steps = max_steps
        self.objective = objective or space.primary
        self.codec = _Codec(space)
        self.dir = workdir_for(storage) / study_name
        self._oracle = None
        self._state: dict[str, Any] = {}
        self._next_attrs: dict[str, Any] = {}  # what the last enqueued trial carries
        # one process per KerasTuner study (no shared storage): no other worker's trial can die
        self.on_dead = None

    # -- construction --------------------------------------------------------------------

    def _make_oracle(self):
        import keras_tuner as kt

        objective = kt.Objective(self.objective, "max" if self.direction == "maximize" else "min")
        common = dict(objective=objective, hyperparameters=self.codec.hyperparameters(),
                      allow_new_entries=False, tune_new_entries=False,
                      seed=None if self.seed is None else self.seed + 1,  # KerasTuner: 0 = none
                      max_retries_per_trial=0,
                      max_consecutive_failed_trials=10 ** 9)  # a failed trial never ends a study
        if self.algorithm == "random":
            oracle = kt.oracles.RandomSearchOracle(max_trials=1, **common)
        elif self.algorithm == "bayesian":
            # KerasTuner's default of 3 random trials per dimension would make a 15-trial study
            # on a 12-param space all random; start the Gaussian process after 10 at most
            # (Optuna's TPE also starts after 10)
            dims = sum(p.type != "fixed" for p in self.space.params.values())
            oracle = kt.oracles.BayesianOptimizationOracle(
                max_trials=1, num_initial_points=max(3, min(10, 3 * dims)), **common)
        elif self.algorithm == "hyperband":
            # enough iterations that only --trials/--timeout end the search
            oracle = kt.oracles.HyperbandOracle(max_epochs=max(self.max_steps, 2), factor=3,
                                                hyperband_iterations=10 ** 6, **common)
        else:
            raise ValueError(f"unknown KerasTuner algorithm {self.algorithm!r}; choose one of "
                             f"{', '.join(CATALOG_ALGORITHMS['kerastuner'])}")
        oracle.verbose = 0
        # enqueued configurations come first: KerasTuner's oracles draw every new trial that
        # is not a Hyperband promotion or a fitted Bayesian guess from _random_values, so an
        # enqueued one replaces that draw (params it lacks keep their random values)
        draw = oracle._random_values

        def next_values():
            queue = self._state.get("queue") or []
            if not queue:
                self._next_attrs = {}
                return draw()
            item = queue.pop(0)
            self._save()
            given = {k: self.codec.encode(k, v) for k, v in item["params"].items()}
            hps = kt.HyperParameters()
            for hp in oracle.hyperparameters.space:  # in order, so conditions see parents
                hps.merge([hp])
                if hps.is_active(hp):
                    hps.values[hp.name] = given[hp.name] if hp.name in given else \
                        hp.random_sample(oracle._seed_state)
                    oracle._seed_state += 1
            self._next_attrs = dict(item["attrs"])
            return hps.values

        oracle._random_values = next_values
        return oracle

    def check(self) -> None:
        """Nothing to reach: the storage is a local folder, resolved (and refused when it is
        not one) by the constructor, and made on first use."""

    def open(self) -> StudyInfo:
        from ..._quiet import import_tensorflow_quietly

        import_tensorflow_quietly()  # keras_tuner imports TensorFlow
        state_file = self.dir / _STATE_FILE
        created = not state_file.exists()
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"kerastuner study folder '{self.dir}' cannot be created "
                               f"({exc.strerror}); check --storage") from None
        if created:
            self._state = {"engine": "kerastuner", "algorithm": self.algorithm,
                           "direction": self.direction, "attrs": {}, "trials": {}}
        else:
            try:
                self._state = json.loads(state_file.read_text())
            except (OSError, ValueError) as exc:
                raise StorageError(f"kerastuner study '{self.study_name}' in '{self.dir}' is "
                                   f"unreadable ({exc}); move the folder away or use another "
                                   "--study name") from None
            for key, want in (("algorithm", self.algorithm), ("direction", self.direction)):
                if self._state.get(key) != want:
                    raise StorageError(f"kerastuner study '{self.study_name}' was created with "
                                       f"{key} {self._state.get(key)}, this search asks for "
                                       f"{want}; use the same or another --study name")
        oracle = self._make_oracle()
        oracle._set_project_dir(str(self.dir.parent), self.study_name)
        if not created and (self.dir / "oracle.json").exists():
            oracle.reload()
        self._oracle = oracle
        self._save()
        return StudyInfo(name=self.study_name, created=created, n_trials=len(oracle.trials),
                         attrs=dict(self._state["attrs"]))

    def _save(self) -> None:
        write_json(self.dir / _STATE_FILE, self._state, indent=1)  # atomic

    # -- running --------------------------------------------------------------------------

    def set_study_attr(self, key: str, value: Any) -> None:
        self._state["attrs"][key] = value
        self._save()

    def enqueue(self, params: dict[str, Any], attrs: dict[str, Any]) -> None:
        queue = self._state.setdefault("queue", [])
        if all(item["params"] != params for item in queue):
            queue.append({"params": dict(params), "attrs": dict(attrs)})
            self._save()

    def _trial_state(self, trial_id: str) -> dict:
        return self._state["trials"].setdefault(trial_id, {"attrs": {}})

    def params_of(self, values: dict[str, Any]) -> dict[str, Any]:
        """The active params of a KerasTuner values dict, decoded, in sampling order."""
        params: dict[str, Any] = {}
        for name in self.space.order:
            if name in values and self.space.is_active(name, params):
                params[name] = self.codec.decode(name, values[name])
        return params

    def run(self, evaluate: Callable[[Sample], Outcome], *, n_trials: int | None,
            budget: Budget | None, total: int | None = None,
            keep_going: Callable[[], bool] | None = None) -> None:
        oracle = self._oracle
        if total is not None:  # one process owns a KerasTuner study: total = trials to add
            left = max(0, total - len(oracle.trials))
            n_trials = left if n_trials is None else min(n_trials, left)
        done = 0
        while n_trials is None or done < n_trials:
            if budget is not None and budget.left() <= 0:
                break
            if keep_going is not None and not keep_going():
                break
            if self.algorithm != "hyperband":
                oracle.max_trials = len(oracle.trials) + 1  # one more, however the study began
            self._next_attrs = {}
            trial = oracle.create_trial(_TUNER_ID)
            if trial.status != "RUNNING":  # STOPPED: the space is exhausted
                break
            done += 1
            self._run_one(trial, evaluate, dict(self._next_attrs))

    def _run_one(self, trial, evaluate: Callable[[Sample], Outcome],
                 attrs: dict[str, Any]) -> None:
        values = dict(trial.hyperparameters.values)
        budget = values.get("tuner/epochs")
        entry = self._trial_state(trial.trial_id)
        entry["state"] = State.RUNNING
        entry["attrs"].update(attrs)
        if budget is not None:
            entry["attrs"].update({"hyperband_steps": budget,
                                   "hyperband_bracket": values.get("tuner/bracket"),
                                   "hyperband_round": values.get("tuner/round")})
        self._save()

        def set_attr(key: str, value: Any) -> None:
            entry["attrs"][key] = value
            self._save()

        sample = Sample(number=int(trial.trial_id), params=self.params_of(values),
                        report=lambda step, value: False,  # KerasTuner oracles do not prune
                        set_attr=set_attr, steps=budget, origin=attrs.get("origin"))
        try:
            outcome = evaluate(sample)
        except BaseException as exc:
            self._end(trial, State.FAIL, None, f"{type(exc).__name__}: {exc}")
            raise
        self._end(trial, outcome.state, outcome.value, outcome.error)

    def _end(self, trial, state: str, value: float | None, error: str | None) -> None:
        ok = state == State.COMPLETE and value is not None and math.isfinite(value)
        if ok:
            self._oracle.update_trial(trial.trial_id, {self.objective: value})
        trial.status = "COMPLETED" if ok else "FAILED"
        trial.message = error
        self._oracle.end_trial(trial)
        # end_trial saves the oracle before it drops the trial from its ongoing ones, so a
        # reload would run the last trial again: save once more now that it is gone
        self._oracle.save()
        entry = self._trial_state(trial.trial_id)
        entry["state"] = state if (ok or state != State.COMPLETE) else State.FAIL
        entry["value"] = value
        if error:
            entry["attrs"]["error"] = error
        self._save()

    # -- reading ----------------------------------------------------------------------------

    def trials(self) -> list[TrialRecord]:
        out = []
        for tid, t in sorted(self._oracle.trials.items(), key=lambda kv: int(kv[0])):
            entry = self._state["trials"].get(tid, {})
            state = entry.get("state") or _KT_STATES.get(t.status, State.FAIL)
            value = entry.get("value", t.score) if state == State.COMPLETE else entry.get("value")
            out.append(TrialRecord(number=int(tid), state=state, value=value,
                                   params=self.params_of(t.hyperparameters.values),
                                   attrs=dict(entry.get("attrs", {}))))
        return out

    def best(self) -> TrialRecord | None:
        done = [t for t in self.trials() if t.state == State.COMPLETE]
        return Direction(self.direction).best(done, lambda t: t.value, lambda t: t.number)


def study_summaries(storage: str) -> list[dict[str, Any]]:
    """One dict per KerasTuner study in the storage's folder (read from cnntune.json, without
    KerasTuner or TensorFlow)."""
    try:
        root = workdir_for(storage)
    except StorageError:
        return []
    out = []
    for state_file in sorted(root.glob(f"*/{_STATE_FILE}")):
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            continue
        trials = [(int(tid), t) for tid, t in state.get("trials", {}).items()]
        counts = State.count(t.get("state", State.RUNNING) for _, t in trials)
        done = [(tid, t["value"]) for tid, t in trials if t.get("state") == State.COMPLETE]
        direction = Direction(state.get("direction") or Direction.MAXIMIZE)
        best = direction.best(done, lambda e: e[1], lambda e: e[0])
        out.append({"study": state_file.parent.name, "engine": "kerastuner",
                    "direction": state.get("direction", ""),
                    "trials": sum(counts.values()), "counts": counts,
                    "best_value": best[1] if best else None,
                    "best_trial": best[0] if best else None,
                    "started": _created(state_file.parent), "attrs": state.get("attrs", {})})
    return out


def _created(folder: Path):
    import datetime

    return datetime.datetime.fromtimestamp(folder.stat().st_mtime)
