"""Multi-label: a set of labels per example, a sigmoid per label, each with a decision threshold
tuned on validation.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..errors import DataError
from ..knobs import MIXING

from ._base import figures_of, Task, predictions, probability_check
from .scores import rarest_strata


LABEL_SEPARATORS = (";", "|", ",")  # what separates the labels of one example in a text cell
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.05), 2)  # a label's decision threshold: one of


class Multilabel(Task):
    """A set of labels per example: none, one or several (the tags of a photo). A sigmoid
    per label and binary cross-entropy; a label is predicted when its probability reaches its
    threshold, tuned on the validation split for the label's F1 (``decide``)."""

    name = "multilabel"
    headline = "micro_f1"
    figures = figures_of("multilabel", "exact_match")
    shown = ("micro_f1", "macro_f1", "loss")
    knobs = frozenset({"label_smoothing"}) | MIXING
    names_key = "label_names"
    classes = False
    sets = True
    sklearn_kind = "classifier"
    last_activation = "sigmoid"
    explains = " per predicted label"
    baselines = ("logistic_regression", "random_forest")
    min_labels = 0  # data.min_labels: fewer labels on an example is a data error

    @property
    def output_word(self) -> str:
        return "label"

    sklearn_score = "exact_match"

    def decided(self, outputs, decision, classes):
        return self._chosen(outputs, decision).astype("int64")

    def targets(self, raw, where, names=None, columns=None, first_row=0):
        a = np.asarray(raw)
        if a.dtype.kind in "OUS" and a.ndim == 2 and a.shape[1] > 1:  # 0/1 columns, as text
            try:
                a = a.astype("float64")
            except ValueError:
                raise DataError(f"{where}: a multi-label example's labels are one column of "
                                "separated labels, or one 0/1 column per label; name one text "
                                "column or 0/1 columns") from None
        if a.dtype.kind in "OUS":  # label lists as text: "cat;dog", blank for none
            lists = _label_lists(a.reshape(-1))
            found = sorted({label for row in lists for label in row})
            names = list(names) if names is not None else found
            unknown = sorted(set(found) - set(names))
            if unknown:
                raise DataError(f"{where}: label '{unknown[0]}' is not in label_names; add it "
                                "there or fix the row")
            index = {n: i for i, n in enumerate(names)}
            y = np.zeros((len(lists), len(names)), "float32")
            for i, row in enumerate(lists):
                y[i, [index[label] for label in row]] = 1.0
        else:
            if a.ndim != 2:
                raise DataError(f"{where}: multi-label targets are a 0/1 matrix (examples x "
                                f"labels) or separated label lists, got shape {a.shape}; one "
                                "label per example is task: classification")
            bad = ~np.isin(a, (0, 1))
            if bad.any():
                i, j = (int(v) for v in np.argwhere(bad)[0])
                raise DataError(f"{where}, row {i + first_row}, column {j}: value "
                                f"{a[i, j].item()!r} is not 0 or 1; a multi-label matrix marks "
                                "each label 1 (present) or 0")
            y = a.astype("float32")
            k = y.shape[1]
            names = list(names or (columns if columns and len(columns) == k else
                                   [f"label{i}" for i in range(k)]))
            if len(names) != k:
                raise DataError(f"{where}: {len(names)} label names for {k} labels; make them "
                                "agree")
        if y.shape[1] < 2:
            raise DataError(f"{where}: found {y.shape[1]} label; multi-label data needs at least "
                            "2 (one yes/no label is task: classification)")
        counts = y.sum(axis=0)
        for j, c in enumerate(counts):
            if c in (0, len(y)):
                raise DataError(f"{where}: label '{names[j]}' is on "
                                f"{'no' if c == 0 else 'every'} example; there is nothing to "
                                "learn, drop it")
        few = np.flatnonzero(y.sum(axis=1) < self.min_labels)
        if len(few):
            i = int(few[0])
            raise DataError(f"{where}, row {i + first_row}: {int(y[i].sum())} labels, and "
                            f"data.min_labels is {self.min_labels}; label the example or drop "
                            "it (or lower data.min_labels)")
        return y, [str(n) for n in names]

    def targets_like(self, raw, train_raw, where, part):
        _, names = self.targets(train_raw, where)
        a = np.asarray(raw)
        if a.dtype.kind in "OUS":
            lists = _label_lists(a.reshape(-1))
            index = {n: i for i, n in enumerate(names)}
            unknown = sorted({label for row in lists for label in row} - set(index))
            if unknown:
                raise DataError(f"{where} has label {unknown[0]!r}, which y_train does not "
                                f"have; every {part} label must be in train")
            y = np.zeros((len(lists), len(names)), "float32")
            for i, row in enumerate(lists):
                y[i, [index[label] for label in row]] = 1.0
            return y
        if a.ndim != 2 or a.shape[1] != len(names) or not np.isin(a, (0, 1)).all():
            raise DataError(f"{where}: must be a 0/1 matrix of {len(names)} labels as y_train "
                            f"is, got shape {a.shape}; give every split the same labels")
        return a.astype("float32")

    def strata(self, y):
        """Each example's rarest label (the examples with none: a group of their own), so
        that a rare label is in every split; groups under 3 examples join the largest."""
        return rarest_strata(np.asarray(y) > 0.5)

    def output(self, n, prep):
        from keras import layers

        # float32 under mixed precision too, as a classifier's softmax; named as a
        # classifier's, so Grad-CAM finds its logits
        return lambda x: layers.Dense(n, activation="sigmoid", dtype="float32",
                                      name="classifier")(x)

    def compile_args(self, knobs, prep):
        import keras

        return (keras.losses.BinaryCrossentropy(label_smoothing=knobs.get("label_smoothing",
                                                                          0.0)),
                [keras.metrics.F1Score(average="micro", threshold=0.5, name="micro_f1"),
                 keras.metrics.F1Score(average="macro", threshold=0.5, name="macro_f1"),
                 keras.metrics.AUC(multi_label=True, name="auc")])

    decides = True

    def decide(self, model, val_split):
        return {"thresholds": fit_thresholds(np.asarray(val_split.y),
                                             predictions(model, val_split)).tolist()}

    def _chosen(self, preds, decision):
        t = np.asarray((decision or {}).get("thresholds", 0.5), "float64")
        return np.asarray(preds) >= t

    def score(self, model, y, preds, prefix, knobs, prep, decision=None, names=None):
        from sklearn.metrics import roc_auc_score

        y = np.asarray(y) > 0.5
        preds = np.asarray(preds, "float64")
        out = self.label_scores(y, self._chosen(preds, decision), prefix)
        both = (y.any(axis=0)) & (~y.all(axis=0))  # AUC is defined where both occur
        if both.any():
            out[f"{prefix}auc"] = float(roc_auc_score(y[:, both], preds[:, both],
                                                      average="macro"))
        s = knobs.get("label_smoothing", 0.0)
        target = y * (1 - s) + 0.5 * s
        p = np.clip(preds, 1e-7, 1 - 1e-7)  # Keras' clipping
        bce = -(target * np.log(p) + (1 - target) * np.log(1 - p)).mean()
        penalty = sum(float(np.asarray(w)) for w in model.losses)
        out[f"{prefix}loss"] = float(bce + penalty)
        return out

    def label_scores(self, y, preds, prefix):
        from sklearn.metrics import f1_score

        y, preds = np.asarray(y) > 0.5, np.asarray(preds) > 0.5
        return {f"{prefix}micro_f1": float(f1_score(y, preds, average="micro",
                                                    zero_division=0)),
                f"{prefix}macro_f1": float(f1_score(y, preds, average="macro",
                                                    zero_division=0)),
                f"{prefix}exact_match": float((y == preds).all(axis=1).mean())}

    def compare(self, preds, keras_preds, y, prep, quantize, decision=None):
        def f1(p):
            return self.label_scores(y, self._chosen(p, decision), "")["micro_f1"]

        return probability_check("micro_f1", f1(preds), f1(keras_preds), preds, keras_preds,
                                 quantize)

    def rows(self, preds, names, top, decision=None):
        chosen = self._chosen(preds, decision)
        return [{"labels": ";".join(n for n, c in zip(names, row) if c),
                 **{f"p_{n}": float(v) for n, v in zip(names, p)}}
                for p, row in zip(np.asarray(preds), chosen)]

    def explained(self, preds, y, names, decision=None):
        # every predicted label of every example (the likeliest where none is predicted)
        preds = np.asarray(preds)
        chosen = self._chosen(preds, decision)
        pairs = [(i, j) for i in range(len(preds))
                 for j in (np.flatnonzero(chosen[i]) if chosen[i].any()
                           else [int(preds[i].argmax())])]
        idx = np.array([i for i, _ in pairs], "int64")
        out = np.array([j for _, j in pairs], "int64")
        titles = []
        for i, j in pairs:
            truth = "" if y is None else (" (true)" if np.asarray(y)[i, j] > 0.5
                                          else " (not there)")
            titles.append(f"{names[j]} {preds[i, j]:.2f}{truth}")
        return idx, out, titles

    def baseline(self, name, seed):
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if name == "logistic_regression":  # one per label
            return make_pipeline(StandardScaler(), OneVsRestClassifier(
                LogisticRegression(max_iter=2000, C=1.0)))
        return RandomForestClassifier(n_estimators=300, n_jobs=-1, random_state=seed)


def fit_thresholds(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Each label's threshold (one of ``THRESHOLDS``) with the best F1 on ``y``, the lowest
    of ties nearest 0.5; 0.5 for a label ``y`` never has."""
    y = np.asarray(y) > 0.5
    out = np.full(y.shape[1], 0.5)
    for j in range(y.shape[1]):
        if not y[:, j].any():
            continue
        pred = probs[:, j][:, None] >= THRESHOLDS[None, :]
        tp = (pred & y[:, j][:, None]).sum(axis=0)
        f1 = 2 * tp / (pred.sum(axis=0) + y[:, j].sum())
        best = np.flatnonzero(f1 == f1.max())
        out[j] = THRESHOLDS[best[np.abs(THRESHOLDS[best] - 0.5).argmin()]]
    return out


def _label_lists(cells) -> list[list[str]]:
    """Text cells of separated labels as lists: split at the first of ``LABEL_SEPARATORS``
    that any cell holds; a blank cell (or NaN) is the empty list."""
    text = ["" if c is None or (isinstance(c, float) and math.isnan(c)) else str(c).strip()
            for c in cells]
    sep = next((s for s in LABEL_SEPARATORS if any(s in t for t in text)), None)
    split = (lambda t: re.split(re.escape(sep), t)) if sep else (lambda t: [t])
    return [sorted({p.strip() for p in split(t) if p.strip()}) if t else [] for t in text]
