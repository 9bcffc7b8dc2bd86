"""Regression: one or more values per example, standardised while training, in the targets'
own units when scored.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import DataError

from ._base import figures_of, INT8_MAX_DROP, TOLERANCE, Task, Verification
from .keras_objects import regression_loss, standardised_loss


STRATA_BINS = 10  # a regression's first target is split at this many quantiles at most
STRATA_PER_BIN = 20  # ... and into no more bins than one per this many examples


class Regression(Task):
    """One or more numbers per example. The model's last dense layer predicts standardised
    targets and a fixed layer turns them into the targets' own units (the training split's
    mean and standard deviation), so exports return raw values; the loss compares
    standardised values, so no target's scale dominates it."""

    name = "regression"
    headline = "r2"
    figures = figures_of("regression")
    shown = ("rmse", "mae", "r2", "loss")
    knobs = frozenset({"loss"})
    names_key = "target_names"
    classes = False
    sklearn_kind = "regressor"
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
