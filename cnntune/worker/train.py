"""Compile and fit one model: optimizer from the knobs, early stopping with the best weights
restored, a per-epoch hook for tracking and a per-epoch ``report(epoch, value) -> bool`` for
pruning. Knows nothing about engines or MLflow.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

from ..catalog import OBJECTIVES
from ..errors import TrialFailed
from ..tasks import CLASSIFICATION, Task

Report = Callable[[int, float], bool]  # (epoch, objective value) -> should the trial stop?
EpochHook = Callable[[int, dict], None]  # (epoch, logs) -> None


@dataclass
class FitResult:
    history: dict[str, list[float]] = field(default_factory=dict)
    epochs_run: int = 0
    best_epoch: int = 0  # 1-based epoch whose weights the model holds
    pruned: bool = False
    fit_seconds: float = 0.0
    stopped: str | None = None  # why training ended before its epochs: a catalog.STOP_REASONS


def make_optimizer(knobs: dict, decay_steps: int | None = None):
    """The optimizer the knobs ask for; with ``decay_steps`` and lr_schedule=cosine its
    learning rate follows a cosine decay to 1% over that many steps."""
    from keras import optimizers

    lr = knobs["learning_rate"]
    if knobs.get("lr_schedule") == "cosine" and decay_steps:
        lr = optimizers.schedules.CosineDecay(lr, decay_steps=decay_steps, alpha=0.01)
    name = knobs["optimizer"]
    if name == "adam":
        return optimizers.Adam(lr)
    if name == "adamw":
        return optimizers.AdamW(lr, weight_decay=knobs["weight_decay"])
    if name == "nadam":
        return optimizers.Nadam(lr)
    if name == "sgd":
        return optimizers.SGD(lr, momentum=knobs["momentum"], nesterov=knobs["momentum"] > 0)
    if name == "rmsprop":
        return optimizers.RMSprop(lr, momentum=knobs["momentum"])
    raise ValueError(f"unknown optimizer {name!r}")


def compile_model(model, knobs: dict, train_ds, epochs: int | None, *,
                  task: Task = CLASSIFICATION, prep: dict | None = None) -> None:
    """Compile with the knobs' optimizer and schedule (cosine over ``epochs`` of ``train_ds``;
    ``epochs=None``: the caller schedules the learning rate) and the task's loss and metrics
    (``Task.compile_args``; ``prep``: the data's, for a regression's target scale)."""
    steps = int(train_ds.cardinality()) if hasattr(train_ds, "cardinality") and epochs else -1
    loss, metrics = task.compile_args(knobs, prep or {})
    with warnings.catch_warnings():  # "doesn't support jit_compile": model.jit_compile says
        warnings.simplefilter("ignore", UserWarning)
        model.compile(optimizer=make_optimizer(knobs, steps * epochs if steps > 0 and epochs
                                               else None),
                      loss=loss, metrics=metrics,
                      jit_compile=bool(knobs.get("jit_compile", False)))


def fit_final(model, knobs: dict, train_ds, *, epochs: int, task: Task = CLASSIFICATION,
              prep: dict | None = None) -> float:
    """Train for a fixed number of epochs with no validation data (a final fit on
    train + validation): a plateau schedule watches the training loss. Returns seconds."""
    import keras

    compile_model(model, knobs, train_ds, epochs, task=task, prep=prep)
    callbacks = []
    if knobs.get("lr_schedule") == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor="loss", factor=0.5, patience=2, min_lr=knobs["learning_rate"] / 100,
            verbose=0))
    t0 = time.perf_counter()
    hist = model.fit(train_ds, epochs=epochs, verbose=0, shuffle=False, callbacks=callbacks)
    losses = hist.history.get("loss", [])
    if not losses or not all(math.isfinite(v) for v in losses):
        raise TrialFailed("training loss became non-finite in the final fit")
    return time.perf_counter() - t0


SCORING_S = 4.0  # what a fit keeps back before a deadline, besides the validations


class _Clock:
    """When a fit must end, and how many epochs fit before then.

    ``deadline`` is a wall-clock time (``time.time()``) by which the trial must be done,
    scored and logged; training ends ``reserve()`` seconds before it. What is left to do
    then: the validation of the epoch cut short, restoring the best weights, ``scoring``
    validations' worth of predictions (the test split, and with several checks a pass the
    whole validation split too, each in units of the validation fit runs), a new traced
    function (~1-2 s on 2 cores) and logging the model. So the reserve is ``SCORING_S`` plus
    1.5 + ``scoring`` validations (the last one measured; before the first, a quarter of the
    training time so far). After each epoch the number of epochs that still fit is
    replanned from the last epoch's duration, so that a cosine schedule decays to its end
    within the time, and no epoch is started that cannot finish."""

    def __init__(self, epochs: int, deadline: float | None, scoring: float = 1.0):
        self.epochs, self.deadline, self.scoring = epochs, deadline, scoring
        self.planned = epochs  # the epochs the schedule decays over
        self.epoch_seconds = 0.0
        self.val_seconds: float | None = None  # the last validation pass
        self.started = time.time()

    def reserve(self) -> float:
        val = self.val_seconds if self.val_seconds is not None else \
            0.25 * (time.time() - self.started)
        return SCORING_S + (1.5 + self.scoring) * val

    def past(self) -> bool:
        return self.deadline is not None and time.time() > self.deadline - self.reserve()

    def replan(self, done: int, seconds: float) -> int:
        """After ``done`` epochs, the last taking ``seconds``: the epochs planned in all."""
        self.epoch_seconds = seconds
        if self.deadline is not None and seconds > 0:
            left = self.deadline - self.reserve() - time.time()
            self.planned = max(done, min(self.epochs, done + int(left // seconds)))
        return self.planned


def cosine_lr(base: float, epoch: int, planned: int, alpha: float = 0.01) -> float:
    """Cosine decay by epoch: ``base`` in epoch 0, ``alpha * base`` in epoch ``planned - 1``."""
    if planned <= 1:
        return base
    t = min(epoch, planned - 1) / (planned - 1)
    return base * (alpha + (1 - alpha) * 0.5 * (1 + math.cos(math.pi * t)))


def fit(model, knobs: dict, train_ds, val_ds, *, epochs: int, patience: int, objective: str,
        report: Report | None = None, on_epoch: EpochHook | None = None,
        deadline: float | None = None, class_weight: dict[int, float] | None = None,
        val_split=None, task: Task = CLASSIFICATION, prep: dict | None = None,
        checks: int = 1, scoring: float = 1.0) -> FitResult:
    """Train ``model`` in place for ``task`` (``prep``: the data's). Raises TrialFailed on a
    NaN/inf loss. With a ``deadline`` (wall-clock seconds) training stops in time to score
    the model before it, keeping the best epoch's weights (``stopped = "deadline"``).
    ``val_split`` (the validation arrays): the scores Keras does not measure
    (``Task.epoch_score``) are measured on it each epoch, before early stopping and pruning
    read the objective.

    ``checks`` > 1 (cnntune.checks): each of Keras' epochs is 1/checks of a pass over
    ``train_ds``, drawn from it repeated, so one pass continues where the last check ended;
    ``epochs``, ``patience``, the schedule, the reports and the history then count checks,
    and ``val_ds`` is the part of the validation split a check is scored on
    (``Dataset.check_split``).

    ``scoring``: the predictions made after training, before the deadline, as a multiple
    of one validation pass over ``val_ds`` (``_Clock``)."""
    import keras

    mode = "max" if OBJECTIVES[objective] == "maximize" else "min"
    result = FitResult()
    clock = _Clock(epochs, deadline, scoring)
    cosine = knobs.get("lr_schedule") == "cosine"

    class _Hooks(keras.callbacks.Callback):
        # no batch-end hooks: Keras would sync every step for them and slow fit down; a
        # batch-begin hook only reads the clock
        async_safe = True
        started = val_started = 0.0

        def on_test_begin(self, logs=None):  # the validation pass inside fit
            self.val_started = time.time()

        def on_test_end(self, logs=None):
            clock.val_seconds = time.time() - self.val_started

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()
            if cosine:  # per epoch, so the plan can change when the deadline nears
                self.model.optimizer.learning_rate.assign(
                    cosine_lr(knobs["learning_rate"], epoch, clock.planned))

        def on_train_batch_begin(self, batch, logs=None):
            if clock.past() and not self.model.stop_training:
                result.stopped = "deadline"
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(
                self.model.optimizer.learning_rate))  # the scheduled value, for tracking
            if not math.isfinite(logs.get("loss", 0.0)):
                self.model.stop_training = True  # raised as TrialFailed after fit
                return
            if on_epoch is not None:
                on_epoch(epoch + 1, logs)
            if report is not None and objective in logs and report(epoch + 1, logs[objective]):
                result.pruned, result.stopped = True, "pruned"
                self.model.stop_training = True
            elif stopper.stopped_epoch and result.stopped is None:
                result.stopped = "early_stopping"
            if self.model.stop_training:
                return
            if clock.replan(epoch + 1, time.time() - self.started) <= epoch + 1 < epochs:
                result.stopped = "deadline"  # the next epoch would not finish in time
                self.model.stop_training = True

    class _Scores(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:  # Keras hands the same dict to the callbacks after this one
                logs.update(task.epoch_score(self.model, val_split, "val_"))

    compile_model(model, knobs, train_ds, None if cosine else epochs, task=task, prep=prep)
    stopper = keras.callbacks.EarlyStopping(monitor=objective, mode=mode, patience=patience,
                                            restore_best_weights=True)
    callbacks = [stopper, _Hooks()]  # hooks last: they see what the others decided
    if val_split is not None:
        callbacks.insert(0, _Scores())
    if knobs.get("lr_schedule") == "plateau":
        callbacks.insert(0, keras.callbacks.ReduceLROnPlateau(
            monitor=objective, mode=mode, factor=0.5, patience=max(1, patience // 2),
            min_lr=knobs["learning_rate"] / 100, verbose=0))
    steps = None
    if checks > 1:  # the pipeline runs on across Keras' epochs (its iterator is kept)
        steps = -(-int(train_ds.cardinality()) // checks)
        train_ds = train_ds.repeat()
    t0 = time.perf_counter()
    hist = model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0, shuffle=False,
                     callbacks=callbacks, class_weight=class_weight, steps_per_epoch=steps)
    result.fit_seconds = time.perf_counter() - t0
    result.history = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    losses = result.history.get("loss", [])
    if not losses or not all(math.isfinite(v) for v in losses):
        raise TrialFailed(f"training loss became {losses[-1] if losses else 'undefined'} "
                          f"in epoch {len(losses)}; the learning rate is probably too high")
    result.epochs_run = len(losses)
    result.best_epoch = (stopper.best_epoch + 1) if stopper.best_weights is not None \
        else result.epochs_run
    return result
