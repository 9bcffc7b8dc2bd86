"""Classification: one class per example, softmax probabilities, accuracy first.
"""

from __future__ import annotations


import numpy as np

from ..catalog import CLASS_SCORES
from ..errors import DataError
from ..knobs import MIXING, mixes

from ._base import figures_of, Task, predictions, probability_check
from .scores import _accuracy, _label_values, class_scores, confusion, label_scores, scored_loss


def _soft(knobs: dict) -> bool:
    """Whether the loss takes label rows (one-hot, then smoothed or mixed): Keras' sparse loss
    has no smoothing and takes no mixed labels."""
    return knobs.get("label_smoothing", 0.0) > 0 or mixes(knobs)


class Classification(Task):
    name = "classification"
    headline = "accuracy"
    figures = figures_of("classification")
    shown = ("accuracy", "loss")  # the class-balanced scores: where trials have them
    knobs = frozenset({"label_smoothing"}) | MIXING
    names_key = "class_names"
    classes = True
    sklearn_kind = "classifier"
    baselines = ("logistic_regression", "rbf_svm", "random_forest")

    def decided(self, outputs, decision, classes):
        return np.asarray(classes)[np.asarray(outputs).argmax(axis=1)]

    def targets(self, raw, where, names=None, columns=None, first_row=0):
        y = _label_values(raw)
        if y.dtype.kind == "f" and len(y) and not np.array_equal(y, np.round(y)):
            v = y[np.flatnonzero(y != np.round(y))[0]]
            raise DataError(f"{where}: holds fractional numbers (such as {v:g}), which are no "
                            "class labels; to predict numbers set task: regression in the "
                            "space, else give integer or named classes")
        classes, encoded = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise DataError(f"{where}: found {len(classes)} class; a classifier needs at "
                            "least 2")
        if names is not None and len(names) != len(classes):
            raise DataError(f"{where}: class_names has {len(names)} entries for "
                            f"{len(classes)} classes; make them agree")
        return encoded.astype("int64"), names or [str(c) for c in classes]

    def targets_like(self, raw, train_raw, where, part):
        classes = np.unique(_label_values(train_raw))
        raw = _label_values(raw)
        unknown = sorted(set(raw.tolist()) - set(classes.tolist()))
        if unknown:
            raise DataError(f"{where} has class {unknown[0]!r}, which y_train does not have; "
                            f"every {part} class must be in train")
        return np.searchsorted(classes, raw).astype("int64")

    def strata(self, y):
        return np.asarray(y)

    def output(self, n, prep):
        from keras import layers

        # float32 under mixed precision too: a float16 softmax rounds small probabilities to 0
        return lambda x: layers.Dense(n, activation="softmax", dtype="float32",
                                      name="classifier")(x)

    def compile_args(self, knobs, prep):
        import keras

        loss = keras.losses.CategoricalCrossentropy(label_smoothing=knobs.get(
            "label_smoothing", 0.0)) if _soft(knobs) else "sparse_categorical_crossentropy"
        return loss, ["accuracy"]

    def one_hot(self, knobs, n):
        return n if _soft(knobs) else None

    def epoch_scores(self, objective):
        return objective.removeprefix("val_") in CLASS_SCORES

    def epoch_score(self, model, split, prefix, preds=None):
        preds = predictions(model, split) if preds is None else preds
        return class_scores(np.asarray(split.y), preds, prefix)

    def score(self, model, y, preds, prefix, knobs, prep, decision=None, names=None):
        y = np.asarray(y)
        return {f"{prefix}loss": scored_loss(model, y, preds, knobs.get("label_smoothing", 0.0)),
                f"{prefix}accuracy": float((preds.argmax(1) == y).mean()),
                **class_scores(y, preds, prefix)}

    def label_scores(self, y, preds, prefix):
        y = np.asarray(y)
        return {f"{prefix}accuracy": float((preds == y).mean()),
                **label_scores(y, preds, prefix)}

    def confusion(self, y, preds, n):
        return confusion(y, preds.argmax(1), n).tolist()

    def compare(self, preds, keras_preds, y, prep, quantize, decision=None):
        return probability_check("accuracy", _accuracy(preds, y), _accuracy(keras_preds, y),
                                 preds, keras_preds, quantize)

    def rows(self, preds, names, top, decision=None):
        top = max(1, min(top, len(names)))
        order = np.argsort(-preds, axis=1)[:, :top]
        out = []
        for i in range(len(preds)):
            row = {}
            for k in range(top):
                suffix = "" if k == 0 else f"_{k + 1}"
                row[f"class{suffix}"] = names[order[i, k]]
                row[f"probability{suffix}"] = float(preds[i, order[i, k]])
            out.append(row)
        return out

    def baseline(self, name, seed):
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        if name == "logistic_regression":
            return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
        if name == "rbf_svm":
            return make_pipeline(StandardScaler(), SVC(kernel="rbf", C=10.0, gamma="scale"))
        return RandomForestClassifier(n_estimators=300, n_jobs=-1, random_state=seed)
