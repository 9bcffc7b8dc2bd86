"""Classical baselines on a study's own splits: was a CNN worth it?

The task's classical models (``Task.baselines``: for a classification logistic regression,
an RBF SVM and a random forest; for a regression ridge and a random-forest regressor), from
scikit-learn, trained on the study's training split (inputs flattened; standardised for the
linear and kernel models), scored on the same validation and test splits, and logged as runs
beside the trials: children of the study run tagged ``cnntune.role = baseline``, with the
task's figures (``val_accuracy`` / ``test_accuracy``, ``val_rmse`` / ``test_rmse``, ...) under
the same names as trials, so the MLflow UI and `cnntune trials` show them side by side.
"""

from __future__ import annotations

import time



MAX_TRAIN = 20000  # training examples at most (the SVM is quadratic in them)
MAX_VALUES = 200_000_000  # training values at most (800 MB as float32)


def run_baselines(data, *, seed: int = 0, names=None) -> list[dict]:
    """Fit and score each of the task's baselines (or ``names``); one dict per model: name,
    params, metrics, and the task's headline figure (``accuracy``, ``r2``)."""
    import numpy as np

    from ..data import stratified_split

    def flat(x):
        return x.reshape(len(x), -1).astype("float32")

    task = data.task
    if not task.baselines:
        from ..errors import NotApplicable

        raise NotApplicable(f"no classical baseline fits task {task.name} (a class per pixel "
                            "of whole images); compare trials with `cnntune trials` instead")
    y_train = data.train.y
    # the SVM is quadratic in examples and every model holds its inputs as float32: beyond
    # MAX_TRAIN examples or MAX_VALUES values, a stratified subsample (read alone, so a
    # folder stored on disk is never loaded whole)
    size = int(np.prod(data.input_shape))
    strata = task.strata(y_train)
    keep = min(MAX_TRAIN, max(len(np.unique(strata)) * 3, MAX_VALUES // size))
    idx = None
    if len(y_train) > keep:
        idx = np.sort(stratified_split(strata, keep, seed)[1])
        y_train = y_train[idx]
    x_train = flat(data.train.images(idx))
    fit_y = y_train[:, 0] if y_train.ndim == 2 and y_train.shape[1] == 1 else y_train
    out = []
    for name in names or task.baselines:
        model = task.baseline(name, seed)
        t0 = time.perf_counter()
        model.fit(x_train, fit_y)
        fit_s = time.perf_counter() - t0
        metrics = {"fit_seconds": fit_s, "n_train": float(len(y_train))}
        for part in ("val", "test"):  # every example, a chunk at a time
            split = getattr(data, part)
            pred = np.concatenate([model.predict(flat(x)) for x in split.chunks()])
            # the figures a CNN trial is also measured by
            metrics.update(task.label_scores(split.y, pred, f"{part}_"))
        est = model[-1] if hasattr(model, "steps") else model
        params = {k: v for k, v in est.get_params().items()
                  if isinstance(v, int | float | str | bool) and v is not None}
        out.append({"name": name, "params": params, "metrics": metrics,
                    "headline": task.headline})
    return out


def baseline_study(study: str, *, tracking_uri: str, names=None) -> list[dict]:
    """Run the baselines on a study's data and log them beside its trials."""
    from ..tracking.runs import log_baselines
    from ..tracking.studies import StudyView

    view = StudyView(study, tracking_uri)
    results = run_baselines(view.load_data(), seed=int(view.settings.get("seed", 0)),
                            names=names)
    log_baselines(view.client, view.experiment_id, view.parent.info.run_id, study, results)
    return results
