"""The figures tasks score predictions by: per label, per class, the loss as Keras counts it,
confusion matrices, IoU; and how rare strata are found.
"""

from __future__ import annotations

import math

import numpy as np



def label_scores(y, pred, prefix: str) -> dict[str, float]:
    """Macro F1 and balanced accuracy of predicted labels, named ``prefix + name``: what any
    classifier (a CNN trial, a baseline) is measured by beside accuracy."""
    from sklearn.metrics import balanced_accuracy_score, f1_score

    return {f"{prefix}macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
            f"{prefix}balanced_accuracy": float(balanced_accuracy_score(y, pred))}


def class_scores(y, probs, prefix: str) -> dict[str, float]:
    """``label_scores`` and one-vs-rest AUC of class probabilities ``probs`` for labels ``y``,
    named ``prefix + name`` (``catalog.CLASS_SCORES``); AUC is left out when a class is
    missing from ``y``."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    out = label_scores(y, probs.argmax(1), prefix)
    if len(np.unique(y)) == probs.shape[1]:
        p = probs / probs.sum(1, keepdims=True).clip(min=1e-12)
        out[f"{prefix}auc"] = float(roc_auc_score(y, p[:, 1]) if p.shape[1] == 2 else
                                    roc_auc_score(y, p, multi_class="ovr", average="macro"))
    return out


def scored_loss(model, y, probs, smoothing: float = 0.0) -> float:
    """The loss ``model.evaluate`` reports, from predicted ``probs`` instead of a second pass
    over the data: the mean cross-entropy (Keras' clipping, ``smoothing`` as the loss has it)
    plus the model's weight penalties."""
    eps = 1e-7  # keras.config.epsilon(), as Keras' crossentropy clips
    p = np.clip(probs / probs.sum(1, keepdims=True), eps, 1 - eps)
    y = np.asarray(y)
    if smoothing > 0:
        k = p.shape[1]
        target = np.full(p.shape, smoothing / k)
        target[np.arange(len(y)), y] += 1 - smoothing
        ce = -(target * np.log(p)).sum(1)
    else:
        ce = -np.log(p[np.arange(len(y)), y])
    penalty = sum(float(np.asarray(loss)) for loss in model.losses)
    return float(ce.mean() + penalty)


def confusion(y, pred, n: int) -> np.ndarray:
    """Counts of (true class, predicted class): an n x n integer matrix."""
    cm = np.zeros((n, n), dtype=int)
    np.add.at(cm, (np.asarray(y), np.asarray(pred)), 1)
    return cm


def _label_values(y) -> np.ndarray:
    """Class labels as one value per example: a one-hot row becomes its column."""
    y = np.asarray(y)
    return (y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y).reshape(-1)


def _accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    return float((np.asarray(probs).argmax(axis=1) == y).mean()) if len(y) else float("nan")


def rarest_strata(present: np.ndarray) -> np.ndarray:
    """Integer groups of examples by their rarest present column of ``present`` (examples
    with none: a group of their own); groups under 3 examples join the largest."""
    present = np.asarray(present, bool)
    freq = present.sum(axis=0)
    rank = np.where(present, freq[None, :], np.inf)
    group = np.where(present.any(axis=1), rank.argmin(axis=1), present.shape[1])
    _, group, counts = np.unique(group, return_inverse=True, return_counts=True)
    small = counts < 3
    if small.any():
        group = np.where(small[group], counts.argmax(), group)
    return np.unique(group, return_inverse=True)[1].astype("int64")


def class_iou(cm: np.ndarray) -> np.ndarray:
    """Per class: true positives / (truth + prediction - true positives); NaN where a class
    is in neither."""
    cm = np.asarray(cm, "float64")
    tp = np.diag(cm)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mask_scores(cm: np.ndarray) -> dict[str, float]:
    """Mean IoU and Dice over the classes in the truth or the prediction (fg_: class 0, the
    background, left out), and pixel accuracy, of a pixel confusion matrix."""
    cm = np.asarray(cm, "float64")
    tp = np.diag(cm)
    total = cm.sum(axis=0) + cm.sum(axis=1)
    seen = total > 0
    iou = class_iou(cm)
    dice = np.where(seen, 2 * tp / np.where(seen, total, 1), np.nan)

    def mean(v, first=0):
        return float(np.nanmean(v[first:])) if seen[first:].any() else math.nan

    return {"mean_iou": mean(iou), "dice": mean(dice), "fg_mean_iou": mean(iou, 1),
            "fg_dice": mean(dice, 1),
            "pixel_accuracy": float(tp.sum() / cm.sum()) if cm.sum() else math.nan}
