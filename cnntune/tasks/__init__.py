"""What a study learns to predict, and everything that follows from it.

A ``Task`` owns, for its kind of target: how targets are read from a source and checked
(``targets``), how they are grouped so that splits and folds hold each part of their range
(``strata``), what the model's last layer and loss are (``output``, ``compile_args``), which
figures a trial is judged and scored by (``figures``, ``score``), how an export is verified
against the Keras model (``compare``), what ``predict`` prints (``rows``) and which
classical baselines fit it. Everything else asks the task rather than its name.

Its names and objectives are ``catalog.TASKS`` / ``catalog.TASK_OBJECTIVES``. Pure Python and
numpy at import: TensorFlow, Keras and scikit-learn are imported where a method needs them.

One module per task (``classification``, ``regression``, ``multilabel``, ``segmentation``),
their base (``_base``), the scores they share (``scores``) and the Keras objects they add to a
model (``keras_objects``).
"""

from __future__ import annotations

from typing import Any

from ..catalog import TASKS
from ._base import (INT8_MAX_DROP, TOLERANCE, VOID, Task, Verification, predictions,
                    probability_check)
from .classification import Classification
from .keras_objects import regression_loss, standardised_loss
from .multilabel import LABEL_SEPARATORS, THRESHOLDS, Multilabel, fit_thresholds
from .regression import Regression
from .scores import class_iou, class_scores, confusion, label_scores, mask_scores, scored_loss
from .segmentation import PIXEL_AGREEMENT, Segmentation, labelled_pixels

_TASKS: dict[str, Task] = {t.name: t for t in (Classification(), Regression(), Multilabel(),
                                                Segmentation())}
assert tuple(_TASKS) == TASKS, "catalog.TASKS and tasks._TASKS name the same tasks"
CLASSIFICATION = _TASKS["classification"]


def task(name: str | Task | None) -> Task:
    """The task called ``name`` (None: classification, what studies before tasks were)."""
    if isinstance(name, Task):
        return name
    return _TASKS[name or "classification"]


def all_test_figures() -> tuple[str, ...]:
    """Every task's test figures, for the columns and summaries that show any study."""
    return tuple(dict.fromkeys(f"test_{f}" for t in _TASKS.values() for f in t.figures))


def test_figures(model, data, knobs: dict) -> tuple[dict[str, float], Any, dict]:
    """Every test figure of a trained ``model`` on ``data`` (a Dataset), from one pass over
    its test split: (figures named test_<figure>, the confusion matrix or None, the decision
    they were made by: ``Task.decide`` on the validation split)."""
    task = data.task
    preds = predictions(model, data.test)
    decision = task.decide(model, data.val)
    figures = task.score(model, data.test.y, preds, "test_", knobs, data.prep, decision,
                         data.class_names)
    return figures, task.confusion(data.test.y, preds, data.num_classes), decision


__all__ = ["CLASSIFICATION", "INT8_MAX_DROP", "LABEL_SEPARATORS", "PIXEL_AGREEMENT", "THRESHOLDS",
           "TOLERANCE", "VOID", "Classification", "Multilabel", "Regression", "Segmentation",
           "Task", "Verification", "all_test_figures", "class_iou", "class_scores",
           "confusion", "fit_thresholds", "label_scores", "labelled_pixels", "mask_scores",
           "predictions", "probability_check", "regression_loss", "scored_loss",
           "standardised_loss", "task", "test_figures"]
