"""The Optuna engine: the samplers and pruners of ``catalog`` (asha: asynchronous successive
halving). Studies live in any Optuna storage: ``journal:PATH``
(Optuna's journal file, for many processes on one machine; the default) or an RDB URL
(``postgresql://``, ``mysql://``, ``sqlite:///`` for one process). Opening a study whose name
exists resumes it; many processes opening the same study share it.

Crash safety. Every trial records its owner process (``host:pid:start``). Before each trial a
process looks for RUNNING trials whose owner on this host is gone (kill -9, out of memory) and
on RDB storages Optuna's heartbeats find those of other machines (no heartbeat for
``3 x heartbeat`` seconds). Such a trial is marked FAIL and retried once, with the same params,
by whichever worker takes the next trial; ``on_dead`` is told (to end its MLflow run).
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Callable

from ...catalog import PRUNERS, SAMPLERS, Direction, State
from ...errors import StorageError, TrialFailed
from ...budget import Budget
from ...tracking.stores import Store, owner_alive, process_owner, redact, scrub
from ...space import (SearchSpace)
from ._base import Abilities, Outcome, Sample, StudyInfo, TrialRecord


# the median rule compares a trial with finished ones only once this many have finished
MEDIAN_STARTUP_TRIALS = 5
# Hyperband and ASHA keep the best 1/REDUCTION_FACTOR of the trials at each rung
REDUCTION_FACTOR = 3
# an RDB trial whose worker missed this many heartbeats in a row is taken as dead
HEARTBEATS_MISSED = 3
# the study attribute that keeps the first rung once chosen, so that every worker and every
# resumed run of a study judge trials at the same step
RUNG_ATTR = "cnntune.first_rung"


class OptunaEngine:
    abilities = Abilities(
        name="optuna", algorithms=SAMPLERS, one_objective=frozenset({"cmaes"}),
        multi_objective=True, pruners=PRUNERS,
        builds_by_run=frozenset(SAMPLERS) - {"grid"}, enumerates=frozenset({"grid"}),
        shares_study=True, takes_history=True, sampler_synonym=True, optuna_storage=True)

    def __init__(self, space: SearchSpace, study_name: str, storage: str, *,
                 algorithm: str = "tpe", pruner: str = "median", seed: int | None = 0,
                 direction: str = "maximize", max_steps: int = 20,
                 heartbeat: int | None = 60, on_dead: Callable | None = None,
                 directions: list[str] | None = None):
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
        self.directions = list(directions or [direction])
        self.direction = self.directions[0]
        self.multi = len(self.directions) > 1
        if self.multi and sampler == "cmaes":
            raise ValueError("the cmaes sampler has one objective only; use tpe or nsgaii")
        self.max_steps = max_steps
        self.heartbeat = heartbeat
        self.on_dead = on_dead  # (TrialRecord, reason) -> None, for a trial whose worker died
        self._rung: int | None = None  # the first rung, once chosen (``_choose_rung``)
        self.owner = process_owner()
        self._study = None

    # -- construction --------------------------------------------------------------------

    def _sampler(self, seed: int | None = None):
        """The sampler, seeded with ``seed`` (default: the engine's seed)."""
        import optuna

        s = self.sampler_name
        seed = self.seed if seed is None else seed
        conditional = any(p.when for p in self.space.params.values())
        make = {
            "tpe": lambda: optuna.samplers.TPESampler(
                seed=seed, multivariate=True, group=conditional,
                warn_independent_sampling=False),
            "random": lambda: optuna.samplers.RandomSampler(seed=seed),
            "grid": lambda: optuna.samplers.GridSampler(self.space.grid(), seed=seed),
            "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=seed,
                                                          warn_independent_sampling=False),
            "qmc": lambda: optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False),
            "nsgaii": lambda: optuna.samplers.NSGAIISampler(seed=seed),
        }
        assert tuple(make) == SAMPLERS, "catalog.SAMPLERS and the samplers made here agree"
        if s not in make:
            raise ValueError(f"unknown Optuna sampler {s!r}; choose one of {', '.join(make)}")
        return make[s]()

    def _prunes(self) -> bool:
        return self.pruner_name != "none" and not self.multi  # Optuna: single objective only

    def _pruner(self, first: int | None = None):
        """The pruner, judging from step ``first`` (default: ``first_rung`` of the steps)."""
        import optuna

        p = self.pruner_name
        if not self._prunes():
            return optuna.pruners.NopPruner()
        first = first or first_rung(self.max_steps)
        if p == "median":
            return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS,
                                               n_warmup_steps=first)
        if p == "hyperband":
            return optuna.pruners.HyperbandPruner(min_resource=first,
                                                  max_resource=max(self.max_steps, 2),
                                                  reduction_factor=REDUCTION_FACTOR)
        if p == "asha":
            return optuna.pruners.SuccessiveHalvingPruner(min_resource=first,
                                                          reduction_factor=REDUCTION_FACTOR)
        raise ValueError(f"unknown Optuna pruner {p!r}; choose one of {', '.join(PRUNERS)}")

    def _storage(self):
        """The Optuna storage object: a journal file, or an RDB with heartbeats."""
        import optuna

        store = Store.of(self.storage)
        if store.file and store.folder is not None:
            store.folder.mkdir(parents=True, exist_ok=True)
        if store.kind == "journal":
            if store.path is None:
                raise StorageError("journal storage needs a file: journal:PATH")
            return journal_storage(store.path)
        if self.heartbeat and store.kind == "database":
            return optuna.storages.RDBStorage(
                self.storage, heartbeat_interval=self.heartbeat,
                grace_period=HEARTBEATS_MISSED * self.heartbeat,
                failed_trial_callback=self._heartbeat_lost)
        return self.storage

    def check(self) -> None:
        """Connect to an RDB storage and disconnect, writing nothing: a storage that cannot
        be used fails here, before the tracking store or the study is touched. (Journal and
        SQLite files are made on first use; there is nothing to reach.)"""
        if Store.of(self.storage).kind != "database":
            return
        try:
            import sqlalchemy

            engine = sqlalchemy.create_engine(self.storage)
            try:
                with engine.connect():
                    pass
            finally:
                engine.dispose()
        except Exception as exc:
            raise self._storage_error(exc) from None

    def _storage_error(self, exc: Exception) -> StorageError:
        why = scrub(str(exc).splitlines()[0] if str(exc) else "", self.storage)
        if isinstance(exc, ValueError | ImportError):  # a malformed URL, a missing driver
            return StorageError(f"study storage '{redact(self.storage)}' cannot be used "
                                f"({why}); check --storage")
        # sqlalchemy's OperationalError and friends
        return StorageError(f"study storage '{redact(self.storage)}' cannot be opened "
                            f"({type(exc).__name__}: {why}); "
                            "check --storage and that the database is reachable")

    def open(self) -> StudyInfo:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning for group/independent sampling
            try:
                storage = self._storage()
                existing = optuna.study.get_all_study_names(storage)
                created = self.study_name not in existing
                self._study = optuna.create_study(
                    storage=storage, study_name=self.study_name,
                    sampler=self._sampler(), pruner=self._pruner(),
                    directions=self.directions, load_if_exists=True)
                if not created and self.seed is not None:
                    # Optuna keeps no sampler state: re-seeded with the same seed, a resumed
                    # study would draw its first (random start-up) trials again. Offset the
                    # seed by the trials already there: still reproducible, never repeated.
                    done = len(self._study.get_trials(deepcopy=False))
                    self._study.sampler = self._sampler(self.seed + done)
            except StorageError:
                raise
            except Exception as exc:
                raise self._storage_error(exc) from None
        study = self._study
        have = [d.name.lower() for d in study.directions]
        if have != self.directions:
            raise StorageError(f"study '{self.study_name}' exists and was created to "
                               f"{' / '.join(have)}, but this space wants to "
                               f"{' / '.join(self.directions)}; use another --study name")
        return StudyInfo(name=self.study_name, created=created,
                         n_trials=len(study.get_trials(deepcopy=False)),
                         attrs=dict(study.user_attrs))

    # -- running --------------------------------------------------------------------------

    def set_study_attr(self, key: str, value: Any) -> None:
        self._study.set_user_attr(key, value)

    def enqueue(self, params: dict[str, Any], attrs: dict[str, Any]) -> None:
        self._study.enqueue_trial(params, user_attrs=attrs, skip_if_exists=True)

    def add_history(self, trials: list) -> None:
        """Finished trials of another study (optuna FrozenTrials) added to this one."""
        self._study.add_trials(trials)

    def sample(self, trial) -> dict[str, Any]:
        """A KerasTuner hypermodel's params first, as its build asks for them
        (``tuning.hypermodel``); then every active param of the space that it did not name,
        in dependency order."""
        values: dict[str, Any] = {}
        own = self.space.own_model
        if own is not None and own.kind == "hypermodel":
            from ..hypermodel import sample

            values = sample(own, trial, self.space.base_dir)
        for name in self.space.order:
            if name in values or not self.space.is_active(name, values):
                continue
            p = self.space.params[name]
            options = p.options()
            if options is not None:
                values[name] = trial.suggest_categorical(name, options)
            else:  # suggest_int / suggest_float
                suggest = getattr(trial, f"suggest_{p.type}")
                values[name] = suggest(name, p.low, p.high, step=p.step, log=p.log)
        return values

    def run(self, evaluate: Callable[[Sample], Outcome], *, n_trials: int | None,
            budget: Budget | None, total: int | None = None,
            keep_going: Callable[[], bool] | None = None) -> None:
        """Run trials until ``n_trials`` ran here, the ``budget``'s trials are due to end,
        (``total``) the study as a whole holds that many trials, counting those other
        workers are running, or ``keep_going()`` says no."""
        import optuna

        span = None if budget is None else max(budget.left(), 0.0)  # this call's time
        self._prepare_rung(span)

        def objective(trial):
            trial.set_user_attr("owner", self.owner)
            self.reap_dead_trials()
            reported: list[float] = []  # when this trial reported each step

            def report(step: int, value: float) -> bool:
                if self.multi:  # Optuna keeps no intermediate values for several objectives
                    return False
                trial.report(value, step)
                if self._rung is None:  # a step's time, from two reports, chooses it
                    reported.append(time.monotonic())
                    if len(reported) < 2:
                        return False
                    step_s = max(reported[-1] - reported[-2], 1e-6)
                    self._choose_rung(span / step_s)  # the steps the time budget holds
                return trial.should_prune()

            retry_of = trial.user_attrs.get("retry_of")
            sample = Sample(number=trial.number, params=self.sample(trial), report=report,
                            set_attr=trial.set_user_attr, retry_of=retry_of,
                            origin=trial.user_attrs.get("origin"))
            outcome = evaluate(sample)
            for key, value in (outcome.constraints or {}).items():
                trial.set_constraint(key, value)  # > 0: infeasible; samplers learn from it
            if outcome.state == State.FAIL and outcome.retry and retry_of is None:
                self._enqueue_retry(trial.number, sample.params)
            if outcome.state == State.PRUNED:
                raise optuna.TrialPruned()
            if outcome.state == State.FAIL:
                trial.set_user_attr("error", outcome.error or "")
                raise TrialFailed(outcome.error)
            return list(outcome.values) if self.multi else outcome.value

        def enough(study, _trial):
            if (total is not None and self._counted() >= total) or \
                    (keep_going is not None and not keep_going()):
                study.stop()

        # a dead worker's RUNNING trial counts toward the total: fail it (its retry is enqueued)
        # before deciding the study is full, or it would stay RUNNING for good
        self.reap_dead_trials()
        with warnings.catch_warnings():  # "fail_stale_trials is experimental"
            warnings.simplefilter("ignore")
            optuna.storages.fail_stale_trials(self._study)  # another machine's (heartbeats)
        if (total is not None and self._counted() >= total) or \
                (keep_going is not None and not keep_going()):
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            left = None if budget is None else max(budget.left(), 0.0)
            self._study.optimize(objective, n_trials=n_trials, timeout=left,
                                 catch=(TrialFailed,), callbacks=[enough])

    def _prepare_rung(self, timeout: float | None) -> None:
        """The first rung for this run: the study's if it has one, the step budget's when
        there is no time budget; else none yet, and nothing is pruned until two steps of a
        trial have shown how long a step takes (``_choose_rung``)."""
        import optuna

        if not self._prunes():
            self._rung = first_rung(self.max_steps)  # nothing to judge: nothing to choose
            return
        stored = self._study.user_attrs.get(RUNG_ATTR)
        if stored is not None or timeout is None or self.max_steps < 4:
            self._set_rung(int(stored) if stored is not None else first_rung(self.max_steps))
        else:
            self._rung = None
            self._study.pruner = optuna.pruners.NopPruner()

    def _choose_rung(self, budget_steps: float) -> None:
        stored = self._study.user_attrs.get(RUNG_ATTR)  # another worker may have chosen
        self._set_rung(int(stored) if stored is not None else
                       first_rung(self.max_steps, budget_steps))

    def _set_rung(self, first: int) -> None:
        self._rung = first
        if self._study.user_attrs.get(RUNG_ATTR) != first:
            self._study.set_user_attr(RUNG_ATTR, first)
        self._study.pruner = self._pruner(first)

    def _counted(self) -> int:
        """Trials that count toward a study-wide total: all but failed ones that were retried
        (their retry stands for them); with retries still waiting, never 'enough'."""
        trials = self._study.get_trials(deepcopy=False)
        if any(t.state.name == "WAITING" for t in trials):
            return -1
        retried = {t.user_attrs.get("retry_of") for t in trials}
        return sum(1 for t in trials if not (t.state.name == State.FAIL and t.number in retried))

    # -- crash safety ------------------------------------------------------------------------

    def reap_dead_trials(self) -> int:
        """Fail (and retry once) RUNNING trials whose owner process on this host is gone."""
        n = 0
        for t in self._study.get_trials(deepcopy=False, states=None):
            if t.state.name != State.RUNNING or t.user_attrs.get("owner") in (None, self.owner):
                continue
            if owner_alive(t.user_attrs["owner"]) is False:
                n += self._fail_dead(t, "its worker process died (killed or out of memory)")
        return n

    def _fail_dead(self, t, reason: str) -> int:
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        storage = self._study._storage
        try:  # the reason first: a finished trial takes no more attributes
            storage.set_trial_user_attr(t._trial_id, "error", reason)
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        except (UpdateFinishedTrialError, RuntimeError):
            return 0  # another worker got there first
        self._after_death(t, reason)
        return 1

    def _heartbeat_lost(self, study, t) -> None:
        """Optuna's callback for a trial failed for lack of heartbeats (another machine)."""
        # Optuna has failed it already, so the reason goes to its MLflow run only
        reason = f"no heartbeat for {HEARTBEATS_MISSED * (self.heartbeat or 0)} s: its worker died"
        self._after_death(t, reason)

    def _after_death(self, t, reason: str) -> None:
        if t.user_attrs.get("retry_of") is None:
            self._enqueue_retry(t.number, dict(t.params))
        if self.on_dead is not None:
            self.on_dead(_record(t), reason)

    def _enqueue_retry(self, number: int, params: dict) -> None:
        self._study.enqueue_trial(params, user_attrs={"retry_of": number},
                                  skip_if_exists=False)

    # -- reading ----------------------------------------------------------------------------

    def trials(self) -> list[TrialRecord]:
        return [_record(t) for t in self._study.get_trials(deepcopy=False)]

    def best(self) -> TrialRecord | None:
        """The best trial by the (primary) objective; with constraints, the best feasible."""
        if not self.multi and not any(t.constraints for t in self._study.get_trials(
                deepcopy=False, states=None)):
            try:
                return _record(self._study.best_trial)
            except ValueError:  # no completed trial
                return None
        done = [t for t in self._study.get_trials(deepcopy=False)
                if t.state.name == State.COMPLETE and feasible(t)]
        best = Direction(self.direction).best(done, lambda t: t.values[0], lambda t: t.number)
        return None if best is None else _record(best)


def distributions(space: SearchSpace) -> dict[str, Any]:
    """Every param as the Optuna distribution ``sample`` draws it from (what a trial built
    outside the engine, as the report does, must declare for Optuna to accept it)."""
    from optuna.distributions import (CategoricalDistribution, FloatDistribution,
                                      IntDistribution)

    ranges = {"int": IntDistribution, "float": FloatDistribution}
    out = {}
    for name, p in space.params.items():
        options = p.options()
        out[name] = CategoricalDistribution(options) if options is not None else \
            ranges[p.type](p.low, p.high, log=p.log, step=p.step)
    return out


def first_rung(max_steps: int, budget_steps: float | None = None) -> int:
    """The first step (a trial's check: an epoch, or a part of one on a large training split,
    cnntune.checks) at which a trial may be judged. A CNN's first epochs say little (the
    learning rate warms the weights up; batch norm statistics settle), so the first rung sits
    at a ninth of a trial's steps, 2 at least: two rungs of factor 3 above it still fit below
    them.

    A time budget can pull it down. ``budget_steps`` is how many steps the whole time budget
    holds. It must hold one full trial and REDUCTION_FACTOR ** 2 first rungs, or too few
    trials would be judged to rank them; where it holds fewer, the first rung falls to what
    it does hold, 1 step at least (60 s epochs in a 10-minute search: judged after 1)."""
    by_steps = 1 if max_steps < 4 else max(2, -(-max_steps // 9))
    if budget_steps is None:
        return by_steps
    return max(1, min(by_steps, int((budget_steps - max_steps) // REDUCTION_FACTOR ** 2)))


# A process killed while it appends to the journal leaves its lock behind; the others wait
# this long before breaking it (Optuna's default, 30 s, stalls every worker after a kill -9).
# Appends take milliseconds, so 10 s cannot break a live lock.
JOURNAL_LOCK_GRACE = 10


def journal_storage(path):
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

    lock = JournalFileSymlinkLock(str(path), grace_period=JOURNAL_LOCK_GRACE)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=lock))


def feasible(t) -> bool:
    return all(v <= 0 for v in t.constraints.values())


def _record(t) -> TrialRecord:
    values = list(t.values) if t.values else None
    return TrialRecord(number=t.number, state=t.state.name,
                       value=values[0] if values else None, params=dict(t.params),
                       attrs=dict(t.user_attrs), values=values,
                       feasible=feasible(t) if t.constraints else None)


def read_storage(storage: str):
    """An existing Optuna storage, opened to read: a journal as its storage object, an RDB
    URL as it is (Optuna opens it); None for a journal or SQLite file that is not there,
    which reading must not create, and for a folder (KerasTuner's, not Optuna's)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    store = Store.of(storage)
    if store.missing or not store.optuna:
        return None
    if store.kind != "journal":
        return storage
    try:
        return journal_storage(store.path)
    except Exception as exc:  # a folder, or a file this process may not read
        raise StorageError(f"study storage '{storage}' cannot be read ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''}); check "
                           "--storage") from None


def stored_study(storage: str, study: str):
    """``(storage object, study id)`` of a study already in an Optuna storage, for a reader
    such as optuna-dashboard; a journal or SQLite file that is not there is not made."""
    import optuna

    opened = read_storage(storage)
    if opened is None:
        raise StorageError(f"study storage '{redact(storage)}' does not exist; pass the "
                           "--storage the study was searched with")
    try:
        opened = optuna.storages.get_storage(opened)  # an RDB URL: connected here
        study_id = opened.get_study_id_from_name(study)
    except KeyError:
        raise StorageError(f"study '{study}' is not in study storage '{redact(storage)}'; "
                           "pass the --storage it was searched with") from None
    except Exception as exc:
        raise StorageError(f"study storage '{redact(storage)}' cannot be read "
                           f"({type(exc).__name__}: {scrub(str(exc).splitlines()[0], storage)})"
                           "; check --storage") from None
    return opened, study_id


def study_summaries(storage: str) -> list[dict[str, Any]]:
    """One dict per study in an Optuna storage: name, direction, counts by state, best."""
    import optuna

    opened = read_storage(storage)
    if opened is None:
        return []
    storage = opened
    try:
        summaries = optuna.study.get_all_study_summaries(storage, include_best_trial=True)
    except Exception as exc:
        raise StorageError(f"study storage '{redact(str(storage))}' cannot be read "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0]}); check "
                           "--storage") from None
    out = []
    for s in summaries:
        study = optuna.load_study(study_name=s.study_name, storage=storage)
        counts = State.count(t.state.name for t in study.get_trials(deepcopy=False))
        best = s.best_trial
        out.append({"study": s.study_name, "engine": "optuna",
                    "direction": s.direction.name.lower() if s.direction else "",
                    "trials": s.n_trials, "counts": counts,
                    "best_value": best.value if best else None,
                    "best_trial": best.number if best else None,
                    "started": s.datetime_start, "attrs": dict(s.user_attrs)})
    return out
