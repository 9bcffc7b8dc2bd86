"""A study opened for a run, and what it returns: the engine, the tracking store and the
study's MLflow parent run (created or resumed, with its warm starts applied), the baselines
logged once beside the trials, and the ``SearchResult`` read back when the run ends. Shared by
``study`` and ``parallel``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..catalog import DEFAULT_TASK, State
from ..errors import ConfigError
from ..tracking.stores import redact
from .plan import Plan


@dataclass
class TrialSummary:
    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    metrics: dict[str, float]
    run_id: str | None
    # its model was logged: True or "model"; "checkpoint": the weights it kept when it was
    # cut at the deadline (export, report and explain build its model from them)
    model_logged: bool | str = False
    unscored: tuple[str, ...] = ()  # what it could not score before the deadline

    @property
    def model_uri(self) -> str | None:
        """``runs:/<run id>/model`` when this trial's model was logged, else None."""
        from ..tracking.runs import model_uri

        return model_uri(self.run_id) if self.run_id and self.model_logged and \
            not self.kept else None

    @property
    def kept(self) -> bool:
        """Whether its run holds the weights it kept at the deadline, not a Keras model."""
        from ..formats.checkpoint import ARTIFACT_PATH

        return self.model_logged == ARTIFACT_PATH


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
    task: str = DEFAULT_TASK  # catalog.TASKS
    # the trials this run cut at the deadline: {number, state, epochs, unscored}
    cut: list[dict] = field(default_factory=list)
    advice: str | None = None  # with no complete trial: what --timeout would hold one

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best.params) if self.best else {}


def open_study(plan: Plan, storage: str, tracking_uri: str, heartbeat: int | None = 60):
    """Open the tracking store, the study (created or resumed) and the study's parent run."""
    from .engines import make_engine
    from ..tracking.runs import Tracker

    sp, dataset, study = plan.space, plan.dataset, plan.study
    # constructing an engine checks its storage setting without writing anything
    engine = make_engine(plan.engine, space=sp, study_name=study, storage=storage,
                         algorithm=plan.algorithm, pruner=plan.pruner, seed=plan.seed,
                         direction=sp.direction, max_steps=plan.trial.max_checks,
                         heartbeat=heartbeat, directions=sp.directions)
    engine.check()  # both stores are checked before either is written to
    tracker = Tracker(tracking_uri)
    tracker.check()

    def on_dead(record, reason: str) -> None:  # a trial whose worker died: end its MLflow run
        run_id = record.attrs.get("mlflow_run_id")
        if run_id:
            try:
                tracker.end_trial(run_id, State.FAIL, {}, reason)
            except Exception:  # its run may be gone; the study goes on
                pass

    engine.on_dead = on_dead
    info = engine.open()
    if not info.created:
        old = info.attrs.get("data_fingerprint")
        if old and old != dataset.fingerprint:
            raise ConfigError(f"study '{study}' was run on different data (fingerprint {old}, "
                              f"now {dataset.fingerprint}); use another --study name")
        checks = int(info.attrs.get("checks_per_epoch", plan.trial.checks))
        if checks != plan.trial.checks:  # the pruner's steps would mean two things
            raise ConfigError(f"study '{study}' checks its trials {checks} time(s) a pass over "
                              f"the training split, this run {plan.trial.checks}; set "
                              f"training.checks_per_epoch: {checks}, or use another --study "
                              "name")
        if info.attrs.get("objective", sp.primary) != sp.primary:
            raise ConfigError(f"study '{study}' optimises {info.attrs['objective']}, the space "
                              f"asks for {sp.primary}; use another --study name")
    settings = {
        "space": sp.source, "space_name": sp.name, "task": sp.spec.task, "data": dataset.name,
        "data_source": dataset.meta["source"], "n_train": len(dataset.train),
        "n_val": len(dataset.val), "n_test": len(dataset.test),
        "input_shape": "x".join(map(str, dataset.input_shape)), "classes": dataset.num_classes,
        "engine": plan.engine, "algorithm": plan.algorithm, "pruner": plan.pruner,
        "seed": plan.seed, "epochs": plan.trial.epochs, "patience": plan.trial.patience,
        "checks_per_epoch": plan.trial.checks,
        "objective": plan.trial.objective, "direction": sp.direction, "storage": redact(storage),
        "class_weight": str(sp.training.class_weight),
        "folds": sp.training.folds or "none",
        "splits": dataset.describe_splits(),
        "data_storage": dataset.meta.get("storage", "in memory"),
        "skipped_files": len(dataset.skipped),  # unreadable; listed in data.json
        "objectives": ",".join(sp.objectives), "directions": ",".join(sp.directions),
        "constraints": ",".join(f"{k}<={v:g}" for k, v in sp.spec.constraints.limits().items())
        or "none",
    }
    from ..data import describe

    from ..tracking.links import trials_view_tags

    searched = [n for n in sp.order if len(sp.params[n].options() or (0, 1)) > 1]
    parent = tracker.start_study(study, space_text=sp.text, settings=settings,
                                 parent_run_id=info.attrs.get("mlflow_parent_run_id"),
                                 data_spec=describe(dataset),
                                 experiment_tags=trials_view_tags(sp.primary, sp.direction,
                                                                  searched, sp.task.headline))
    for key, value in (("mlflow_parent_run_id", parent), ("mlflow_experiment_id",
                       tracker.experiment_id), ("data_fingerprint", dataset.fingerprint),
                       ("space_fingerprint", sp.fingerprint), ("objective", sp.primary),
                       ("data", dataset.name), ("checks_per_epoch", plan.trial.checks)):
        engine.set_study_attr(key, value)
    warm = apply_warm_starts(plan, engine, info.created)
    best = engine.best() if not info.created or warm["history"] else None
    payload = {"study": study, "resumed": not info.created, "existing_trials": info.n_trials,
               "data_note": dataset.skipped_note(),
               "warm_start": warm, "trials": plan.n_trials, "timeout": plan.timeout,
               # when --timeout runs out (the last trial ends CLOSING_S before, to close up)
               "ends_at": None if plan.budget is None else plan.budget.ends,
               "settings": settings,
               "experiment_id": tracker.experiment_id,
               "parent_run_id": parent,
               "best": None if best is None else {
                   "number": best.number, "value": best.value,
                   "test": best.attrs.get("metrics", {}).get(f"test_{sp.task.headline}")}}
    return tracker, engine, parent, payload


def apply_warm_starts(plan: Plan, engine, created: bool) -> dict:
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


def log_baselines_once(plan, tracker, parent: str, emit) -> None:
    """Classical baselines on the study's splits, logged beside its trials (once a study)."""
    from .baselines import run_baselines

    if tracker.baselines():
        return
    results = run_baselines(plan.dataset, seed=plan.seed)
    tracker.log_baselines(parent, plan.study, results)
    emit("baselines", {"results": results})


def study_result(engine, study, storage, tracker, parent, sp, new_trials,
                 elapsed, cut: list[dict] | None = None,
                 advice: str | None = None) -> SearchResult:
    """The study as this run leaves it: trials by state, its best, where it is tracked; also
    written as the study's description in MLflow (``tracking.notes``)."""
    from ..tracking.notes import study_line, study_note

    counts = State.count(t.state for t in engine.trials())
    rec = engine.best()
    best = None
    if rec is not None:
        best = TrialSummary(number=rec.number, state=rec.state, value=rec.value,
                            params=rec.params, metrics=dict(rec.attrs.get("metrics", {})),
                            run_id=rec.attrs.get("mlflow_run_id"),
                            model_logged=rec.attrs.get("model_logged") or False,
                            unscored=tuple(rec.attrs.get("unscored") or ()))
        if best.value is not None and not math.isfinite(best.value):
            best = None
    result = SearchResult(study=study, storage=redact(storage),
                          tracking_uri=redact(tracker.tracking_uri),
                          experiment_id=tracker.experiment_id, parent_run_id=parent,
                          objective=sp.primary, direction=sp.direction, best=best,
                          counts=counts, new_trials=new_trials, elapsed=elapsed,
                          task=sp.spec.task, cut=list(cut or []),
                          advice=advice if best is None else None)
    tracker.describe_study(parent, study_note(result, tracker.baselines()), study_line(result))
    return result
