"""A search in this process: plan it (``plan``: everything checked before anything is
written), open it (``session``: the study, its MLflow parent run, its warm starts), then run
trials until the engine, the deadline or patience says stop, each tracked as a child run.
``workers > 1`` hands the study to ``parallel`` instead.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from ..catalog import DEFAULT_ENGINE, FINISHED, Direction, State, Stop
from ..errors import ConfigError
from ..tracking.links import run_url, ui_base
from . import devices
from .engines import abilities
from .options import AUTO, SearchOptions
from .plan import Plan, make_plan, warm_starts
from .session import SearchResult, TrialSummary, log_baselines_once, open_study, study_result

__all__ = ["AUTO", "SearchOptions", "SearchResult", "TrialSummary", "run", "search"]

# (kind, payload): study_start, baselines, trial_start, epoch (one per check), trial_end;
# study_end is written by the study worker (study_worker.py), not through this hook
EventHook = Callable[[str, dict], None]


def search(space: str | Path | None = AUTO, *, on_event: EventHook | None = None,
           **options) -> SearchResult:
    """Run (or resume) a study and return its best trial. ``options`` are ``SearchOptions``'
    fields (the CLI's options, ``-`` as ``_``), checked once, before anything is read.

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
    ``gpus`` (``all``, the default; ``none``; ids like ``0,2``) are the GPUs the workers train
    on, ``trials_per_gpu`` workers on each (``devices.py``); ``workers`` defaults to one per
    such slot, or 1 without GPUs. ``ray`` (an address, or ``auto``) places the workers on a
    Ray cluster instead (``ray_workers``); they share the study through ``storage``.

    Trials run in a worker process that is replaced every ``trials_per_worker`` trials
    (default ``worker.runner.TRIALS_PER_WORKER``), so memory stays bounded over long studies
    and a crashed worker fails only its trial;
    ``isolate=False`` runs them in this process (easier to debug; a crash ends the study).
    """
    return run(SearchOptions(space=space, **options), on_event)


def run(opts: SearchOptions, on_event: EventHook | None = None) -> SearchResult:
    """``search`` with its options made (and so checked) already: what the CLI, the
    estimators and each of several study workers call."""
    from ..worker.runner import TRIALS_PER_WORKER, InProcessRunner, WorkerProcess, WorkerRunner

    emit = on_event or (lambda kind, payload: None)
    t_start = time.perf_counter()
    # several study workers: on a Ray cluster, or processes here, one per GPU slot
    launcher = places = None
    workers = opts.workers
    if opts.ray is not None:
        from .ray_workers import on_cluster

        n, launcher = on_cluster(opts.ray, workers=workers, threads=opts.threads,
                                 gpus=opts.gpus, per_gpu=opts.trials_per_gpu,
                                 storage=opts.storage, tracking_uri=opts.tracking_uri)
        gpu = launcher.gpus
    else:
        visible = devices.visible_gpus()
        chosen = devices.choose(opts.gpus, visible)
        if workers is None and len(chosen) * opts.trials_per_gpu > 1 and \
                not abilities(_engine_of(opts)).shares_study:
            workers = 1  # a KerasTuner study belongs to one process: it takes the first GPU
        places = devices.slots(chosen, workers, opts.trials_per_gpu)
        n, gpu = len(places), places[0] is not None
        if n > 1:
            from .parallel import LocalWorkers

            launcher = LocalWorkers([devices.worker_env(s, visible) for s in places])
    if launcher is not None:
        if opts.warm_start is not None or opts.patience_trials is not None:
            raise ConfigError("--warm-start and --patience-trials are for one worker; start "
                              "the study with them first, then add --workers")
        from .parallel import search_workers

        return search_workers(n, opts, launcher=launcher, on_event=on_event, gpu=gpu)
    env = devices.worker_env(places[0], visible)  # in-process trials run where this process does
    # the first trial worker loads TensorFlow while this process checks and opens everything
    first = WorkerProcess(env) if opts.isolate else None
    try:
        plan = make_plan(opts, gpu=gpu)
        plan.warm = warm_starts(plan, opts.storage, opts.warm_start, opts.warm_start_best)
        tracker, engine, parent, payload = open_study(plan, opts.storage, opts.tracking_uri,
                                                      heartbeat=opts.heartbeat)
    except BaseException:
        if first is not None:
            first.kill()
        raise
    payload["total_trials"] = opts.total_trials
    emit("study_start", payload)
    runner = WorkerRunner(plan.dataset, plan.trial, opts.tracking_uri,
                          trials_per_worker=opts.trials_per_worker or TRIALS_PER_WORKER,
                          spare=first, env=env) if opts.isolate \
        else InProcessRunner(plan.dataset, plan.trial)
    loop = _TrialLoop(plan, engine, tracker, runner, parent, emit, devices.node_of(os.environ))
    try:
        engine.run(loop.evaluate, n_trials=plan.n_trials, total=opts.total_trials,
                   budget=plan.budget,
                   keep_going=loop.keep_going)
    except BaseException:
        tracker.end_study(parent, "KILLED")
        raise
    finally:
        runner.close()
    if opts.baselines:
        log_baselines_once(plan, tracker, parent, emit)
    tracker.end_study(parent, "FINISHED")
    return study_result(engine, plan.study, opts.storage, tracker, parent, plan.space,
                        loop.new_trials, time.perf_counter() - t_start, cut=loop.cut,
                        advice=loop.advice)


def _engine_of(opts: SearchOptions) -> str:
    """The engine a search will use, read before its data is loaded."""
    if opts.engine:
        return opts.engine
    from ..space import load_space

    if opts.auto:  # the auto space searches with the spaces' default engine
        return DEFAULT_ENGINE
    return load_space(opts.space).search.engine


class _TrialLoop:
    """What the engine calls for each sample: track, run, keep the best model, report."""

    def __init__(self, plan: Plan, engine, tracker, runner, parent: str, emit: EventHook,
                 node: str = ""):
        self.plan, self.engine, self.tracker, self.runner = plan, engine, tracker, runner
        self.node = node  # the machine this study's trials train on (devices.node_of)
        self.parent, self.emit = parent, emit
        self.new_trials = 0
        # a few inputs, for the logged model's signature
        self.example = plan.dataset.test.images(range(min(4, len(plan.dataset.test))))
        self.direction = Direction(plan.space.direction)
        self.first_epoch_s: float | None = None  # the quickest first epoch seen, start-up in
        # the trials of this run cut at the deadline: {number, state, epochs, unscored}
        self.cut: list[dict] = []
        self.advice: str | None = None  # why the last trial killed at the deadline kept nothing

    def keep_going(self) -> bool:
        """Whether to start another trial: time left for its first check and logging it (a
        trial would be cut off before it could be judged otherwise), and fewer than
        ``patience_trials`` trials in a row without a new best."""
        from ..worker.clock import MARGIN_S, Costs

        budget = self.plan.budget
        if budget is not None:
            need = MARGIN_S + Costs.log_s + (self.first_epoch_s or 0.0)
            if budget.left() < need:
                if not self.new_trials:  # the time went before the first trial could start
                    from ..worker.runner import round_up

                    spent = budget.elapsed()
                    self.advice = (f"--timeout {budget.seconds:g} was spent before the first "
                                   f"trial could start ({spent:.0f} s loading the data and "
                                   f"opening the study); give --timeout >= "
                                   f"{round_up(spent + 60)}")
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

        self.new_trials += 1
        tracker, emit = self.tracker, self.emit
        prior = self.engine.best()
        t = self.plan.trial
        try:  # where it trains, as the worker that will train it reads its own environment
            device = self.runner.ready()
        except Exception:  # a worker that cannot start fails the trial in run(), as ever
            device = "unknown"
        run_id = tracker.start_trial(
            # the device also as a param: the UI compares and plots params, not tags
            self.parent, self.plan.study, sample.number,
            {**sample.params, "cnntune.device": device},
            {"cnntune.engine": self.plan.engine, "cnntune.algorithm": self.plan.algorithm,
             "cnntune.max_epochs": f"{(sample.steps or t.max_checks) / t.checks:g}",
             **({"cnntune.retry_of": str(sample.retry_of)} if sample.retry_of is not None
                else {}),
             **({"cnntune.origin": sample.origin} if sample.origin else {}),
             "cnntune.family": "own" if self.plan.space.own_model
             else str(sample.params.get("family", "plain")),
             "cnntune.device": device, "cnntune.node": self.node})
        sample.set_attr("mlflow_run_id", run_id)
        # optuna-dashboard shows user attributes: the link to the trial's run
        sample.set_attr("mlflow_run", run_url(ui_base(tracker.tracking_uri),
                                              tracker.experiment_id, run_id))
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
                                     on_epoch=on_epoch, steps=sample.steps)
            result.metrics["trial_seconds"] = time.perf_counter() - t0
            sample.set_attr("metrics", result.metrics)
            constraints = self._constraints(result.metrics)
            feasible = all(v <= 0 for v in constraints.values())
            values = self._values(result)
            if result.state == State.COMPLETE and values is None:
                result.state, result.error = State.FAIL, "an objective was not measured"
            is_best = result.state == State.COMPLETE and feasible and (
                prior is None or self.direction.better(result.value, prior.value))
            # several objectives: any feasible trial may sit on the Pareto front, so every
            # one keeps its model (export --pick chooses among them later)
            if is_best or (self.plan.space.multi and result.state == State.COMPLETE and feasible):
                # the model, or the weights a trial killed at the deadline kept
                sample.set_attr("model_logged",
                                self.runner.log_model(tracker, run_id, self.example))
            self.runner.release()  # the worker frees it while we track and sample on
            if result.confusion is not None:
                from ..worker.confusion import confusion_png

                names = self.plan.dataset.class_names
                tracker.log_confusion(run_id, result.confusion, names, confusion_png(
                    result.confusion, names, f"trial {sample.number}: test split"))
            if result.decision:  # what the test figures were decided by (thresholds)
                tracker.log_decision(run_id, result.decision, self.plan.dataset.class_names)
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
            if result.unscored:
                sample.set_attr("unscored", list(result.unscored))
                extra["cnntune.unscored"] = ",".join(result.unscored)
            tracker.end_trial(run_id, result.state, result.metrics, result.error, tags=extra)
        except BaseException as exc:
            state = State.FAIL if isinstance(exc, Exception) else State.INTERRUPTED
            try:
                tracker.end_trial(run_id, state, {}, f"{type(exc).__name__}: {exc}")
            except Exception:  # the tracking store itself may be what failed
                pass
            raise
        if result.stopped == Stop.DEADLINE or result.unscored:
            self.cut.append({"number": sample.number, "state": str(result.state),
                             "epochs": result.metrics.get("epochs"),
                             "unscored": list(result.unscored)})
            if result.state == State.FAIL:
                self.advice = result.error
        emit("trial_end", {"number": sample.number, "state": result.state, "value": result.value,
                           "metrics": result.metrics, "error": result.error,
                           "stopped": result.stopped, "unscored": list(result.unscored),
                           "origin": sample.origin, "params": sample.params, "best": is_best,
                           "seconds": time.perf_counter() - t0})
        if result.builder_failed and prior is None and self.new_trials == 1:
            from ..errors import BuilderError

            raise BuilderError(f"{result.error}; that was the study's first configuration, so "
                               "the search stopped: fix the builder and run again")
        return Outcome(state=result.state, value=result.value, error=result.error,
                       retry=result.retry,
                       values=values, constraints=constraints)

    def _constraints(self, metrics: dict) -> dict[str, float]:
        """constraint name -> measured minus limit (> 0: violated), for what was measured."""
        limits = self.plan.space.spec.constraints.limits()
        return {f"max_{name}": float(metrics[name]) - limit for name, limit in limits.items()
                if name in metrics}

    def _values(self, result) -> list[float] | None:
        if result.state != State.COMPLETE:
            return None
        try:
            return [float(result.metrics[o]) for o in self.plan.space.objectives]
        except KeyError:
            return None


