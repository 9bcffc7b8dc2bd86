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
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..budget import Budget
from ..catalog import State
from .. import knobs as knob_defs
from ..data import Dataset
from ..errors import BuilderFailed, TrialFailed
from ..tasks import predictions, test_figures
from .clock import Costs, TrialClock
from .train import EpochHook, FitResult, Report, fit


@dataclass
class TrialSettings:
    epochs: int
    patience: int
    objective: str  # one of catalog.OBJECTIVES
    seed: int
    class_weight: dict[int, float] | None = None  # class index -> weight in the loss
    max_params: int | None = None  # bigger models are skipped before training
    base_dir: str | None = None  # relative file knobs (backbone_weights) resolve against it
    own_model: Any = None  # a user's model (space.ModelSettings), or None: the families
    threads: int | None = None  # TensorFlow threads (intra-op) for this worker; None: all cores
    latency: dict | None = None  # measure latency/size (space.latency settings) when set
    budget: Budget | None = None  # --timeout: trials are over by its trials_end
    folds: int | None = None  # k-fold cross-validation over train + val (training.folds)
    checks: int = 1  # checks per pass over the training split (cnntune.checks)
    steps: int | None = None  # the checks this trial may train for, when the engine sets it
    checkpoint: str | None = None  # a folder the trial keeps its best weights in (runner's)

    @property
    def max_checks(self) -> int:
        """The checks a trial trains for at most: the engine's budget, else all its epochs'."""
        return self.steps if self.steps is not None else self.epochs * self.checks


@dataclass
class TrialResult:
    state: str
    value: float | None = None  # the objective (best epoch's), None when failed
    metrics: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None
    skipped: str | None = None  # why a PRUNED trial never trained (a constraint's name)
    stopped: str | None = None  # why training ended before its epochs (catalog.STOP_REASONS)
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


def build_trial_model(params: dict[str, Any], data: Dataset, base_dir: str | None,
                      own=None):
    """(knobs, the untrained Keras model) that a trial with ``params`` trains: the one path
    from params to a model, shared by the search and the export's retraining; ``own``: a
    user's model (``space.ModelSettings``, built by ``models.builder``) instead of cnntune's
    families. Raises TrialFailed when the model cannot be built for the data's input
    (BuilderFailed: the builder's fault)."""
    from ..models import build_model

    knobs = knob_defs.resolve(params)
    knobs["backbone_weights"] = resolve_file_knob(knobs["backbone_weights"], base_dir)
    try:
        with precision(knobs["mixed_precision"]):
            if own is not None:
                from ..models import builder

                model = builder.build(own, params, knobs, data.input_shape, data.num_classes,
                                      data.prep, data.task, base_dir)
                if getattr(model, "compiled", False):  # its own optimizer, and its schedule
                    knobs["lr_schedule"] = "constant"
                return knobs, model
            return knobs, build_model(knobs, data.input_shape, data.num_classes, data.prep,
                                      data.task)
    except (ValueError, FileNotFoundError) as exc:
        raise TrialFailed(f"model cannot be built for input {data.input_shape}: "
                          f"{str(exc).splitlines()[0]}") from None


@contextmanager
def precision(mixed: bool):
    """Layers built in the block compute in float16 (Keras' ``mixed_float16`` policy: float32
    weights, and compile wraps the optimizer in loss scaling) when ``mixed``."""
    if not mixed:
        yield
        return
    import keras

    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def resolve_file_knob(value: str, base_dir: str | None) -> str:
    """A file-path knob: as given when it exists (or is a keyword), else relative to
    ``base_dir`` (the space file's folder) when it exists there."""
    from pathlib import Path

    if value in ("none", "imagenet") or base_dir is None or Path(value).exists():
        return value
    candidate = Path(base_dir) / value
    return str(candidate) if candidate.exists() else value


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
                               skipped="max_params", stopped="max_params",
                               error=f"skipped before training: {n_params:,} params > "
                                     f"max_params {settings.max_params:,}")
        clock = TrialClock(settings.budget, epochs=settings.max_checks,
                           check_rows=len(data.check_split(settings.checks)),
                           scoring_rows=scoring_rows(data), batch_size=knobs["batch_size"],
                           costs=costs, latency=settings.latency is not None, started=started,
                           notify=on_progress)
        if settings.folds:
            from .folds import fit_folds

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
        return TrialResult(state=State.FAIL, stopped="oom", error=(
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


def fit_split(model, knobs: dict, data: Dataset, settings: TrialSettings, *, number: int,
              report: Report | None, on_epoch: EpochHook | None,
              clock: TrialClock | None = None, keeper=None) -> FitResult:
    """Train ``model`` on ``data.train``, validated on ``data.val`` at every check (scored
    by the task when Keras does not measure the objective: ``Task.epoch_scores``), for the
    trial's checks, with early stopping's patience in checks too; ``clock`` and ``keeper``
    as ``train.fit`` takes them."""
    bs = knobs["batch_size"]
    one_hot = data.task.one_hot(knobs, data.num_classes)
    augment = pipeline_augmentation(knobs, data)
    val = data.check_split(settings.checks)
    return fit(model, knobs,
               data.train.pipeline(bs, training=True, seed=settings.seed + number,
                                   one_hot=one_hot, augment=augment),
               val.pipeline(bs, training=False, seed=0, one_hot=one_hot),
               epochs=settings.max_checks, checks=settings.checks,
               patience=settings.patience * settings.checks, objective=settings.objective,
               report=report, on_epoch=on_epoch, clock=clock, keeper=keeper,
               class_weight=settings.class_weight,
               val_split=val if data.task.epoch_scores(settings.objective) else None,
               task=data.task, prep=data.prep)


def scoring_rows(data: Dataset) -> int:
    """The examples a trial predicts once fit has ended (``TrialClock.scoring_rows``): the
    whole validation split (its figures on all of it, ``val_metrics``; a multi-label model's
    thresholds, ``Task.decides``) and the test split."""
    return len(data.val) * (1 + data.task.decides) + len(data.test)


def pipeline_augmentation(knobs: dict, data: Dataset):
    """The augmentation the training pipeline applies (None: it is inside the model): a
    segmentation's moves each mask with its image (``Task.per_pixel``)."""
    if not data.task.per_pixel:
        return None
    from ..models.augment import paired_augmentation

    return paired_augmentation(knobs)


def val_metrics(model, fitted: FitResult, data: Dataset, settings: TrialSettings,
                knobs: dict, *, whole: bool = True) -> dict[str, float]:
    """The best epoch's training and validation figures (``Task.figures``), and those the
    task scores from predictions where fit did not measure them each epoch (the model holds
    the best epoch's weights then; a pruned trial is not scored further).

    With several checks a pass, fit validated on a part of the validation split
    (``Dataset.check_split``): the trial's validation figures, its objective among them, are
    then scored here on the whole split, once. ``whole=False`` (no time left for it): the
    best check's figures only."""
    best = fitted.best_epoch - 1
    task = data.task
    metrics = {key: fitted.history[key][best]
               for key in (*(f"val_{f}" for f in task.figures), *task.figures)
               if key in fitted.history and len(fitted.history[key]) > best}
    if fitted.pruned or not whole:
        return metrics
    if settings.checks > 1:
        val = {f"val_{f}" for f in task.figures}
        metrics.update({k: v for k, v in task.score(
            model, data.val.y, predictions(model, data.val), "val_", knobs, data.prep,
            {}, data.class_names).items() if k in val})
    elif not task.epoch_scores(settings.objective):
        metrics.update(task.epoch_score(model, data.val, "val_"))
    return metrics
