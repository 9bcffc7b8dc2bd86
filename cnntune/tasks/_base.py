"""The base of every task: ``Task``, what an export's check against the Keras model found
(``Verification``), and the predictions every task scores from.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..catalog import TASK_OBJECTIVES


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


def figures_of(task: str, *more: str) -> tuple[str, ...]:
    """A task's figures: its objectives as catalog.TASK_OBJECTIVES names them and how each
    improves (written there once, without their ``val_``), then ``more`` that are measured
    but never optimised."""
    return (*(name[len("val_"):] for name in TASK_OBJECTIVES[task]), *more)


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
    # what scikit-learn calls an estimator of the task (its folds stratify a classifier's)
    sklearn_kind: str | None = None
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
