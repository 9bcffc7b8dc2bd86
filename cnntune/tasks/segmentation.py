"""Segmentation: a class per pixel, scored by IoU and Dice over the classes present.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import DataError, NotApplicable

from ._base import figures_of, INT8_MAX_DROP, VOID, Task, Verification
from .keras_objects import _segmentation_metric
from .scores import class_iou, confusion, mask_scores, rarest_strata


class Segmentation(Task):
    """A class for every pixel: masks of class indices, 0..classes-1, the size of their
    images. A 1x1 softmax convolution over the decoder's last feature map (only families
    with a decoder: ``models.DECODER_FAMILIES``); sparse cross-entropy; scored by the mean
    IoU and Dice over the classes (each counted where it is in the truth or the prediction),
    per epoch from a pixel confusion matrix, and the pixel accuracy. Augmentation moves image
    and mask together and runs in the input pipeline (``paired_augment``).

    A mask value of ``VOID`` (255, as PASCAL VOC and Cityscapes mark borders and unlabelled
    pixels) is no class: such pixels count in neither the loss nor any score."""

    name = "segmentation"
    headline = "mean_iou"
    figures = figures_of("segmentation")
    shown = ("mean_iou", "dice", "loss")
    names_key = "class_names"
    targets_key = "masks"
    classes = False
    per_pixel = True
    baselines = ()

    sklearn_score = "mean_iou"

    def decided(self, outputs, decision, classes):
        return np.asarray(outputs).argmax(axis=-1).astype("int64")

    def targets(self, raw, where, names=None, columns=None, first_row=0):
        m = np.asarray(raw)
        m = m[..., 0] if m.ndim == 4 and m.shape[-1] == 1 else m
        if m.ndim != 3:
            raise DataError(f"{where}: masks must have shape (n, height, width) of class "
                            f"indices, got {m.shape}; one mask per image")
        if m.dtype.kind not in "biu" and not (m.dtype.kind == "f" and
                                             np.array_equal(m, np.round(m))):
            raise DataError(f"{where}: masks must hold class indices (whole numbers), got "
                            f"{m.dtype}; save them as integers")
        if m.size and m.min() < 0:
            i = int(np.argwhere(m < 0)[0][0])
            raise DataError(f"{where}, mask {i + first_row}: value {int(m[i].min())} is "
                            "negative; mask values are class indices from 0")
        labelled = m[m != VOID]
        k = len(names) if names is not None else int(labelled.max()) + 1 if labelled.size \
            else 0
        outside = (m >= k) & (m != VOID)
        if outside.any():
            i = int(np.argwhere(outside)[0][0])
            raise DataError(f"{where}, mask {i + first_row}: value {int(m[i][outside[i]].max())} "
                            f"is outside the {k} classes of class_names; fix the mask or name "
                            f"every class ({VOID} marks pixels of no class)")
        if k < 2:
            raise DataError(f"{where}: found {k} class; segmentation needs at least 2 "
                            "(background and one more)")
        names = [str(n) for n in names] if names is not None else \
            ["background", *(f"class{i}" for i in range(1, k))]
        return m.astype("uint8" if k <= VOID else "int32"), names

    def targets_like(self, raw, train_raw, where, part):
        _, names = self.targets(train_raw, where)
        y, _ = self.targets(raw, where, names)
        return y

    def check_pair(self, x, y, where):
        if tuple(x.shape[1:3]) != tuple(y.shape[1:3]):
            raise DataError(f"{where}: masks are {y.shape[1]}x{y.shape[2]} and images "
                            f"{x.shape[1]}x{x.shape[2]}; a mask must be the size of its image")

    def strata(self, y):
        """Each image's rarest class (by the images it is in), as multi-label's strata."""
        y = np.asarray(y)
        labelled = y[y != VOID]
        k = int(labelled.max()) + 1 if labelled.size else 1
        present = np.zeros((len(y), k), bool)
        for c in range(1, k):
            present[:, c] = (y == c).reshape(len(y), -1).any(axis=1)
        return rarest_strata(present[:, 1:])

    def output(self, n, prep):
        from keras import layers

        return lambda x: layers.Conv2D(n, 1, activation="softmax", dtype="float32",
                                       name="classifier")(x)

    def compile_args(self, knobs, prep):
        import keras

        n = prep["classes"]
        score = _segmentation_metric()
        return (keras.losses.SparseCategoricalCrossentropy(ignore_class=VOID),
                [score(n, "iou", name="mean_iou"), score(n, "dice", name="dice"),
                 score(n, "iou", first=1, name="fg_mean_iou"),
                 score(n, "dice", first=1, name="fg_dice"),
                 score(n, "accuracy", name="pixel_accuracy")])

    def prep(self, y_train, names):
        return {"classes": len(names)}

    def score(self, model, y, preds, prefix, knobs, prep, decision=None, names=None):
        k = np.asarray(preds).shape[-1]
        y, preds = labelled_pixels(y, np.asarray(preds).reshape(-1, k))
        cm = confusion(y, preds.argmax(-1), k)
        out = {f"{prefix}{name}": v for name, v in mask_scores(cm).items()}
        iou = class_iou(cm)
        names = [re.sub(r"[^A-Za-z0-9_]", "_", str(n))
                 for n in (names or [str(c) for c in range(k)])]
        out.update({f"{prefix}iou_{n}": float(v) for n, v in zip(names, iou)
                    if np.isfinite(v)})
        eps = 1e-7
        p = np.take_along_axis(preds, y.reshape(-1, 1), axis=1)
        penalty = sum(float(np.asarray(w)) for w in model.losses)
        out[f"{prefix}loss"] = float(-np.log(np.clip(p, eps, 1 - eps)).mean() + penalty)
        return out

    def label_scores(self, y, preds, prefix):
        y, preds = labelled_pixels(y, np.asarray(preds).reshape(-1))
        k = int(max(y.max(initial=0), preds.max(initial=0))) + 1
        cm = confusion(y, preds, k)
        return {f"{prefix}{name}": v for name, v in mask_scores(cm).items()}

    def confusion(self, y, preds, n):
        y, labels = labelled_pixels(y, np.asarray(preds).argmax(-1).reshape(-1))
        return confusion(y, labels, n).tolist()

    def compare(self, preds, keras_preds, y, prep, quantize, decision=None):
        ours, theirs = np.asarray(preds).argmax(-1), np.asarray(keras_preds).argmax(-1)
        iou = self.label_scores(y, ours, "")["mean_iou"]
        keras_iou = self.label_scores(y, theirs, "")["mean_iou"]
        diff = float(np.abs(preds - keras_preds).max()) if len(preds) else 0.0
        agree = float((ours == theirs).mean()) if len(preds) else 1.0
        if quantize == "int8":
            return Verification("mean_iou", iou, keras_iou, diff,
                                f"mean_iou drop <= {INT8_MAX_DROP}",
                                keras_iou - iou <= INT8_MAX_DROP)
        return Verification("mean_iou", iou, keras_iou, diff,
                            f"pixels agreeing with the Keras model >= {PIXEL_AGREEMENT:.1%} "
                            f"(here {agree:.4%})", agree >= PIXEL_AGREEMENT)

    def rows(self, preds, names, top, decision=None):
        labels = np.asarray(preds).argmax(-1)
        k = len(names)
        return [{**{f"share_{n}": float(s) for n, s in
                    zip(names, np.bincount(m.reshape(-1), minlength=k) / m.size)}}
                for m in labels]

    def explained(self, preds, y, names, decision=None):
        raise NotApplicable("explain maps where a classifier looks; a segmentation model's "
                            "output is itself a map: see the report's overlays or `cnntune "
                            "predict`'s mask overlays")


PIXEL_AGREEMENT = 0.999  # a float export's argmax masks against the Keras model's


def labelled_pixels(masks, per_pixel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The masks' pixels that hold a class (not ``VOID``), flat as int64, and the rows of
    ``per_pixel`` (predictions, one row or value per pixel) at them."""
    y = np.asarray(masks).reshape(-1).astype("int64")
    keep = y != VOID
    return y[keep], per_pixel[keep]
