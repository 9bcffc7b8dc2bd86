"""Orchestration of a study: space + data + engine + trials + tracking.

Everything that can be checked is checked before anything is written: the space file, the
options, the data. Only then are the study and the MLflow experiment opened.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError
from .stores import DEFAULT_STORAGE, DEFAULT_TRACKING_URI, redact

# (kind, payload) with kind one of study_start, trial_start, epoch, trial_end
EventHook = Callable[[str, dict], None]


@dataclass
class TrialSummary:
    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    metrics: dict[str, float]
    run_id: str | None
    model_logged: bool = False

    @property
    def model_uri(self) -> str | None:
        """``runs:/<run id>/model`` when this trial's model was logged, else None."""
        from .tracking import model_uri

        return model_uri(self.run_id) if self.run_id and self.model_logged else None


@dataclass
class SearchResult:
    study: str
    storage: str  # redacted
    tracking_uri: str  # redacted
    experiment_id: str
    parent_run_id: str
    objective: str
    direction: str
    best: TrialSummary | None
    counts: dict[str, int] = field(default_factory=dict)  # state -> trials in the whole study
    new_trials: int = 0  # trials run by this call
    elapsed: float = 0.0
    workers: int = 1
    failed_workers: list[str] = field(default_factory=list)

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best.params) if self.best else {}


AUTO = "auto"  # the space name that means: pick the space for the data (autospace)
CLOSING_S = 2.0  # what ending a study takes after its last trial (its run, the summary)


def search(space: str | Path | None = AUTO, *, data: str | Path | None = None,
           study: str | None = None, storage: str = DEFAULT_STORAGE,
           tracking_uri: str = DEFAULT_TRACKING_URI, trials: int | None = None,
           timeout: float | None = None, seed: int | None = None, engine: str | None = None,
           algorithm: str | None = None, sampler: str | None = None, pruner: str | None = None,
           epochs: int | None = None, on_event: EventHook | None = None, isolate: bool = True,
           trials_per_worker: int = 100, workers: int = 1, total_trials: int | None = None,
           threads: int | None = None, heartbeat: int | None = 60,
           worker_index: int = 0, baselines: bool = False, warm_start: str | None = None,
           warm_start_best: int = 3, patience_trials: int | None = None,
           started: float | None = None) -> SearchResult:
    """Run (or resume) a study and return its best trial.

    ``space`` is a YAML path, a shipped space name, or ``auto``/None: a space picked for the
    data (``autospace``); ``data`` overrides the space's data (``digits``, an ``.npz`` file or
    an image folder). ``trials`` and ``timeout`` bound this call: ``timeout`` seconds from
    ``started`` (a ``time.time()``, default now; the CLI passes its process's start), the last
    trial and its scoring included: a trial that would not finish is cut short with its best
    epoch kept, or not started. ``patience_trials=N`` ends the search once N trials in a row
    have not beaten the best. Re-running with the same ``study`` name adds trials to it.

    A new study first tries the space's ``start_from`` configurations (by default cnntune's
    known-good ones for data of this shape); ``warm_start`` names an earlier study in the same
    storage to start from: its trials as history when it searched the same space and data, else
    its ``warm_start_best`` best trials, projected onto this space. ``engine`` (optuna, kerastuner)
    and ``algorithm`` (an Optuna sampler, or random/bayesian/hyperband for KerasTuner) override
    the space's; ``sampler`` is Optuna's name for the algorithm, ``pruner`` is Optuna's only.

    ``baselines=True`` also fits logistic regression, an RBF SVM and a random forest on the
    same splits and logs them beside the trials (once per study).
    ``workers=N`` runs N processes on this study at once (journal or RDB storage), each
    limiting TensorFlow to its share of the cores (``threads``); together they add ``trials``.
    ``total_trials`` instead runs until the study as a whole holds that many trials: what each
    of several machines passes to share one study. ``heartbeat`` (seconds) lets RDB storages
    find trials whose machine died; ``worker_index`` offsets the seed of one of several workers.

    Trials run in a worker process that is replaced every ``trials_per_worker`` trials, so
    memory stays bounded over long studies and a crashed worker fails only its trial;
    ``isolate=False`` runs them in this process (easier to debug; a crash ends the study).
    """
    from .runner import InProcessRunner, WorkerProcess, WorkerRunner

    emit = on_event or (lambda kind, payload: None)
    t_start = time.perf_counter()
    started = time.time() if started is None else started
    space = AUTO if space is None else space
    if algorithm is not None and sampler is not None and algorithm != sampler:
        raise ConfigError(f"--algorithm {algorithm} and --sampler {sampler} disagree; give one")
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if total_trials is not None and total_trials < 1:
        raise ConfigError(f"--total-trials must be >= 1, got {total_trials}")
    if workers > 1:
        from .parallel import search_workers

        if warm_start is not None or patience_trials is not None:
            raise ConfigError("--warm-start and --patience-trials are for one worker; start "
                              "the study with them first, then add --workers")
        return search_workers(workers, space=space, data=data, study=study, storage=storage,
                              tracking_uri=tracking_uri, trials=trials, timeout=timeout,
                              seed=seed, engine=engine, algorithm=algorithm or sampler,
                              pruner=pruner, epochs=epochs, total_trials=total_trials,
                              threads=threads, heartbeat=heartbeat, on_event=on_event,
                              baselines=baselines, started=started)
    # the first trial worker loads TensorFlow while this process checks and opens everything
    first = WorkerProcess() if isolate else None
    try:
        plan = _plan(space, data, study, trials, timeout, seed, engine, algorithm or sampler,
                     pruner, epochs, sampler_given=sampler is not None,
                     until_total=total_trials is not None, worker_index=worker_index,
                     threads=threads, started=started, patience_trials=patience_trials)
        plan.warm = _warm_starts(plan, storage, warm_start, warm_start_best)
        tracker, engine, parent, payload = _open(plan, storage, tracking_uri,
                                                 heartbeat=heartbeat)
    except BaseException:
        if first is not None:
            first.kill()
        raise
    payload["total_trials"] = total_trials
    emit("study_start", payload)
    runner = WorkerRunner(plan.dataset, plan.trial, tracking_uri,
                          trials_per_worker=trials_per_worker, spare=first) if isolate \
        else InProcessRunner(plan.dataset, plan.trial)
    loop = _TrialLoop(plan, engine, tracker, runner, parent, emit)
    try:
        engine.run(loop.evaluate, n_trials=plan.n_trials, total=total_trials,
                   timeout=None if plan.deadline is None else plan.deadline - time.time(),
                   keep_going=loop.keep_going)
    except BaseException:
        tracker.end_study(parent, "KILLED")
        raise
    finally:
        runner.close()
    if baselines:
        _log_baselines_once(plan, tracker, parent, emit)
    tracker.end_study(parent, "FINISHED")
    return _result(engine, plan.study, storage, tracker, parent, plan.space, loop.new_trials,
                   time.perf_counter() - t_start)


def _log_baselines_once(plan, tracker, parent: str, emit) -> None:
    """Classical baselines on the study's splits, logged beside its trials (once a study)."""
    from .baselines import log_baselines, run_baselines

    client = tracker.client
    if client.search_runs([tracker.experiment_id], "tags.`cnntune.role` = 'baseline'",
                          max_results=1):
        return
    results = run_baselines(plan.dataset, seed=plan.seed)
    log_baselines(client, tracker.experiment_id, parent, plan.study, results)
    emit("baselines", {"results": results})


@dataclass
class _Plan:
    """Everything a study run needs, resolved and validated; nothing written yet."""

    space: Any  # SearchSpace
    dataset: Any  # Dataset
    study: str
    engine: str
    algorithm: str
    pruner: str
    seed: int
    n_trials: int | None
    timeout: float | None
    trial: Any  # TrialSettings
    patience_trials: int | None = None
    warm: Any = None  # WarmStart: what a new study starts from
    warm_study: Any = None  # WarmStart from --warm-start, applied to new and resumed studies

    @property
    def deadline(self) -> float | None:
        """time.time() by which the last trial must be over (the trials' own deadline)."""
        return self.trial.deadline


def _plan(space, data, study, trials, timeout, seed, engine, algorithm, pruner, epochs, *,
          sampler_given: bool = False, until_total: bool = False, worker_index: int = 0,
          threads: int | None = None, started: float | None = None,
          patience_trials: int | None = None) -> _Plan:
    from .data import load_dataset
    from .space import ALGORITHMS, ENGINES, load_space
    from .trial import TrialSettings

    if patience_trials is not None and patience_trials < 1:
        raise ConfigError(f"--patience-trials must be >= 1, got {patience_trials}; it is how "
                          "many trials in a row may fail to beat the best before the search "
                          "stops")
    dataset = None
    if str(space) == AUTO:
        sp, dataset = auto_plan(data)
    else:
        sp = load_space(space)
    engine = engine or sp.search.engine
    if engine not in ENGINES:
        raise ConfigError(f"engine '{engine}' is unknown; use one of {', '.join(ENGINES)}")
    if sampler_given and engine != "optuna":
        raise ConfigError(f"--sampler is for the optuna engine; with --engine {engine} use "
                          f"--algorithm ({', '.join(ALGORITHMS[engine])})")
    algorithm = algorithm or sp.search.algorithm_for(engine)
    if algorithm not in ALGORITHMS[engine]:
        raise ConfigError(f"algorithm '{algorithm}' is unknown to engine {engine}; use one of "
                          f"{', '.join(ALGORITHMS[engine])}")
    if sp.multi and engine != "optuna":
        raise ConfigError(f"space '{sp.source}' has several objectives; multi-objective "
                          "search needs --engine optuna")
    if sp.multi and algorithm == "cmaes":
        raise ConfigError("the cmaes sampler has one objective only; use tpe or nsgaii")
    if sp.multi and pruner not in (None, "none"):
        raise ConfigError("Optuna cannot prune a multi-objective study; drop --pruner")
    if engine == "optuna":
        pruner = "none" if sp.multi else (pruner or sp.search.pruner)
    elif pruner not in (None, "none"):
        raise ConfigError(f"--pruner is for the optuna engine; engine {engine} stops trials "
                          "early only through --algorithm hyperband")
    else:
        pruner = "none"
    from .catalog import PRUNERS

    if pruner not in PRUNERS:
        raise ConfigError(f"pruner '{pruner}' is unknown; use one of {', '.join(PRUNERS)}")
    if engine == "optuna" and algorithm == "grid":
        sp.grid()  # raises SpaceError when a param has no finite grid
    for name, value in (("trials", trials), ("epochs", epochs)):
        if value is not None and value < 1:
            raise ConfigError(f"--{name} must be >= 1, got {value}")
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"--timeout must be > 0 seconds, got {timeout}")
    n_trials = trials if trials is not None else (
        None if timeout or until_total else sp.search.trials)
    timeout = timeout if timeout is not None else sp.search.timeout
    seed = (sp.training.seed if seed is None else seed) + 7919 * worker_index
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    if dataset is None:
        src, path = _data_source(data, sp)
        d = sp.data
        dataset = load_dataset(src, path, val_fraction=d.val_fraction,
                               test_fraction=d.test_fraction, seed=sp.training.seed,
                               image_size=d.image_size, color_mode=d.color_mode,
                               base_dir=sp.base_dir if data is None else None, kind=d.kind,
                               label_column=d.label_column, channels=d.channels)
    # KerasTuner persists its algorithm with the study, Optuna does not: name them apart
    _check_families_fit(sp, dataset)
    study = study or (f"{sp.name}-{dataset.name}" if engine == "optuna"
                      else f"{sp.name}-{dataset.name}-{engine}-{algorithm}")
    _check_study_name(study)
    settings = TrialSettings(epochs=epochs or sp.training.epochs, patience=sp.training.patience,
                             objective=sp.primary, seed=seed,
                             max_params=sp.spec.constraints.max_params,
                             base_dir=str(sp.base_dir), threads=threads,
                             latency=sp.spec.latency.model_dump() if sp.measures_latency
                             else None)
    _check_files(sp, settings.base_dir)
    if timeout is not None:  # trials end in time for the study to close before the timeout
        settings.deadline = (time.time() if started is None else started) + timeout - CLOSING_S
    return _Plan(sp, dataset, study, engine, algorithm, pruner, seed, n_trials, timeout, settings,
                 patience_trials=patience_trials)


def auto_plan(data) -> tuple[Any, Any]:
    """The space picked for ``data`` (default digits) and the data, split as that space says."""
    from .autospace import SEED, SPLIT, DataProfile, auto_space
    from .data import load_dataset
    from .space import DataSettings, parse_space

    src, path = _data_source(data, None)
    d = DataSettings(**SPLIT)  # the split the auto space writes
    dataset = load_dataset(src, path, val_fraction=d.val_fraction,
                           test_fraction=d.test_fraction, seed=SEED, image_size=d.image_size,
                           color_mode=d.color_mode, base_dir=None, kind=d.kind,
                           label_column=d.label_column, channels=d.channels)
    sp = parse_space(auto_space(DataProfile.of(dataset), dataset.name), source=AUTO)
    return sp, dataset


def _warm_starts(plan: _Plan, storage: str, study: str | None, best: int):
    """What the study starts from; reads an earlier study (``study``) without writing."""
    from .autospace import DataProfile
    from .warmstart import WarmStart, from_space, from_study

    if best < 1:
        raise ConfigError(f"--warm-start-best must be >= 1, got {best}")
    if study is not None and study == plan.study:
        raise ConfigError(f"--warm-start {study} names the study being run; name an earlier "
                          "study, or drop --warm-start to resume this one")
    if plan.engine == "optuna" and plan.algorithm == "grid":
        if study is not None:
            raise ConfigError("the grid sampler tries every point once; drop --warm-start")
        return WarmStart()
    if study is not None:
        plan.warm_study = from_study(storage, study, plan.space,
                                     data_fingerprint=plan.dataset.fingerprint, best=best,
                                     engine=plan.engine)
    return from_space(plan.space, DataProfile.of(plan.dataset))


def _open(plan: _Plan, storage: str, tracking_uri: str, heartbeat: int | None = 60):
    """Open the tracking store, the study (created or resumed) and the study's parent run."""
    from .engines import make_engine
    from .tracking import Tracker

    sp, dataset, study = plan.space, plan.dataset, plan.study
    # constructing an engine checks its storage setting without writing anything
    engine = make_engine(plan.engine, space=sp, study_name=study, storage=storage,
                         algorithm=plan.algorithm, pruner=plan.pruner, seed=plan.seed,
                         direction=sp.direction, max_epochs=plan.trial.epochs,
                         heartbeat=heartbeat, directions=sp.directions)
    tracker = Tracker(tracking_uri)
    tracker.check()

    def on_dead(record, reason: str) -> None:  # a trial whose worker died: end its MLflow run
        run_id = record.attrs.get("mlflow_run_id")
        if run_id:
            try:
                tracker.end_trial(run_id, "FAIL", {}, reason)
            except Exception:  # its run may be gone; the study goes on
                pass

    engine.on_dead = on_dead
    info = engine.open()
    if not info.created:
        old = info.attrs.get("data_fingerprint")
        if old and old != dataset.fingerprint:
            raise ConfigError(f"study '{study}' was run on different data (fingerprint {old}, "
                              f"now {dataset.fingerprint}); use another --study name")
        if info.attrs.get("objective", sp.primary) != sp.primary:
            raise ConfigError(f"study '{study}' optimises {info.attrs['objective']}, the space "
                              f"asks for {sp.primary}; use another --study name")
    settings = {
        "space": sp.source, "space_name": sp.name, "data": dataset.name,
        "data_source": dataset.meta["source"], "n_train": len(dataset.train),
        "n_val": len(dataset.val), "n_test": len(dataset.test),
        "input_shape": "x".join(map(str, dataset.input_shape)), "classes": dataset.num_classes,
        "engine": plan.engine, "algorithm": plan.algorithm, "pruner": plan.pruner,
        "seed": plan.seed, "epochs": plan.trial.epochs, "patience": plan.trial.patience,
        "objective": plan.trial.objective, "direction": sp.direction, "storage": redact(storage),
        "objectives": ",".join(sp.objectives), "directions": ",".join(sp.directions),
        "constraints": ",".join(f"{k}<={v:g}" for k, v in sp.spec.constraints.limits().items())
        or "none",
    }
    from .data import describe

    parent = tracker.start_study(study, space_text=sp.text, settings=settings,
                                 parent_run_id=info.attrs.get("mlflow_parent_run_id"),
                                 data_spec=describe(dataset))
    for key, value in (("mlflow_parent_run_id", parent), ("mlflow_experiment_id",
                       tracker.experiment_id), ("data_fingerprint", dataset.fingerprint),
                       ("space_fingerprint", sp.fingerprint), ("objective", sp.primary),
                       ("data", dataset.name)):
        engine.set_study_attr(key, value)
    warm = _apply_warm_starts(plan, engine, info.created)
    best = engine.best() if not info.created or warm["history"] else None
    payload = {"study": study, "resumed": not info.created, "existing_trials": info.n_trials,
               "warm_start": warm, "trials": plan.n_trials, "timeout": plan.timeout,
               "settings": settings,
               "parent_run_id": parent,
               "best": None if best is None else {
                   "number": best.number, "value": best.value,
                   "test_accuracy": best.attrs.get("metrics", {}).get("test_accuracy")}}
    return tracker, engine, parent, payload


def _apply_warm_starts(plan: _Plan, engine, created: bool) -> dict:
    """Enqueue the warm starts (and add --warm-start's history) to the opened study."""
    from .warmstart import ORIGIN

    out: dict[str, Any] = {"enqueued": 0, "history": 0, "notes": []}
    ws = plan.warm_study
    if ws is not None and ws.history:
        if created:
            engine.add_history(ws.history)
            out["history"] = len(ws.history)
            out["notes"] += ws.notes
        else:
            out["notes"].append(f"warm start: study '{plan.study}' exists, its history is "
                                "not added again")
    sources = ([plan.warm] if created and plan.warm and not out["history"] else []) + \
        ([ws] if ws is not None and ws.enqueue else [])
    for w in sources:
        for params, source in w.enqueue:
            engine.enqueue(params, {"origin": ORIGIN, "warm_start": source})
            out["enqueued"] += 1
        if w is ws:
            out["notes"] += w.notes
    return out


class _TrialLoop:
    """What the engine calls for each sample: track, run, keep the best model, report."""

    def __init__(self, plan: _Plan, engine, tracker, runner, parent: str, emit: EventHook):
        self.plan, self.engine, self.tracker, self.runner = plan, engine, tracker, runner
        self.parent, self.emit = parent, emit
        self.new_trials = 0
        self.example = plan.dataset.test.x[:4]  # for the logged model's signature
        maximize = plan.space.direction == "maximize"
        self.better = (lambda a, b: a > b) if maximize else (lambda a, b: a < b)
        self.first_epoch_s: float | None = None  # the quickest first epoch seen, start-up in

    def keep_going(self) -> bool:
        """Whether to start another trial: time left for at least one epoch and the scoring
        (a trial would be cut off before it could be judged otherwise), and fewer than
        ``patience_trials`` trials in a row without a new best."""
        from .catalog import FINISHED
        from .train import SCORING_S

        deadline = self.plan.deadline
        if deadline is not None:
            need = SCORING_S + (self.first_epoch_s or 0.0)  # an epoch, then its scoring
            if deadline - time.time() < need:
                return False
        n = self.plan.patience_trials
        if n is not None:
            best = self.engine.best()
            if best is not None:
                after = [t for t in self.engine.trials() if t.number > best.number
                         and t.state in FINISHED]
                if len(after) >= n:
                    return False
        return True

    def evaluate(self, sample):
        from .engines import Outcome
        from .trial import COMPLETE

        self.new_trials += 1
        tracker, emit = self.tracker, self.emit
        prior = self.engine.best()
        run_id = tracker.start_trial(
            self.parent, self.plan.study, sample.number, sample.params,
            {"cnntune.engine": self.plan.engine, "cnntune.algorithm": self.plan.algorithm,
             "cnntune.max_epochs": str(sample.epochs or self.plan.trial.epochs),
             **({"cnntune.retry_of": str(sample.retry_of)} if sample.retry_of is not None
                else {}),
             **({"cnntune.origin": sample.origin} if sample.origin else {}),
             "cnntune.family": str(sample.params.get("family", "plain"))})
        sample.set_attr("mlflow_run_id", run_id)
        emit("trial_start", {"number": sample.number, "params": sample.params})
        t0 = time.perf_counter()

        def on_epoch(epoch: int, logs: dict) -> None:
            if epoch == 1:
                took = time.perf_counter() - t0
                self.first_epoch_s = min(took, self.first_epoch_s or took)
            tracker.log_epoch(run_id, epoch, logs)
            emit("epoch", {"number": sample.number, "epoch": epoch, "logs": logs})

        try:
            result = self.runner.run(sample.number, sample.params, report=sample.report,
                                     on_epoch=on_epoch, epochs=sample.epochs)
            result.metrics["trial_seconds"] = time.perf_counter() - t0
            sample.set_attr("metrics", result.metrics)
            constraints = self._constraints(result.metrics)
            feasible = all(v <= 0 for v in constraints.values())
            values = self._values(result)
            if result.state == COMPLETE and values is None:
                result.state, result.error = "FAIL", "an objective was not measured"
            is_best = result.state == COMPLETE and feasible and (
                prior is None or prior.value is None or self.better(result.value, prior.value))
            # several objectives: any feasible trial may sit on the Pareto front, so every
            # one keeps its model (export --pick chooses among them later)
            if is_best or (self.plan.space.multi and result.state == COMPLETE and feasible):
                self.runner.log_model(tracker, run_id, self.example)
                sample.set_attr("model_logged", True)
            self.runner.release()  # the worker frees it while we track and sample on
            if is_best:
                tracker.update_best(self.parent, sample.number, run_id, sample.params,
                                    result.metrics)
            extra = {}
            if constraints:
                extra["cnntune.feasible"] = str(feasible).lower()
                sample.set_attr("constraints", constraints)
            if result.skipped:
                sample.set_attr("skipped", result.skipped)
                extra["cnntune.skipped"] = result.skipped
            if result.stopped:
                sample.set_attr("stopped", result.stopped)
                extra["cnntune.stopped"] = result.stopped
            tracker.end_trial(run_id, result.state, result.metrics, result.error, tags=extra)
        except BaseException as exc:
            state = "FAIL" if isinstance(exc, Exception) else "INTERRUPTED"
            try:
                tracker.end_trial(run_id, state, {}, f"{type(exc).__name__}: {exc}")
            except Exception:  # the tracking store itself may be what failed
                pass
            raise
        emit("trial_end", {"number": sample.number, "state": result.state, "value": result.value,
                           "metrics": result.metrics, "error": result.error,
                           "stopped": result.stopped, "origin": sample.origin,
                           "params": sample.params, "best": is_best,
                           "seconds": time.perf_counter() - t0})
        died = result.state == "FAIL" and (result.error or "").startswith("trial worker died")
        return Outcome(state=result.state, value=result.value, error=result.error, retry=died,
                       values=values, constraints=constraints)

    def _constraints(self, metrics: dict) -> dict[str, float]:
        """constraint name -> measured minus limit (> 0: violated), for what was measured."""
        limits = self.plan.space.spec.constraints.limits()
        return {f"max_{name}": float(metrics[name]) - limit for name, limit in limits.items()
                if name in metrics}

    def _values(self, result) -> list[float] | None:
        if result.state != "COMPLETE":
            return None
        try:
            return [float(result.metrics[o]) for o in self.plan.space.objectives]
        except KeyError:
            return None


def _data_source(data, sp) -> tuple[str | None, str | None]:
    if data is None:
        return (sp.data.source, sp.data.path) if sp is not None else ("digits", None)
    from .catalog import EMBEDDED

    if str(data) in EMBEDDED:
        return str(data), None
    return None, str(data)


def _check_families_fit(sp, dataset) -> None:
    """Every family the space can pick takes the data's kind (images or sequences)."""
    from .models import SEQUENCE_FAMILIES

    fam = sp.params.get("family")
    for f in (fam.grid() if fam is not None else ["plain"]):
        wants = "sequence" if f in SEQUENCE_FAMILIES else "image"
        if wants != dataset.kind:
            raise ConfigError(f"space '{sp.source}' can pick family {f}, which needs "
                              f"{wants}s, but data '{dataset.name}' holds {dataset.kind}s; "
                              f"give {wants} data (--data) or drop {f} from the space")


def _check_files(sp, base_dir: str) -> None:
    """Every weights file a trial could be handed exists, before anything is written."""
    from .space import CategoricalParam, FixedParam
    from .trial import resolve_file_knob

    p = sp.params.get("backbone_weights")
    values = p.choices if isinstance(p, CategoricalParam) else \
        [p.value] if isinstance(p, FixedParam) else []
    for v in values:
        if v not in ("none", "imagenet") and not Path(resolve_file_knob(v, base_dir)).is_file():
            raise ConfigError(f"space '{sp.source}', param 'backbone_weights': file '{v}' not "
                              "found (relative paths: from here or the space file's folder); "
                              "give a weights file saved with model.save_weights, or none")


def _check_study_name(name: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", name):
        raise ConfigError(f"study name '{name}' is not allowed; use letters, digits, '.', '_' "
                          "and '-' (starting with a letter or digit)")


def _result(engine, study, storage, tracker, parent, sp, new_trials, elapsed) -> SearchResult:
    counts: dict[str, int] = {}
    for t in engine.trials():
        counts[t.state] = counts.get(t.state, 0) + 1
    rec = engine.best()
    best = None
    if rec is not None:
        best = TrialSummary(number=rec.number, state=rec.state, value=rec.value,
                            params=rec.params, metrics=dict(rec.attrs.get("metrics", {})),
                            run_id=rec.attrs.get("mlflow_run_id"),
                            model_logged=bool(rec.attrs.get("model_logged")))
        if best.value is not None and not math.isfinite(best.value):
            best = None
    return SearchResult(study=study, storage=redact(storage),
                        tracking_uri=redact(tracker.tracking_uri),
                        experiment_id=tracker.experiment_id, parent_run_id=parent,
                        objective=sp.primary, direction=sp.direction, best=best,
                        counts=counts, new_trials=new_trials, elapsed=elapsed)
