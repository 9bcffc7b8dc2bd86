"""KerasTuner's Tuner, over cnntune's search: a ``build_model(hp)`` written for KerasTuner (or a
``kt.HyperModel``) runs unchanged under Optuna's samplers and pruners, and every trial gets
cnntune's worker processes, early stopping, MLflow runs and exports.

    tuner = cnntune.Tuner(build_model, objective="val_accuracy", max_trials=10)
    tuner.search(x_train, y_train, epochs=5, validation_data=(x_val, y_val))
    model = tuner.get_best_models(1)[0]

The hypermodel's hp calls are its space, sampled as it runs (``tuning.hypermodel``). Its model
takes the inputs as they are given to ``search`` (no scaling in front, unlike cnntune's own
families), and keeps the optimizer it was compiled with; cnntune sets the task's loss, so
one-hot targets (``to_categorical``) are read as the classes they code. The validation data,
when given, are also the split the trials' test figures are scored on, so that training keeps
every example, as KerasTuner's does.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..catalog import DEFAULT_ENGINE, DEFAULT_TASK, State
from ..errors import InputError
from ..tracking.stores import DEFAULT_STORAGE, DEFAULT_TRACKING_URI

KERAS_BATCH = 32  # Keras' fit's default batch size, which a KerasTuner search trains with


class Tuner:
    """``Tuner(hypermodel, objective=None, max_trials=10, ...)``: see the module docstring.

    ``objective``: a name (``"val_accuracy"``, ``"val_loss"``) or a ``kt.Objective`` (its
    name is read); default: the task's. ``directory`` and ``project_name`` (KerasTuner's):
    the folder the study's stores go in, and the study's name; ``overwrite=True`` starts a
    new study beside the old one (nothing is deleted). ``timeout``, ``algorithm``,
    ``pruner``, ``seed``, ``workers``, ``storage``, ``tracking_uri``: as ``cnntune search``'s.
    """

    def __init__(self, hypermodel, objective=None, max_trials: int = 10, *,
                 task: str = DEFAULT_TASK, timeout: float | None = None,
                 algorithm: str | None = None, pruner: str | None = None,
                 seed: int | None = None, workers: int | None = None,
                 directory: str | Path | None = None, project_name: str | None = None,
                 overwrite: bool = False, executions_per_trial: int = 1,
                 storage: str | None = None, tracking_uri: str | None = None,
                 verbose: int = 1):
        if executions_per_trial != 1:
            raise InputError(f"Tuner(executions_per_trial={executions_per_trial}): cnntune "
                             "trains each configuration once (its pruner and early stopping "
                             "judge the noise); drop executions_per_trial")
        if not (callable(hypermodel) or callable(getattr(hypermodel, "build", None))):
            raise InputError(f"Tuner(hypermodel={hypermodel!r}): give build_model(hp) or a "
                             "kt.HyperModel")
        self.hypermodel = hypermodel
        self.objective = getattr(objective, "name", objective)
        self.max_trials, self.task, self.timeout = max_trials, task, timeout
        self.algorithm, self.pruner, self.seed, self.workers = algorithm, pruner, seed, workers
        self.verbose = verbose
        folder = Path(directory).expanduser() if directory is not None else None
        self.storage = storage or (f"journal:{folder}/optuna.journal" if folder
                                   else DEFAULT_STORAGE)
        self.tracking_uri = tracking_uri or (f"sqlite:///{folder.resolve()}/mlflow.db"
                                             if folder else DEFAULT_TRACKING_URI)
        self.study = project_name
        if overwrite:
            self.study = f"{project_name or self._name}-{time.strftime('%Y%m%d-%H%M%S')}"
        self.estimator_ = None

    @property
    def _name(self) -> str:
        fn = self.hypermodel
        name = getattr(fn, "__name__", None) or type(fn).__name__
        return "".join(c if c.isalnum() or c in "_.-" else "-" for c in name)

    def search(self, x, y=None, *, epochs: int | None = None, validation_data=None,
               validation_split: float | None = None, batch_size: int | None = None,
               callbacks=None, verbose=None, **fit_kwargs):
        """Search as KerasTuner's ``tuner.search`` does, with ``model.fit``'s arguments:
        ``epochs`` per trial, ``validation_data`` or ``validation_split``, ``batch_size``
        (Keras' default 32), ``callbacks`` (an ``EarlyStopping``'s patience is the trials';
        cnntune prunes and tracks itself). Searching again continues the study."""
        from .._quiet import import_tensorflow_quietly
        from ._estimator import Estimator

        if fit_kwargs:
            raise InputError(f"search({', '.join(fit_kwargs)}=...): not taken by cnntune's "
                             "trials; drop it")
        patience = _patience(callbacks)
        y = _classes_of(y, self.task)
        if validation_data is not None:
            validation_data = (validation_data[0], _classes_of(validation_data[1], self.task))
        import_tensorflow_quietly()
        est = Estimator(space=self._space(batch_size or KERAS_BATCH, patience), task=self.task,
                        timeout=self.timeout, max_trials=self.max_trials, algorithm=self.algorithm,
                        pruner=self.pruner, objective=self.objective, study=self.study,
                        storage=self.storage, tracking_uri=self.tracking_uri, seed=self.seed,
                        workers=self.workers, epochs=epochs,
                        verbose=self.verbose if verbose is None else verbose)
        est.fit(x, y, validation_data=validation_data, validation_split=validation_split,
                test_data=validation_data)
        self.estimator_ = est
        return self

    def _space(self, batch_size: int, patience: int | None) -> dict:
        from ..models.builder import reference
        from ._estimator import work_folder

        # Keras' epochs, as KerasTuner trains them: validated once an epoch on the whole of
        # validation_data (not cnntune's checks on part of it several times an epoch), so the
        # best epoch is chosen, pruned and reported as a Keras user reads them
        training = {"epochs": 10, "checks_per_epoch": 1,
                    **({"patience": patience} if patience else {})}
        return {"name": f"hypermodel-{self._name}", "task": self.task, "training": training,
                "search": {"engine": DEFAULT_ENGINE}, "start_from": [],
                "model": {"hypermodel": reference(self.hypermodel, work_folder(self.tracking_uri))},
                "params": {"batch_size": batch_size}}

    # -- results, as KerasTuner gives them ------------------------------------------------

    def _fitted(self):
        if self.estimator_ is None:
            raise InputError("the tuner has not searched yet; call tuner.search(x, y, ...)")
        return self.estimator_

    def _ranked(self, n: int) -> list:
        est = self._fitted()
        view = est._view
        done = [t for t in view.trials() if t.state == State.COMPLETE and
                view.objective in t.metrics]
        best_first = view.direction == "minimize"
        done.sort(key=lambda t: t.metrics[view.objective], reverse=not best_first)
        return done[:n]

    def get_best_hyperparameters(self, num_trials: int = 1) -> list:
        """KerasTuner ``HyperParameters`` of the best trials, best first:
        ``build_model(hps[0])`` builds the best model again."""
        from ..models.builder import replay

        return [replay(t.params) for t in self._ranked(num_trials)]

    def get_best_models(self, num_models: int = 1) -> list:
        """The trained models of the best trials, best first, among those whose model was
        logged (each trial that was the study's best when it ended logs its model)."""
        view = self._fitted()._view
        return [view.load_model(t) for t in self._ranked(len(view.trials()))
                if t.model_logged][:num_models]

    def results_summary(self, num_trials: int = 10) -> None:
        """Print the best trials, as KerasTuner's ``results_summary`` does."""
        view = self._fitted()._view
        print("Results summary")
        print(f"Results in study '{view.study}' (MLflow: {self.tracking_uri})")
        print(f"Showing {num_trials} best trials")
        print(f'Objective(name="{view.objective}", direction="{view.direction[:3]}")')
        for t in self._ranked(num_trials):
            print(f"\nTrial {t.number} summary\nHyperparameters:")
            for k, v in t.params.items():
                print(f"{k}: {v}")
            print(f"Score: {t.metrics[view.objective]}")

    def __getattr__(self, name):
        # the estimator's fitted attributes (best_params_, study_, results_, export, ...)
        if name.startswith("__") or name == "estimator_":
            raise AttributeError(name)
        est = self.__dict__.get("estimator_")
        if est is None:
            raise AttributeError(name)
        return getattr(est, name)


def _patience(callbacks) -> int | None:
    """An EarlyStopping's patience; other callbacks cannot follow the trials into their
    worker processes."""
    patience = None
    for cb in callbacks or []:
        if type(cb).__name__ == "EarlyStopping":
            patience = max(1, int(cb.patience))
        else:
            raise InputError(f"search(callbacks=[{type(cb).__name__}]): trials train in "
                             "cnntune's worker processes, which take an EarlyStopping's "
                             "patience only; drop the others (cnntune tracks every epoch in "
                             "MLflow)")
    return patience


def _classes_of(y, task: str):
    """One-hot rows (``to_categorical``'s) as the class indices they code."""
    from ..tasks import task as task_named

    if y is None or not task_named(task).classes:  # one class per example, one-hot coded
        return y
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1 and np.isin(y, (0, 1)).all() and \
            (y.sum(axis=1) == 1).all():
        return y.argmax(axis=1)
    return y
