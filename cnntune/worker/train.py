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

from ..catalog import OBJECTIVES, Stop
from ..errors import TrialFailed
from ..formats.checkpoint import Keeper
from ..tasks import CLASSIFICATION, Task
from ..models import backbones
from .clock import TrialClock

Report = Callable[[int, float], bool]  # (epoch, objective value) -> should the trial stop?
EpochHook = Callable[[int, dict], None]  # (epoch, logs) -> None


@dataclass
class FitResult:
    history: dict[str, list[float]] = field(default_factory=dict)
    epochs_run: int = 0
    best_epoch: int = 0  # 1-based epoch whose weights the model holds
    pruned: bool = False
    fit_seconds: float = 0.0
    stopped: str | None = None  # why training ended before its epochs: a catalog.Stop
    passes: float | None = None  # passes over the training split, a check cut short counted


def make_optimizer(knobs: dict, decay_steps: int | None = None):
    """The optimizer the knobs ask for; with ``decay_steps`` and lr_schedule=cosine its
    learning rate follows a cosine decay to 1% over that many steps."""
    from keras import optimizers

    lr = knobs["learning_rate"]
    if knobs.get("lr_schedule") == "cosine" and decay_steps:
        lr = optimizers.schedules.CosineDecay(lr, decay_steps=decay_steps, alpha=0.01)
    name = knobs["optimizer"]
    # the weights' moving average (ema), which fit validates, keeps and ends with (uses_ema)
    ema = knobs.get("ema", 0.0)
    avg = {"use_ema": True, "ema_momentum": ema} if ema > 0 else {}
    if name == "adam":
        return optimizers.Adam(lr, **avg)
    if name == "adamw":
        return optimizers.AdamW(lr, weight_decay=knobs["weight_decay"], **avg)
    if name == "nadam":
        return optimizers.Nadam(lr, **avg)
    if name == "sgd":
        return optimizers.SGD(lr, momentum=knobs["momentum"], nesterov=knobs["momentum"] > 0,
                              **avg)
    if name == "rmsprop":
        return optimizers.RMSprop(lr, momentum=knobs["momentum"], **avg)
    raise ValueError(f"unknown optimizer {name!r}")


def compile_model(model, knobs: dict, train_ds, epochs: int | None, *,
                  task: Task = CLASSIFICATION, prep: dict | None = None,
                  again: bool = False) -> None:
    """Compile with the knobs' optimizer and schedule (cosine over ``epochs`` of ``train_ds``;
    ``epochs=None``: the caller schedules the learning rate) and the task's loss and metrics
    (``Task.compile_args``; ``prep``: the data's, for a regression's target scale). A model
    that arrives compiled (a user's builder or hypermodel compiled it) keeps its optimizer;
    ``again``: compiled here before (fine-tuning's phase two), it gets a new one."""
    steps = int(train_ds.cardinality()) if hasattr(train_ds, "cardinality") and epochs else -1
    loss, metrics = task.compile_args(knobs, prep or {})
    own = model.optimizer if getattr(model, "compiled", False) and not again else None
    with warnings.catch_warnings():  # "doesn't support jit_compile": model.jit_compile says
        warnings.simplefilter("ignore", UserWarning)
        model.compile(optimizer=own or make_optimizer(knobs, steps * epochs if steps > 0
                                                      and epochs else None),
                      loss=loss, metrics=metrics,
                      jit_compile=bool(knobs.get("jit_compile", False)))


def uses_ema(model) -> bool:
    """Whether ``model``'s optimizer keeps a moving average of the weights (the ema knob, or
    a user's own optimizer with use_ema)."""
    opt = getattr(model, "optimizer", None)
    return bool(getattr(getattr(opt, "inner_optimizer", opt), "use_ema", False))


def ema_swap(model) -> list:
    """The callback that puts the weights' moving average in the model whenever it is
    validated and at each epoch's end (so early stopping and the keeper keep the average's
    best, and fit ends holding it); none without one."""
    import keras

    return [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if uses_ema(model) else []


def phase_two(model, knobs: dict, train_ds, epochs: int | None, *, task: Task,
              prep: dict | None) -> float:
    """Two-phase fine-tuning's second phase, for fit and the final fit alike: the top of the
    backbone thawed (``backbones.thaw``), then compiled again with a new optimizer (Keras
    reads what trains when it compiles) at learning_rate x finetune_lr_factor, returned."""
    lr = knobs["learning_rate"] * knobs["finetune_lr_factor"]
    backbones.thaw(model, knobs)
    compile_model(model, {**knobs, "learning_rate": lr}, train_ds, epochs, task=task,
                  prep=prep, again=True)
    return lr


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
    first = backbones.first_phase(knobs)  # two-phase fine-tuning, as fit does it
    losses = model.fit(train_ds, epochs=first if 0 < first < epochs else epochs, verbose=0,
                       shuffle=False, callbacks=callbacks).history.get("loss", [])
    if 0 < first < epochs:
        phase_two(model, knobs, train_ds, epochs - first, task=task, prep=prep)
        losses += model.fit(train_ds, epochs=epochs - first, verbose=0, shuffle=False,
                            callbacks=callbacks).history.get("loss", [])
    if not losses or not all(math.isfinite(v) for v in losses):
        raise TrialFailed("training loss became non-finite in the final fit")
    return time.perf_counter() - t0


def cosine_lr(base: float, epoch: int, planned: int, alpha: float = 0.01) -> float:
    """Cosine decay by epoch: ``base`` in epoch 0, ``alpha * base`` in epoch ``planned - 1``."""
    if planned <= 1:
        return base
    t = min(epoch, planned - 1) / (planned - 1)
    return base * (alpha + (1 - alpha) * 0.5 * (1 + math.cos(math.pi * t)))


def fit(model, knobs: dict, train_ds, val_ds, *, epochs: int, patience: int, objective: str,
        report: Report | None = None, on_epoch: EpochHook | None = None,
        clock: TrialClock | None = None, keeper: Keeper | None = None,
        class_weight: dict[int, float] | None = None, val_split=None,
        task: Task = CLASSIFICATION, prep: dict | None = None, checks: int = 1) -> FitResult:
    """Train ``model`` in place for ``task`` (``prep``: the data's). Raises TrialFailed on a
    NaN/inf loss. ``clock`` (``TrialClock``) times the trial: with a budget, training stops
    in time for what follows it (``stopped = Stop.DEADLINE``), mid-check if need be, and the
    model keeps its best check's weights. ``keeper`` (``formats.checkpoint.Keeper``) keeps
    those weights on disk at each improvement, for a trial killed at the deadline.
    ``val_split`` (the validation arrays): the scores Keras does not measure
    (``Task.epoch_score``) are measured on it each epoch, before early stopping and pruning
    read the objective.

    ``checks`` > 1 (cnntune.checks): each of Keras' epochs is 1/checks of a pass over
    ``train_ds``, drawn from it repeated, so one pass continues where the last check ended;
    ``epochs``, ``patience``, the schedule, the reports and the history then count checks,
    and ``val_ds`` is the part of the validation split a check is scored on
    (``Dataset.check_split``)."""
    import keras

    mode = "max" if OBJECTIVES[objective] == "maximize" else "min"
    result = FitResult()
    phase_lr = [knobs["learning_rate"]]  # phase two's is lower (two-phase fine-tuning)
    clock = clock or TrialClock(epochs=epochs)
    cosine = knobs.get("lr_schedule") == "cosine"

    class _Hooks(keras.callbacks.Callback):
        # no batch-end hooks: Keras would sync every step for them and slow fit down; a
        # batch-begin hook only reads the clock
        async_safe = True
        started = val_started = 0.0

        def on_test_begin(self, logs=None):  # the validation pass inside fit
            self.val_started = time.time()

        def on_test_end(self, logs=None):
            clock.validated(time.time() - self.val_started)

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()
            if cosine:  # per epoch, so the plan can change when the deadline nears
                self.model.optimizer.learning_rate.assign(
                    cosine_lr(phase_lr[0], epoch, clock.planned))

        def on_train_batch_begin(self, batch, logs=None):
            clock.batch()
            if clock.past() and not self.model.stop_training:
                result.stopped = Stop.DEADLINE
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(
                self.model.optimizer.learning_rate))  # the scheduled value, for tracking
            if not math.isfinite(logs.get("loss", 0.0)):
                self.model.stop_training = True  # raised as TrialFailed after fit
                return
            if keeper is not None and stopper.best_epoch == epoch and \
                    stopper.best_weights is not None:  # a new best: kept on disk too
                keeper.keep(self.model, stopper.best_weights, epoch + 1, logs)
            if on_epoch is not None:
                on_epoch(epoch + 1, logs)
            if report is not None and objective in logs and report(epoch + 1, logs[objective]):
                result.pruned, result.stopped = True, Stop.PRUNED
                self.model.stop_training = True
            elif stopper.stopped_epoch and result.stopped is None:
                result.stopped = Stop.EARLY_STOPPING
            if self.model.stop_training:
                return
            if clock.replan(epoch + 1, time.time() - self.started) <= epoch + 1 < epochs:
                result.stopped = Stop.DEADLINE  # the next epoch would not finish in time
                self.model.stop_training = True

    class _Scores(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:  # Keras hands the same dict to the callbacks after this one
                logs.update(task.epoch_score(self.model, val_split, "val_"))

    class _Stopper(keras.callbacks.EarlyStopping):
        """Early stopping whose best so far and patience carry on from phase one into phase
        two (Keras' resets them in each fit)."""

        begun = False

        def on_train_begin(self, logs=None):
            if not self.begun:
                super().on_train_begin(logs)
                self.begun = True

    compile_model(model, knobs, train_ds, None if cosine else epochs, task=task, prep=prep)
    stopper = _Stopper(monitor=objective, mode=mode, patience=patience,
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
    clock.check_batches = steps or int(train_ds.cardinality())
    begun = clock.batches
    # two-phase fine-tuning: the head alone for phase one's checks, then the top of the
    # backbone too, at a lower learning rate (models.backbones)
    first = backbones.first_phase(knobs) * checks
    ends = [first, epochs] if 0 < first < epochs else [epochs]
    history: dict[str, list] = {}
    t0 = time.perf_counter()
    for phase, end in enumerate(ends):
        start = len(history.get("loss", []))
        if phase:
            if result.stopped not in (None, Stop.EARLY_STOPPING) or not all(
                    math.isfinite(v) for v in history.get("loss", [])):
                break
            result.stopped, stopper.wait, stopper.stopped_epoch = None, 0, 0
            phase_lr[0] = phase_two(model, knobs, train_ds, None if cosine else epochs,
                                    task=task, prep=prep)
        # the average's swap first, so what follows sees its weights (a phase's new optimizer
        # keeps a new average); a KerasTuner hypermodel's own fit, when it has one, calls
        # model.fit (models.builder)
        hist = getattr(model, "_cnntune_fit", model.fit)(
            train_ds, validation_data=val_ds, epochs=end, initial_epoch=start, verbose=0,
            shuffle=False, callbacks=[*ema_swap(model), *callbacks],
            class_weight=class_weight, steps_per_epoch=steps)
        for key, values in hist.history.items():
            history.setdefault(key, []).extend(values)
    result.fit_seconds = time.perf_counter() - t0
    if keeper is not None:
        keeper.wait()
    result.history = {k: [float(v) for v in vs] for k, vs in history.items()}
    losses = result.history.get("loss", [])
    if not losses or not all(math.isfinite(v) for v in losses):
        raise TrialFailed(f"training loss became {losses[-1] if losses else 'undefined'} "
                          f"in epoch {len(losses)}; the learning rate is probably too high")
    result.epochs_run = len(losses)
    result.passes = (clock.batches - begun) / (clock.check_batches * checks)
    result.best_epoch = (stopper.best_epoch + 1) if stopper.best_weights is not None \
        else result.epochs_run
    return result
