"""One trial: sampled params + data -> model -> fit -> scored TrialResult.

The engine hands in the params and a ``report`` callable for pruning; the runner takes the
model out of the result (``take_model``) and decides whether it is logged. Before each build
the Keras session is cleared and what earlier trials left in TensorFlow is released
(``release_earlier_trials``).
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass, field
from typing import Any

from ..catalog import State, Stop
from ..data import Dataset
from ..errors import BuilderFailed, TrialFailed
from ..tasks import test_figures
from .clock import Costs, TrialClock
from .fitting import (TrialSettings, build_trial_model, fit_split, scoring_rows,
                      val_metrics)
from .folds import fit_folds
from .train import EpochHook, Report

__all__ = ["TrialResult", "TrialSettings", "build_trial_model", "release_earlier_trials",
           "run_trial"]


@dataclass
class TrialResult:
    state: str
    value: float | None = None  # the objective (best epoch's), None when failed
    metrics: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None
    skipped: str | None = None  # why a PRUNED trial never trained (a constraint's name)
    stopped: str | None = None  # why training ended before its epochs (catalog.Stop)
    # what a trial cut at the deadline could not score in time (catalog.UNSCORED)
    unscored: tuple[str, ...] = ()
    kept: str | None = None  # the checkpoint folder a killed trial's model is in
    builder_failed: bool = False  # a user's builder failed (errors.BuilderFailed)
    retry: bool = False  # the worker died under it: worth one more try in a fresh worker
    confusion: list[list[int]] | None = None  # the test split's (COMPLETE only): true x pred
    decision: dict = field(default_factory=dict)  # Task.decide's (COMPLETE only): thresholds
    model: Any = None  # the trained Keras model (COMPLETE only), until a runner takes it

    def take_model(self) -> Any:
        """Detach the model (so the result can be sent or kept without it) and return it."""
        model, self.model = self.model, None
        return model


def release_earlier_trials(*, freeze: bool = False) -> None:
    """Free what the models of earlier trials left behind, before the next one is built.

    Clears the Keras session, then drops TensorFlow's dead gradient registrations: every
    traced train/test step registers a "CustomGradient-N" function in a process-wide registry
    (Keras reduces the step's outputs with a tf.distribute all-reduce that has a custom
    gradient) and TensorFlow never removes it; each holds its whole step graph, so a process
    grew ~10 MB a trial (measured: 9.8 -> 0.4 MB a trial over 30 digits trials with this).
    No earlier trial's step is traced again, so their registrations are dead. Then one full
    collection (clear_session's own would make it two).

    ``freeze`` (trial workers): what survives that collection lives as long as the process
    (TensorFlow, Keras, the data, caches the first trial filled), so it is moved out of the
    collector's sight. Without it every full collection walks all of TensorFlow's objects again
    and takes longer as the worker ages (overhead per one-epoch digits trial 0.13 s -> 0.47 s
    over 40 trials, measured); memory growth is the same.
    """
    import keras

    keras.backend.clear_session(free_memory=False)
    try:
        from tensorflow.python.framework import ops

        registry = ops._gradient_registry._registry
        for name in [n for n in registry if n.startswith("CustomGradient-")]:
            del registry[name]
    except (ImportError, AttributeError):  # another TensorFlow layout: nothing to drop
        pass
    gc.collect()
    if freeze:
        gc.freeze()


def run_trial(params: dict[str, Any], data: Dataset, settings: TrialSettings, *, number: int = 0,
              report: Report | None = None, on_epoch: EpochHook | None = None,
              freeze: bool = False, release: bool = True,
              costs: Costs | None = None, on_progress=None) -> TrialResult:
    """Build, train and score one model. Failures come back as a FAIL result, not an exception.
    ``release_earlier_trials(freeze=freeze)`` comes first unless ``release`` is False (a
    trial worker that already did it while the study was busy between trials). With
    ``settings.folds`` the model is trained once per fold (``folds.fit_folds``).

    With a budget, the trial's ``TrialClock`` stops training in time, and after it scores
    only what still fits: the validation figures on the whole split (else the best check's,
    ``unscored`` "val"), the test figures (else "test", scored later from the model) and
    latency (else "latency"). ``costs``: what the worker measured of its earlier trials;
    ``on_progress(dict)``: told how training goes every few seconds (``TrialClock``)."""
    import keras
    import tensorflow as tf

    started = time.time()
    if release:
        release_earlier_trials(freeze=freeze)
    keras.utils.set_random_seed(settings.seed + number)
    unscored: list[str] = []
    try:
        knobs, model = build_trial_model(params, data, settings.base_dir, settings.own_model)
        n_params = model.count_params()
        if settings.max_params and n_params > settings.max_params:
            return TrialResult(state=State.PRUNED, metrics={"n_params": float(n_params)},
                               skipped=Stop.MAX_PARAMS, stopped=Stop.MAX_PARAMS,
                               error=f"skipped before training: {n_params:,} params > "
                                     f"max_params {settings.max_params:,}")
        clock = TrialClock(settings.budget, epochs=settings.max_checks,
                           check_rows=len(data.check_split(settings.checks)),
                           scoring_rows=scoring_rows(data), batch_size=knobs["batch_size"],
                           costs=costs, latency=settings.latency is not None, started=started,
                           notify=on_progress)
        if settings.folds:
            model, fitted, metrics = fit_folds(params, model, knobs, data, settings,
                                               number=number, report=report,
                                               on_epoch=on_epoch, clock=clock)
            scoring = (time.time(), clock.scoring_cost())
        else:
            keeper = None
            if settings.checkpoint is not None:
                from ..formats.checkpoint import Keeper

                keeper = Keeper(settings.checkpoint)
            fitted = fit_split(model, knobs, data, settings, number=number, report=report,
                               on_epoch=on_epoch, clock=clock, keeper=keeper)
            scoring = (time.time(), clock.scoring_cost())  # began; planned to take
            whole = clock.fits(clock.validation_cost(len(data.val)))
            metrics = val_metrics(model, fitted, data, settings, knobs, whole=whole)
            if not whole and settings.checks > 1 and not fitted.pruned:
                unscored.append("val")  # its validation figures are its best check's
    except TrialFailed as exc:
        return TrialResult(state=State.FAIL, error=str(exc),
                           builder_failed=isinstance(exc, BuilderFailed))
    except tf.errors.ResourceExhaustedError as exc:  # a device out of memory, as Keras raises it
        return TrialResult(state=State.FAIL, stopped=Stop.OOM, error=(
            f"out of GPU memory (OOM) with batch_size {params.get('batch_size', 'default')}: "
            f"{str(exc).strip().splitlines()[0][:300]}; the study goes on (a smaller batch or "
            "model fits, or fewer --trials-per-gpu)"))

    hist = fitted.history
    if knobs["jit_compile"]:  # asked for XLA: whether Keras could compile this model
        metrics["jit_compiled"] = float(getattr(model, "jit_compile", False) is True)
    # in passes over the training split: with several checks a pass, fractions of one
    epochs = fitted.epochs_run / settings.checks if settings.folds or fitted.passes is None \
        else fitted.passes  # a check cut short by the deadline counts for what it trained
    metrics.update(n_params=float(model.count_params()), fit_seconds=fitted.fit_seconds,
                   epochs=epochs, best_epoch=min(fitted.best_epoch / settings.checks, epochs))
    if fitted.pruned:  # the value pruning saw last: the epoch's, or the folds' mean so far
        value = metrics.get(settings.objective) if settings.folds else \
            hist.get(settings.objective, [math.nan])[-1]
        return TrialResult(state=State.PRUNED, value=value, metrics=metrics, history=hist,
                           stopped=fitted.stopped)
    # the model now holds the best epoch's weights, whose validation scores fit already
    # measured (in the metrics above); the test split is scored here, once, if it fits
    matrix, decision = None, {}
    test_rows = len(data.test) + (len(data.val) if data.task.decides else 0)
    if clock.fits(clock.validation_cost(test_rows)):
        figures, matrix, decision = test_figures(model, data, knobs)
        metrics.update(figures)
    else:
        unscored.append("test")
    if settings.latency is not None:  # deployment objectives or constraints: same method
        if clock.fits(clock.costs.latency_s):
            from .latency import measure

            t0 = time.time()
            metrics.update(measure(model, data.test.images([0]), **settings.latency))
            clock.costs.latency_s = time.time() - t0
        else:
            unscored.append("latency")
    # what the scoring after fit took, against what the clock planned for it when fit ended
    metrics.update(scoring_seconds=time.time() - scoring[0], scoring_planned_seconds=scoring[1])
    value = metrics[settings.objective]
    if not math.isfinite(value):
        return TrialResult(state=State.FAIL, error=f"{settings.objective} is {value}",
                           metrics=metrics, history=hist)
    return TrialResult(state=State.COMPLETE, value=value, metrics=metrics, history=hist,
                       model=model, stopped=fitted.stopped, confusion=matrix,
                       decision=decision, unscored=tuple(unscored))
