"""The names cnntune knows, each written once: everything else (the space schema, the engines,
the CLI's choices, the messages) reads them from here, with the two small types that own what
the names mean: ``Direction`` (which value is better, which trial is best) and ``State``.
Standard library only, so the CLI can offer them without loading anything."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, Callable, Iterable, TypeVar

T = TypeVar("T")

ENGINES = ("optuna", "kerastuner")
DEFAULT_ENGINE = ENGINES[0]  # also the engine of studies that predate the engine setting
# Optuna's samplers, its default first; nsgaii is for several objectives
SAMPLERS = ("tpe", "random", "grid", "cmaes", "qmc", "nsgaii")
PRUNERS = ("none", "median", "hyperband", "asha")
# each engine's search algorithms, its default first (optuna calls them samplers)
ALGORITHMS = {"optuna": SAMPLERS, "kerastuner": ("bayesian", "random", "hyperband")}


class Direction(StrEnum):
    """Which way an objective improves; owns every "is this better" and "which is best"."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"

    @property
    def sign(self) -> int:
        """+1 or -1: ``sign * value`` is larger for better values."""
        return 1 if self is Direction.MAXIMIZE else -1

    def better(self, value: float, than: float | None) -> bool:
        """Whether ``value`` strictly beats ``than`` (anything beats None)."""
        return than is None or self.sign * value > self.sign * than

    def best(self, items: Iterable[T], value: Callable[[T], Any],
             number: Callable[[T], int]) -> T | None:
        """The item with the best finite value, the earliest (lowest number) among ties;
        None when no item has a finite value."""
        scored = [(v, i) for i in items if (v := value(i)) is not None and math.isfinite(v)]
        if not scored:
            return None
        return max(scored, key=lambda vi: (self.sign * vi[0], -number(vi[1])))[1]


# what a study learns to predict: one class per example (classification), one or more
# numbers (regression), a set of labels, none or several per example (multilabel), or a class
# per pixel (segmentation). Each task's objectives are what one trial is judged by, per epoch
# on the validation split (so early stopping and pruning can use it), with the way each
# improves; the task's default objective comes first. The class-balanced scores are for
# imbalanced data: macro F1, balanced accuracy (mean recall over classes), AUC (one class
# against the rest, averaged); each is also measured on the test split as test_<name>.
# Regression: mean absolute error, root mean squared error, R^2 (averaged over the outputs),
# in the targets' own units.
# Multi-label: F1 over every (example, label) decision (micro) or averaged over the labels
# (macro), at a 0.5 threshold per epoch; AUC per label, averaged. Segmentation (a class per
# pixel): IoU and Dice per class, averaged over the classes present (fg_: the background,
# class 0, left out), and pixel accuracy.
TASK_OBJECTIVES = {
    "classification": {"val_accuracy": "maximize", "val_loss": "minimize",
                       "val_macro_f1": "maximize", "val_balanced_accuracy": "maximize",
                       "val_auc": "maximize"},
    "regression": {"val_rmse": "minimize", "val_mae": "minimize", "val_r2": "maximize",
                   "val_loss": "minimize"},
    "multilabel": {"val_micro_f1": "maximize", "val_macro_f1": "maximize", "val_auc": "maximize",
                   "val_loss": "minimize"},
    "segmentation": {"val_mean_iou": "maximize", "val_dice": "maximize",
                     "val_fg_mean_iou": "maximize", "val_fg_dice": "maximize",
                     "val_pixel_accuracy": "maximize", "val_loss": "minimize"},
}
TASKS = tuple(TASK_OBJECTIVES)
DEFAULT_TASK = TASKS[0]  # a space, a study or an estimator that names none
OBJECTIVES = {name: way for objs in TASK_OBJECTIVES.values() for name, way in objs.items()}
# the loss of a regression (on standardised targets)
REGRESSION_LOSSES = ("mse", "mae", "huber")
CLASS_SCORES = ("macro_f1", "balanced_accuracy", "auc")  # computed from predictions, not Keras
# how training weighs the classes: none, balanced (inverse frequency), or {class: weight}
CLASS_WEIGHTS = ("none", "balanced")
# what a multi-objective space may optimise: the validation metric plus deployment costs
ALL_OBJECTIVES = {**OBJECTIVES, "n_params": "minimize", "latency_ms": "minimize",
                  "size_mb": "minimize"}
# where a trial's params came from (the cnntune.origin tag); absent: the sampler
ORIGINS = ("warm-start", "retry")


class Stop(StrEnum):
    """Why a trial's training ended before its epoch budget (the cnntune.stopped tag; equal
    to its value as a string). OOM: the GPU ran out of memory (the trial fails; the study
    goes on); MAX_PARAMS: the model was over the space's max_params and never trained."""

    EARLY_STOPPING = "early_stopping"
    PRUNED = "pruned"
    DEADLINE = "deadline"
    MAX_PARAMS = "max_params"
    OOM = "oom"


STOP_REASONS = tuple(Stop)
# what a trial cut at the deadline could not score before it (the cnntune.unscored tag, comma
# separated): val - its validation figures are its best check's, measured on that check's part
# of the validation split; test - it has no test figures (best, report and export score them
# from its model); latency - its latency and size were not measured
UNSCORED = ("val", "test", "latency")


class State(StrEnum):
    """A trial's state as cnntune reports and tags it (equal to its name as a string).
    INTERRUPTED: the search was stopped under it; BASELINE: a classical model logged beside
    the trials."""

    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAIL = "FAIL"
    RUNNING = "RUNNING"
    WAITING = "WAITING"
    INTERRUPTED = "INTERRUPTED"
    BASELINE = "BASELINE"

    @staticmethod
    def count(states: Iterable[str]) -> dict[str, int]:
        """state name -> how many, for the states that occur."""
        out: dict[str, int] = {}
        for s in states:
            out[str(s)] = out.get(str(s), 0) + 1
        return out


# the states `cnntune trials --state` filters on
STATES = tuple(s.value for s in State if s is not State.INTERRUPTED)
FINISHED = (State.COMPLETE, State.PRUNED, State.FAIL)  # a trial in one of these is over
# data: the embedded sets (by name, with the task each is for), and every source a space's
# data.source may name
EMBEDDED = {"digits": "classification", "waveforms": "classification", "discs": "regression",
            "tags": "multilabel", "scenes": "segmentation"}
FILE_SOURCES = ("npz", "csv", "folder")  # read from a path the user gives
DATA_SOURCES = (*EMBEDDED, *FILE_SOURCES)
# data.in_memory: keep decoded images in memory, or store them on disk (auto: by size)
IN_MEMORY = ("auto", "true", "false")
# export
FORMATS = ("keras", "savedmodel", "tflite", "onnx")
QUANTIZE = ("none", "float16", "int8")
EXPLAIN_METHODS = ("gradcam", "saliency")
