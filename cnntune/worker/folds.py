"""k-fold cross-validation inside one trial (``training.folds: k``), for small data sets where
one validation split is too noisy to rank trials.

Train + val are dealt into k stratified folds, the same for every trial (``Dataset.fold``).
The trial's model is trained k times from fresh weights, each time validated on one fold and
trained on the others, with the same epochs, early stopping and deadline as a plain trial.
Its objective is the mean of the folds' best-epoch values; the standard deviation and each
fold's value are logged beside it (``<objective>_std``, ``<objective>_fold<i>``). After each
fold the engine sees the running mean (``report(fold, mean)``), so a hopeless trial stops
after its first fold. Epochs are numbered on across folds, so the per-epoch curves in MLflow
run one after another (the ``fold`` metric says which). The test split stays untouched: the
last fold's model is the trial's model, scored on it as in a plain trial; ``export
--retrain`` trains on all of train + val.
"""

from __future__ import annotations

import statistics

from ..catalog import Stop
from .fitting import build_trial_model, fit_split, val_metrics
from .train import EpochHook, FitResult, Report


def fit_folds(params: dict, model, knobs: dict, data, settings, *, number: int,
              report: Report | None, on_epoch: EpochHook | None, clock=None):
    """Train ``model`` (and fresh copies of it) on each fold; returns the last fold's model,
    a FitResult over all folds (history appended, ``pruned`` when the engine stopped the
    trial between folds) and the mean validation metrics with the objective's spread.
    ``clock``: the trial's (``TrialClock``), shared by its folds."""
    k, objective = settings.folds, settings.objective
    done = 0  # epochs of the folds before this one

    def numbered(epoch: int, logs: dict) -> None:
        if on_epoch is not None:
            on_epoch(done + epoch, {**logs, "fold": float(fold + 1)})

    total = FitResult()
    per_fold: list[dict[str, float]] = []
    best_epochs = []
    for fold in range(k):
        if fold:
            model = build_trial_model(params, data, settings.base_dir, settings.own_model)[1]
        part = data.fold(fold, k)
        fitted = fit_split(model, knobs, part, settings, number=number, report=None,
                           on_epoch=numbered, clock=clock)
        per_fold.append(val_metrics(model, fitted, part, settings, knobs))
        best_epochs.append(fitted.best_epoch)
        for key, values in fitted.history.items():
            total.history.setdefault(key, []).extend(values)
        done += fitted.epochs_run
        total.fit_seconds += fitted.fit_seconds
        total.stopped = fitted.stopped
        mean = statistics.fmean(m[objective] for m in per_fold)
        if fitted.stopped == Stop.DEADLINE or (report is not None and report(fold + 1, mean)):
            total.pruned = fitted.stopped != Stop.DEADLINE
            total.stopped = Stop.PRUNED if total.pruned else Stop.DEADLINE
            break
    total.epochs_run = done
    # what export --retrain trains for on train + val: the folds' typical best epoch
    total.best_epoch = max(1, round(statistics.fmean(best_epochs)))
    metrics = {key: statistics.fmean(m[key] for m in per_fold)
               for key in per_fold[0] if all(key in m for m in per_fold)}
    values = [m[objective] for m in per_fold]
    metrics[f"{objective}_std"] = statistics.pstdev(values)
    metrics.update({f"{objective}_fold{i + 1}": v for i, v in enumerate(values)})
    metrics["folds"] = float(len(values))
    return model, total, metrics
