"""The Keras objects tasks add to a model's compile: the standardised regression loss and the
segmentation metric, made when first needed (no Keras import at import time).
"""

from __future__ import annotations

import functools

import numpy as np

from ..catalog import REGRESSION_LOSSES

from ._base import VOID


def standardised_loss(kind: str, std):
    """A regression's loss: ``kind`` (mse, mae, or Huber with delta 1) of the prediction's
    error divided by the training targets' standard deviation ``std``, so each target weighs
    the same whatever its scale and the gradients are those of a standardised fit. (A Keras
    class made when first needed: this module imports no Keras at import time. Trial models
    are logged without their compile settings, so it is never deserialised.)"""
    return _loss_class()(kind, std)


def regression_loss(kind: str, z, xp):
    """A regression loss (catalog.REGRESSION_LOSSES) per value of standardised errors ``z``,
    in ``xp``'s arithmetic: numpy when a model is scored, keras.ops inside training."""
    a = xp.abs(z)
    if kind == "mse":
        return z * z
    if kind == "mae":
        return a
    if kind == "huber":  # delta 1
        return xp.where(a <= 1.0, 0.5 * z * z, a - 0.5)
    raise ValueError(f"unknown regression loss {kind!r}; choose one of "
                     f"{', '.join(REGRESSION_LOSSES)}")


@functools.cache
def _loss_class():
    import keras
    from keras import ops

    class StandardisedLoss(keras.losses.Loss):
        def __init__(self, kind="mse", std=(1.0,), name="standardised_loss", **kwargs):
            regression_loss(kind, np.zeros(1), np)  # an unknown kind fails here, not in fit
            super().__init__(name=name, **kwargs)
            self.kind, self.std = kind, [float(s) for s in std]

        def call(self, y_true, y_pred):
            std = ops.convert_to_tensor(self.std, dtype=y_pred.dtype)
            z = (y_pred - ops.cast(y_true, y_pred.dtype)) / std
            return ops.mean(regression_loss(self.kind, z, ops), axis=-1)

        def get_config(self):
            return {**super().get_config(), "kind": self.kind, "std": self.std}

    return StandardisedLoss


@functools.cache
def _segmentation_metric():
    import keras
    from keras import ops

    class SegmentationScore(keras.metrics.Metric):
        """Mean IoU or Dice over the classes present in the truth or the prediction, from
        class ``first`` on (1: the background left out), or the pixel accuracy, from a pixel
        confusion matrix summed over the epoch (sparse truth, class probabilities; ``VOID``
        pixels left out)."""

        def __init__(self, classes=2, kind="iou", first=0, name="mean_iou", **kwargs):
            super().__init__(name=name, **kwargs)
            self.classes, self.kind, self.first = int(classes), kind, int(first)
            self.cm = self.add_variable(shape=(self.classes, self.classes), initializer="zeros",
                                        name="cm", dtype="float32")

        def update_state(self, y_true, y_pred, sample_weight=None):
            t = ops.reshape(ops.cast(y_true, "int32"), (-1,))
            labelled = t != VOID  # void pixels count nowhere
            t = ops.where(labelled, t, 0)
            p = ops.reshape(ops.argmax(y_pred, axis=-1), (-1,))
            idx = t * self.classes + ops.cast(p, "int32")
            counts = ops.bincount(idx, weights=ops.cast(labelled, "float32"),
                                  minlength=self.classes * self.classes)
            self.cm.assign_add(ops.reshape(ops.cast(counts, "float32"),
                                           (self.classes, self.classes)))

        def result(self):
            if self.kind == "accuracy":  # of every labelled pixel
                return ops.sum(ops.diagonal(self.cm)) / ops.maximum(ops.sum(self.cm), 1.0)
            tp = ops.diagonal(self.cm)[self.first:]
            total = (ops.sum(self.cm, axis=0) + ops.sum(self.cm, axis=1))[self.first:]
            seen = ops.cast(total > 0, "float32")
            denom = total - tp if self.kind == "iou" else total
            score = (tp if self.kind == "iou" else 2 * tp) / ops.maximum(denom, 1.0)
            return ops.sum(score * seen) / ops.maximum(ops.sum(seen), 1.0)

        def reset_state(self):
            self.cm.assign(ops.zeros_like(self.cm))

        def get_config(self):
            return {**super().get_config(), "classes": self.classes, "kind": self.kind,
                    "first": self.first}

    return SegmentationScore
