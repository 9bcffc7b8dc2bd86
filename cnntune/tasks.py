"""What a study learns to predict, and everything that follows from it.

A ``Task`` owns, for its kind of target: how targets are read from a source and checked
(``targets``), how they are grouped so that splits and folds hold each part of their range
(``strata``), what the model's last layer and loss are (``output``, ``compile_args``), which
figures a trial is judged and scored by (``figures``, ``score``), how an export is verified
against the Keras model (``compare``), what ``predict`` prints (``rows``) and which
classical baselines fit it. Everything else asks the task rather than its name.

Its names and objectives are ``catalog.TASKS`` / ``catalog.TASK_OBJECTIVES``. Pure Python and
numpy at import: TensorFlow, Keras and scikit-learn are imported where a method needs them.
"""

from __future__ import annotations

import copy
import functools
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from .catalog import CLASS_SCORES, REGRESSION_LOSSES, TASK_OBJECTIVES, TASKS
from .errors import DataError, NotApplicable

# the largest difference to the Keras model a float export may show: classification in
# probability, regression in target standard deviations
TOLERANCE = {"none": 1e-4, "float16": 1e-2}
VOID = 255  # a segmentation mask's value for pixels of no class (borders, unlabelled)
INT8_MAX_DROP = 0.05  # int8: how much worse its headline figure may be than the Keras model's


@dataclass
class Verification:
    """An export's predictions on the test split against the Keras model's."""

    metric: str  # the figure compared, as logged: accuracy, rmse, ...
    score: float  # through the export's runtime
    keras_score: float
    max_abs_diff: float  # largest |difference| of the outputs (probabilities or values)
    tolerance: str  # what was checked, in words
    passed: bool


class Task:
    """One kind of target; see the module docstring. Subclasses fill in the behaviour."""

    name: str
    headline: str  # the accuracy-like figure shown first (higher is better): test_<headline>
    # the figures a trial is measured by on a split (val_<name>, test_<name>), Keras' first
    figures: tuple[str, ...]
    shown: tuple[str, ...]  # those tables show for every study of the task
    knobs: frozenset[str] = frozenset()  # knobs only this task reads (beside the families')
    names_key: str  # an npz's optional array of output names
    classes: bool  # whether the outputs are exclusive classes (one wins), or values
    sets: bool = False  # whether a target is a set of labels (a blank cell: the empty set)
    explains = ""  # what `explain` maps, after the method's name ({first}: the first output)
    targets_key = "y"  # an npz's array of targets (x_<split> / <key>_<split> with splits)
    # whether the targets are maps the size of the input (a class per pixel): the model needs
    # a decoder (knobs.DECODERS), and augmentation runs in the input pipeline, moving each
    # mask with its image, not as layers inside the model that change the image alone
    per_pixel = False
    # what the model's last layer ends in: probabilities over the outputs (softmax), one
    # probability per output (sigmoid), or values (None); a user's builder must end alike
    last_activation: str | None = "softmax"

    @property
    def objectives(self) -> dict[str, str]:
        return TASK_OBJECTIVES[self.name]

    @property
    def default_objective(self) -> str:
        return next(iter(self.objectives))

    @property
    def output_word(self) -> str:
        """What one output is called in messages: class or target."""
        return "class"

    def columns(self, have=()) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The figures a table of trials shows: val_ and test_ of ``shown``; and the other
        figures that any of ``have`` (metric names the trials logged) holds."""
        main = tuple(f"{split}_{f}" for split in ("val", "test") for f in self.shown)
        rest = tuple(f"{split}_{f}" for f in self.figures if f not in self.shown
                     for split in ("val", "test"))
        return main, tuple(c for c in rest if c in have)

    def __repr__(self) -> str:
        return f"Task({self.name})"

    def configured(self, **rules) -> Task:
        """This task with the data rules a space sets (``data.min_labels``); a rule left at
        its default (falsy) is no rule, and a rule another task owns is a ValueError."""
        rules = {k: v for k, v in rules.items() if v}
        if not rules:
            return self
        for k in rules:
            if not hasattr(type(self), k):
                raise ValueError(f"data.{k} is a rule of multi-label data, and this task is "
                                 f"{self.name}; drop it")
        out = copy.copy(self)
        out.__dict__.update(rules)
        return out

    # ----------------------------------------------------------------- data
    def targets(self, raw, where: str, names: list[str] | None = None,
                columns: list[str] | None = None, first_row: int = 0
                ) -> tuple[np.ndarray, list[str]]:
        """The targets of one source (``raw``, as read: values, or rows of the label
        ``columns`` of a CSV whose first data row is ``first_row``) -> (y as the model trains
        on, the output names: ``names`` when the source gives them); DataError naming
        ``where`` (file and key) when they do not fit."""
        raise NotImplementedError

    def targets_like(self, raw, train_raw, where: str, part: str) -> np.ndarray:
        """The targets of another split of the source, coded as ``train_raw``'s were."""
        raise NotImplementedError

    def strata(self, y: np.ndarray) -> np.ndarray:
        """Integer groups of ``y`` that stratified splits and folds keep in proportion."""
        raise NotImplementedError

    def prep(self, y_train: np.ndarray, names: list[str]) -> dict:
        """What the model's last layer needs to know of the training targets (and the names
        of the outputs)."""
        return {}

    def check_pair(self, x: np.ndarray, y: np.ndarray, where: str) -> None:
        """DataError when targets ``y`` do not fit their inputs ``x`` (a mask's size)."""

    # ----------------------------------------------------------------- model
    def output(self, n: int, prep: dict):
        """A function: features -> the model's output tensor (``n`` outputs). Its layers are
        made when it is called, after the family's: Keras draws each new layer's initial
        weights' seed when the layer is made, so the order keeps a seeded trial's weights."""
        raise NotImplementedError

    def output_problem(self, out: np.ndarray, n: int, input_shape: tuple[int, ...]
                       ) -> str | None:
        """Why ``out`` (a model's output for a batch of 2 inputs of ``input_shape``) is not
        this task's with ``n`` outputs, or None: the check on a user's own model."""
        want = (2, *input_shape[:-1], n) if self.per_pixel else (2, n)
        if tuple(out.shape) != want:
            return (f"its model's output has shape (batch, {', '.join(map(str, out.shape[1:]))})"
                    f", task {self.name} needs (batch, {', '.join(map(str, want[1:]))}); end "
                    f"it with {n} {self.output_word}{'es' if self.output_word == 'class' else 's'}"
                    f"{' per pixel' if self.per_pixel else ''}")
        if self.last_activation is None:
            return None
        if not (np.isfinite(out).all() and (out >= -1e-6).all() and (out <= 1 + 1e-6).all()
                and (self.last_activation != "softmax"
                     or np.allclose(out.sum(axis=-1), 1.0, atol=1e-3))):
            return (f"its model's outputs are not probabilities; task {self.name} needs a "
                    f"{self.last_activation} at the end (Dense({n}, "
                    f"activation=\"{self.last_activation}\"))")
        return None

    def compile_args(self, knobs: dict, prep: dict) -> tuple[Any, list]:
        """(loss, metrics) for ``model.compile``."""
        raise NotImplementedError

    def one_hot(self, knobs: dict, n: int) -> int | None:
        """The class count when the pipelines must hand one-hot targets to the loss."""
        return None

    def epoch_scores(self, objective: str) -> bool:
        """Whether ``objective`` is not measured by Keras but scored from predictions each
        epoch (``epoch_score``)."""
        return False

    def epoch_score(self, model, split, prefix: str, preds=None) -> dict[str, float]:
        return {}

    decides = False  # whether ``decide`` predicts the validation split
    sklearn_score = "accuracy"  # the figure an estimator's score() is (scikit-learn's meaning)

    def decided(self, outputs: np.ndarray, decision: dict, classes) -> np.ndarray:
        """A model's ``outputs`` as predictions in the user's terms (an estimator's
        ``predict``), decided as ``decision`` says; ``classes``: the labels as fit's y held
        them."""
        return outputs

    def decide(self, model, val_split) -> dict:
        """What a trained model's outputs are turned into decisions by, fitted on the
        validation split (a multi-label model's threshold per label); stored with an export
        and read by ``score``, ``compare`` and ``rows``. Most tasks decide nothing: {}."""
        return {}

    # ----------------------------------------------------------------- scoring
    def score(self, model, y, preds, prefix: str, knobs: dict, prep: dict,
              decision: dict | None = None, names: list[str] | None = None
              ) -> dict[str, float]:
        """Every figure of ``model``'s predictions ``preds`` of targets ``y``, named
        ``prefix + figure``, the loss (with the model's weight penalties) included; decided
        as ``decision`` (``decide``) says; ``names``: the outputs', for per-class figures."""
        raise NotImplementedError

    def label_scores(self, y, preds, prefix: str) -> dict[str, float]:
        """The figures of any model's predictions (a baseline's: labels or values)."""
        raise NotImplementedError

    def confusion(self, y, preds, n: int):
        """The test confusion matrix (true x predicted), or None where it has no meaning."""
        return None

    # ----------------------------------------------------------------- exports and predict
    def compare(self, preds, keras_preds, y, prep: dict, quantize: str,
                decision: dict | None = None) -> Verification:
        raise NotImplementedError

    def rows(self, preds: np.ndarray, names: list[str], top: int,
             decision: dict | None = None) -> list[dict]:
        """One dict per example for ``cnntune predict`` (beside the input's name)."""
        raise NotImplementedError

    def explained(self, preds: np.ndarray, y, names: list[str], decision: dict | None = None
                  ) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
        """What ``explain`` maps: (example index, output index) pairs, and a title for each
        (None: the grid titles each by its true and predicted class). By default each
        example's predicted output."""
        idx = np.arange(len(preds))
        return idx, np.asarray(preds).argmax(axis=1), None

    # ----------------------------------------------------------------- baselines
    baselines: tuple[str, ...] = ()

    def baseline(self, name: str, seed: int):
        raise NotImplementedError


class Classification(Task):
    name = "classification"
    headline = "accuracy"
    figures = ("accuracy", "loss", *CLASS_SCORES)
    shown = ("accuracy", "loss")  # the class-balanced scores: where trials have them
    knobs = frozenset({"label_smoothing"})
    names_key = "class_names"
    classes = True
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

        smoothing = knobs.get("label_smoothing", 0.0)
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing) \
            if smoothing > 0 else "sparse_categorical_crossentropy"
        return loss, ["accuracy"]

    def one_hot(self, knobs, n):
        # Keras' sparse loss has no smoothing: the categorical one takes one-hot rows
        return n if knobs.get("label_smoothing", 0.0) > 0 else None

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


STRATA_BINS = 10  # a regression's first target is split at this many quantiles at most
STRATA_PER_BIN = 20  # ... and into no more bins than one per this many examples


class Regression(Task):
    """One or more numbers per example. The model's last dense layer predicts standardised
    targets and a fixed layer turns them into the targets' own units (the training split's
    mean and standard deviation), so exports return raw values; the loss compares
    standardised values, so no target's scale dominates it."""

    name = "regression"
    headline = "r2"
    figures = ("rmse", "mae", "r2", "loss")
    shown = ("rmse", "mae", "r2", "loss")
    knobs = frozenset({"loss"})
    names_key = "target_names"
    classes = False
    last_activation = None  # values in the targets' units
    explains = " of {first}"
    baselines = ("ridge", "random_forest")

    @property
    def output_word(self) -> str:
        return "target"

    sklearn_score = "r2"

    def decided(self, outputs, decision, classes):
        outputs = np.asarray(outputs)
        return outputs[:, 0] if outputs.ndim == 2 and outputs.shape[1] == 1 else outputs

    def targets(self, raw, where, names=None, columns=None, first_row=0):
        y = np.asarray(raw)
        y = y[:, None] if y.ndim == 1 else y
        if y.ndim != 2:
            raise DataError(f"{where}: regression targets must be one number per example or "
                            f"a row of numbers, got shape {y.shape}; reshape them")
        if y.dtype.kind not in "biuf":
            for i, v in enumerate(y.reshape(len(y), -1)):
                for value in v:
                    try:
                        float(value)
                    except (TypeError, ValueError):
                        raise DataError(f"{where}, row {i + first_row}: target '{value}' is "
                                        "not a number; regression targets are numbers (fix "
                                        "the value, or declare task: classification)") from None
        y = y.astype("float64")
        bad = ~np.isfinite(y)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise DataError(f"{where}, row {row + first_row}: target is NaN or infinite; fill "
                            "in or drop that example")
        k = y.shape[1]
        names = list(names or columns or (["target"] if k == 1 else
                                          [f"target{i}" for i in range(k)]))
        if len(names) != k:
            raise DataError(f"{where}: {len(names)} target names for {k} targets; make them "
                            "agree")
        if len(y) and (y.std(axis=0) == 0).any():
            c = names[int((y.std(axis=0) == 0).argmax())]
            raise DataError(f"{where}: target '{c}' has the same value for every example; "
                            "there is nothing to learn, drop it")
        return y.astype("float32"), names

    def targets_like(self, raw, train_raw, where, part):
        y, _ = self.targets(raw, where)
        want = np.asarray(train_raw).reshape(len(train_raw), -1).shape[1]
        if y.shape[1] != want:
            raise DataError(f"{where} has {y.shape[1]} targets per example, y_train has "
                            f"{want}; give every split the same targets")
        return y

    def strata(self, y):
        v = np.asarray(y, "float64").reshape(len(y), -1)[:, 0]
        for k in range(min(STRATA_BINS, len(v) // STRATA_PER_BIN), 1, -1):
            edges = np.unique(np.quantile(v, np.linspace(0, 1, k + 1)[1:-1]))
            _, codes, counts = np.unique(np.searchsorted(edges, v, side="right"),
                                         return_inverse=True, return_counts=True)
            if counts.min() >= 3:
                return codes.astype("int64")
        return np.zeros(len(v), "int64")

    def prep(self, y_train, names):
        y = np.asarray(y_train, "float64")
        std = y.std(axis=0)
        return {"target_mean": y.mean(axis=0).tolist(),
                "target_std": np.where(std > 1e-12, std, 1.0).tolist()}

    def output(self, n, prep):
        from keras import layers

        def out(x):
            x = layers.Dense(n, dtype="float32", name="regressor")(x)
            # the standardised prediction back in the targets' units: a fixed affine layer
            return layers.Rescaling(prep["target_std"], prep["target_mean"], dtype="float32",
                                    name="targets")(x)

        return out

    def compile_args(self, knobs, prep):
        import keras

        return (standardised_loss(knobs.get("loss", "mse"), prep["target_std"]),
                [keras.metrics.RootMeanSquaredError(name="rmse"),
                 keras.metrics.MeanAbsoluteError(name="mae"), keras.metrics.R2Score(name="r2")])

    def score(self, model, y, preds, prefix, knobs, prep, decision=None, names=None):
        y = np.asarray(y, "float64").reshape(len(y), -1)
        z = (np.asarray(preds, "float64") - y) / np.asarray(prep["target_std"])
        loss = regression_loss(knobs.get("loss", "mse"), z, np).mean()
        penalty = sum(float(np.asarray(w)) for w in model.losses)
        return {**self.label_scores(y, preds, prefix), f"{prefix}loss": float(loss + penalty)}

    def label_scores(self, y, preds, prefix):
        y = np.asarray(y, "float64").reshape(len(y), -1)
        err = np.asarray(preds, "float64").reshape(y.shape) - y
        total = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
        r2 = 1 - (err ** 2).sum(axis=0) / np.where(total > 0, total, np.nan)
        return {f"{prefix}rmse": float(np.sqrt((err ** 2).mean())),
                f"{prefix}mae": float(np.abs(err).mean()),
                f"{prefix}r2": float(np.nanmean(r2)) if np.isfinite(r2).any() else math.nan}

    def compare(self, preds, keras_preds, y, prep, quantize, decision=None):
        std = np.asarray(prep["target_std"])
        rmse = self.label_scores(y, preds, "")["rmse"]
        keras_rmse = self.label_scores(y, keras_preds, "")["rmse"]
        diff = float(np.abs(preds - keras_preds).max()) if len(preds) else 0.0
        scaled = float((np.abs(preds - keras_preds) / std).max()) if len(preds) else 0.0
        if quantize == "int8":
            rise = (rmse - keras_rmse) / float(std.mean())
            return Verification("rmse", rmse, keras_rmse, diff,
                                f"rmse rise <= {INT8_MAX_DROP} target standard deviations",
                                rise <= INT8_MAX_DROP)
        return Verification("rmse", rmse, keras_rmse, diff,
                            f"max |value difference| <= {TOLERANCE[quantize]:g} target "
                            "standard deviations", scaled <= TOLERANCE[quantize])

    def rows(self, preds, names, top, decision=None):
        return [{n: float(v) for n, v in zip(names, p)} for p in np.asarray(preds)]

    def explained(self, preds, y, names, decision=None):
        # the first target, titled with its true and predicted value
        p = np.asarray(preds).reshape(len(preds), -1)
        titles = [(f"true {np.asarray(y)[i].reshape(-1)[0]:.3g} / " if y is not None else "")
                  + f"pred {p[i][0]:.3g}" for i in range(len(p))]
        return np.arange(len(p)), np.zeros(len(p), "int64"), titles

    def baseline(self, name, seed):
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if name == "ridge":
            return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 13)))
        # a third of the features per split (Breiman's choice for regression): all of them
        # took 87 s on 1,300 discs images of 1,024 pixels on 2 cores
        return RandomForestRegressor(n_estimators=300, max_features=1 / 3, n_jobs=-1,
                                     random_state=seed)


LABEL_SEPARATORS = (";", "|", ",")  # what separates the labels of one example in a text cell
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.05), 2)  # a label's decision threshold: one of


class Multilabel(Task):
    """A set of labels per example: none, one or several (the tags of a photo). A sigmoid
    per label and binary cross-entropy; a label is predicted when its probability reaches its
    threshold, tuned on the validation split for the label's F1 (``decide``)."""

    name = "multilabel"
    headline = "micro_f1"
    figures = ("micro_f1", "macro_f1", "auc", "loss", "exact_match")
    shown = ("micro_f1", "macro_f1", "loss")
    knobs = frozenset({"label_smoothing"})
    names_key = "label_names"
    classes = False
    sets = True
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
    figures = ("mean_iou", "dice", "fg_mean_iou", "fg_dice", "pixel_accuracy", "loss")
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


# ---------------------------------------------------------------------------- the pieces


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


def predictions(model, split) -> np.ndarray:
    """``model``'s outputs (class probabilities, values) for every example of ``split``."""
    return np.asarray(model.predict(split.pipeline(256, training=False, seed=0), verbose=0),
                      dtype="float64")


def probability_check(metric: str, score: float, keras_score: float, preds, keras_preds,
                      quantize: str) -> Verification:
    """An export of probabilities against the Keras model: float formats must agree within
    ``TOLERANCE``, int8 may lose at most ``INT8_MAX_DROP`` of ``metric``."""
    diff = float(np.abs(preds - keras_preds).max()) if len(preds) else 0.0
    if quantize == "int8":
        return Verification(metric, score, keras_score, diff,
                            f"{metric} drop <= {INT8_MAX_DROP}",
                            keras_score - score <= INT8_MAX_DROP)
    return Verification(metric, score, keras_score, diff,
                        f"max |probability difference| <= {TOLERANCE[quantize]:g}",
                        diff <= TOLERANCE[quantize])


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


def _label_values(y) -> np.ndarray:
    """Class labels as one value per example: a one-hot row becomes its column."""
    y = np.asarray(y)
    return (y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y).reshape(-1)


def _accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    return float((np.asarray(probs).argmax(axis=1) == y).mean()) if len(y) else float("nan")
