"""One model fit on one split, the part of a trial that k-fold cross-validation repeats per
fold (``folds``) and a whole trial runs once (``trial``): the settings a trial runs with, the
model its params build, its training on the split and its validation figures.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..budget import Budget
from .. import knobs as knob_defs
from ..data import Dataset
from ..errors import TrialFailed
from ..tasks import predictions
from .clock import TrialClock
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
    """What the training pipeline does to each batch (None: nothing; the rest of the
    augmentation is inside the model): a segmentation's moves each mask with its image
    (``Task.per_pixel``); MixUp and CutMix mix examples and their labels (the tasks that read
    them refuse them otherwise: ``Task.knobs``)."""
    from ..models.augment import mixing, paired_augmentation

    if data.task.per_pixel:
        return paired_augmentation(knobs)
    return mixing(knobs)


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
