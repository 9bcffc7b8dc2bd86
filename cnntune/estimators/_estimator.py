"""One estimator over every task, in scikit-learn's shape: the constructor only stores its
arguments (``get_params``, ``set_params`` and ``sklearn.base.clone`` work), ``fit`` runs or
continues a study, the fitted attributes end in ``_``.

``fit`` turns its inputs into a space's data settings (``_inputs``), writes the space it
searches (the auto space picked for the data, or the one given, with fit's settings on top)
beside them, and runs ``tuning.study.search`` on it: the same study, trial workers, MLflow
layout, deadline and exports as ``cnntune search``. Everything after fit reads the study back
from MLflow (``StudyView``), which is also how ``load`` reopens a finished study.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ..catalog import DEFAULT_ENGINE, DEFAULT_TASK
from ..errors import CnntuneError, ConfigError, InputError
from ..tracking.stores import DEFAULT_STORAGE, DEFAULT_TRACKING_URI, sqlite_path
from ..tuning.options import AUTO

# the share of fit's x held out for the trials' test figures (unless test_data is given): small,
# since the user scores the model on a test set of their own (evaluate) and every example
# held out is one the trials do not learn from (AutoKeras holds out none)
FIT_TEST_FRACTION = 0.05


def _inputs_errors(method):
    """Bad input reaches the caller as an InputError (a ValueError) with the CLI's text."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except InputError:
            raise
        except ConfigError as exc:
            raise InputError(str(exc)) from None

    return wrapper


def work_folder(tracking_uri: str) -> Path:
    """Where fit keeps the data files, spaces and pickled builders it writes: beside a local
    tracking store (``mlruns/estimators``), else in cnntune's cache folder."""
    db = sqlite_path(tracking_uri)
    if db is not None:
        return db.parent / "estimators"
    from ..data.store import cache_root

    return cache_root() / "estimators"


def _sklearn_base():
    """scikit-learn's BaseEstimator (get_params, set_params, clone, repr): imported with the
    estimators, never at ``import cnntune``."""
    from sklearn.base import BaseEstimator

    return BaseEstimator


class Estimator(_sklearn_base()):
    """A searched CNN for ``task`` (``catalog.TASKS``): ``fit(x, y)``, then ``predict``.

    Parameters are the CLI's, with its defaults: ``space`` (``auto``: picked for the data; a
    YAML file or a shipped space's name; or a space document, a dict), ``task`` and ``kind``
    (``image`` or ``sequence``; default: the named estimator's), ``timeout`` (seconds for
    each ``fit``), ``max_trials`` (trials each ``fit`` adds), ``engine``, ``algorithm``, ``pruner``,
    ``objective`` (default: the task's), ``study`` (default: named after the space and the
    data, so that fitting the same data again continues it), ``storage``, ``tracking_uri``,
    ``seed``, ``workers``, ``epochs`` (per trial), ``verbose`` (0: quiet; 1: the progress
    lines, or in Jupyter one updating display). ``model``: your own model builder, a function
    ``build(params, input_shape, outputs) -> keras.Model`` (or its ``"module:function"``)
    that each trial calls with the params the space samples (``cnntune.models.builder``); with
    the auto space, those are the training and augmentation knobs.
    """

    default_task = DEFAULT_TASK  # each named estimator's own (catalog.TASKS)
    default_kind = "image"  # what x holds: images (n, h, w[, c]) or sequences (n, steps[, c])

    def __init__(self, space: str | Path = AUTO, *, task: str | None = None,
                 kind: str | None = None, timeout: float | None = None,
                 max_trials: int | None = None, engine: str | None = None,
                 algorithm: str | None = None, pruner: str | None = None,
                 objective: str | None = None, study: str | None = None,
                 storage: str = DEFAULT_STORAGE, tracking_uri: str = DEFAULT_TRACKING_URI,
                 seed: int | None = None, workers: int | None = None,
                 epochs: int | None = None, verbose: int = 1, model=None):
        self.space = space
        self.model = model
        self.task = task
        self.kind = kind
        self.timeout = timeout
        self.max_trials = max_trials
        self.engine = engine
        self.algorithm = algorithm
        self.pruner = pruner
        self.objective = objective
        self.study = study
        self.storage = storage
        self.tracking_uri = tracking_uri
        self.seed = seed
        self.workers = workers
        self.epochs = epochs
        self.verbose = verbose

    # -- fitting ---------------------------------------------------------------------------

    @_inputs_errors
    def fit(self, x, y=None, validation_data=None, validation_split: float | None = None,
            class_weight: str | dict | None = None, *, test_data=None):
        """Search CNNs for ``x`` and ``y`` and keep the best.

        ``x``: numpy arrays (images (n, h, w[, c]), sequences (n, steps[, channels])), a
        ``tf.data.Dataset`` of (x, y) pairs, a path (an .npz, an image folder, a CSV, or an
        embedded set's name) or a pandas DataFrame of image paths (``y`` names its label
        column, default ``label``). ``validation_data``: (x_val, y_val) to validate on, else
        ``validation_split`` of x (default: the space's, 0.15) is. A small test split
        (``FIT_TEST_FRACTION``, 5%) is held out of x for the trials' test figures. ``class_weight``:
        ``balanced`` or {class: weight}. ``test_data``: (x_test, y_test) to score the trials'
        test figures on instead. Fitting the same data again continues the study."""
        from ..tasks import task as task_of
        from ..tuning.study import run

        opts = self._options()  # checked, and the timeout counting, before anything is written
        learn = task_of(self._task)
        if validation_split is not None and not 0 < validation_split < 0.5:
            raise InputError(f"fit(validation_split={validation_split}): give a fraction "
                             "between 0 and 0.5")
        inputs = self._inputs(x, y, validation_data, learn, test_data)
        space_file = self._write_space(inputs, validation_split, class_weight)
        progress = self._progress()
        with progress:
            result = run(opts.replace(space=str(space_file)), on_event=progress)
        if self.verbose:
            progress.summary(result)
        if result.best is None:
            raise CnntuneError(f"fit: no trial of study '{result.study}' completed; "
                               + (result.advice or "give more time (timeout) or trials"))
        self._fitted(result.study, inputs.classes)
        return self

    def _options(self):
        """This estimator's search options, as the CLI would make them (the space is set
        once fit has written it)."""
        from ..tuning.options import SearchOptions

        return SearchOptions(study=self.study, storage=self.storage,
                             tracking_uri=self.tracking_uri, trials=self.max_trials,
                             timeout=self.timeout, seed=self.seed, engine=self.engine,
                             algorithm=self.algorithm, pruner=self.pruner, epochs=self.epochs,
                             workers=self.workers)

    def _inputs(self, x, y, validation_data, learn, test_data=None):
        from ._inputs import inputs_of

        return inputs_of(x, y, validation_data, task=learn, kind=self._kind,
                         folder=self._folder(), test_data=test_data)

    def _folder(self) -> Path:
        return work_folder(self.tracking_uri)

    def _write_space(self, inputs, validation_split, class_weight) -> Path:
        """The space fit searches, as a file beside its data: the auto space for this data
        (or the one given), its data settings set to the inputs, fit's settings on top."""
        import yaml

        from ..space import load_space, read_yaml
        from ..tuning.plan import auto_plan

        data = dict(inputs.settings)
        if validation_split is not None:
            data["val_fraction"] = float(validation_split)
        task = self._task
        builder = self._builder()
        if isinstance(self.space, dict):  # a space document
            doc = dict(self.space)
        else:
            if str(self.space) == AUTO:
                sp, _ = auto_plan(None, task=task, settings=data)
            else:
                sp = load_space(self.space)
            doc = read_yaml(sp.text)
        if doc.get("task", DEFAULT_TASK) != task and str(self.space) != AUTO:
            raise InputError(f"space '{doc.get('name', self.space)}' is for {doc.get('task')}, "
                             f"this estimator for {task}; give a {task} space or the auto "
                             "space")
        if builder is not None:
            doc["model"] = {"builder": builder}
            if str(self.space) == AUTO:  # the auto space's training and augmentation knobs
                from ..knobs import AROUND_MODEL

                doc["name"] = f"{doc.get('name', 'auto')}-own"
                doc["params"] = {k: v for k, v in doc["params"].items() if k in AROUND_MODEL}
                doc["start_from"] = []  # cnntune's known-good starts are its families'
        doc["task"] = task
        doc["data"] = {"test_fraction": FIT_TEST_FRACTION,
                       **{k: v for k, v in (doc.get("data") or {}).items()
                          if k in ("val_fraction", "test_fraction")}, **data}
        training = doc.setdefault("training", {})
        if self.objective is not None:
            training["objective"] = self.objective
        if class_weight is not None:
            training["class_weight"] = class_weight if isinstance(class_weight, str) else \
                {str(k): float(v) for k, v in class_weight.items()}
        folder = self._folder()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{doc.get('name', 'space')}-{inputs.name}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        load_space(path)  # checked before anything else is written
        return path

    def _builder(self) -> str | None:
        """The space's ``model.builder`` for ``model=``: checked to import and be callable."""
        if self.model is None:
            return None
        from ..models.builder import load, reference
        from ..space import ModelSettings

        if isinstance(self.model, str):
            load(ModelSettings(builder=self.model))
            return self.model
        if not callable(self.model):
            raise InputError(f"model={self.model!r}: give a function build(params, "
                             "input_shape, outputs) that returns a Keras model")
        return reference(self.model, self._folder())

    @property
    def _task(self) -> str:
        return self.task or self.default_task

    def __sklearn_tags__(self):
        """scikit-learn's view of it: a classifier (stratified folds in cross_val_score) or
        a regressor, by its task."""
        tags = super().__sklearn_tags__()
        from ..tasks import task

        tags.estimator_type = task(self._task).sklearn_kind
        return tags

    @property
    def _kind(self) -> str:
        kind = self.kind or self.default_kind
        if kind not in ("image", "sequence"):
            raise InputError(f"kind={kind!r}: give image or sequence")
        return kind

    def _progress(self):
        from rich.console import Console

        from ..cli.progress import Progress

        return Progress(Console(soft_wrap=True), quiet=not self.verbose)

    def _fitted(self, study: str, classes=None) -> None:
        """Read the study's best trial back: the fitted attributes."""
        import os

        from ..tracking.studies import StudyView

        # MLflow draws a progress bar per artifact it downloads (the model): not in a notebook
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

        view = StudyView(study, self.tracking_uri)
        best = view.best()
        self.study_name_ = study
        self.best_trial_ = best.number
        self.best_params_ = dict(best.params)
        self.best_score_ = best.metrics.get(view.objective)
        self.objective_ = view.objective
        spec = view.data_spec
        self.input_shape_ = tuple(spec["input_shape"])
        if classes is None and view.task.classes:
            classes = _stored_classes(spec, view.task)
        self.classes_ = classes if classes is not None else np.asarray(spec["class_names"])
        self._cache = {"view": view, "best": best}

    def _cached(self, key: str, make):
        """A value read back from the study once (the study view, the best trial, its model,
        its decision); not pickled with the estimator, read again after."""
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            cache[key] = make()
        return cache[key]

    @property
    def _view(self):
        from ..tracking.studies import StudyView

        self._check_fitted()
        return self._cached("view", lambda: StudyView(self.study_name_, self.tracking_uri))

    @property
    def _best(self):
        return self._cached("best", lambda: self._view.trial(self.best_trial_))

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_cache", None)  # an MLflow client, a Keras model: read again after
        return state

    # -- the fitted model ------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "study_name_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call "
                                 "fit(x, y) first, or cnntune.load(study)")

    @property
    def model_(self):
        """The best trial's Keras model (loaded from MLflow once)."""
        self._check_fitted()

        def load():
            from .._quiet import import_tensorflow_quietly

            import_tensorflow_quietly()
            return self._view.load_model(self._best)

        return self._cached("model", load)

    def _x(self, x, where: str) -> np.ndarray:
        self._check_fitted()
        from ._inputs import _from_tf_dataset, _is_tf_dataset

        if _is_tf_dataset(x):
            x = _from_tf_dataset(x, where)[0]
        x = np.asarray(x)
        want = self.input_shape_
        if x.ndim == len(want) and len(want) >= 3 and want[-1] == 1 or \
                x.ndim == len(want) and len(want) == 2 and want[-1] == 1:
            x = x[..., None]  # (n, h, w) images of a one-channel model
        if x.shape[1:] != want:
            raise InputError(f"{where}(x): x holds examples of shape {x.shape[1:]}, the model "
                             f"takes {want}; give examples shaped as fit's")
        if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
            raise InputError(f"{where}(x): must hold finite numbers; clean NaN/inf values")
        return x.astype("float32")

    def _outputs(self, x, where: str) -> np.ndarray:
        x = self._x(x, where)
        return np.asarray(self.model_.predict(x, verbose=0), "float64")

    @_inputs_errors
    def predict_proba(self, x) -> np.ndarray:
        """The model's outputs: class probabilities (a multi-label model's per label, a
        segmentation's per pixel)."""
        return self._outputs(x, "predict_proba")

    @_inputs_errors
    def predict(self, x) -> np.ndarray:
        """Predictions in the user's terms: class labels as fit's y held them (a multi-label
        model's 0/1 indicator rows, a segmentation's masks), a regression's values."""
        from ..tasks import task as task_of

        out = self._outputs(x, "predict")
        return task_of(self._task).decided(out, self._decision(), self.classes_)

    def _decision(self) -> dict:
        """What turns the best trial's outputs into decisions (``Task.decide``, logged with
        the trial as decision.json): a multi-label model's thresholds; else {}."""
        return self._cached("decision", lambda: self._view.decision(self._best))

    def _targets(self, y, n: int, where: str) -> np.ndarray:
        """``y`` in the study's terms (class indices), checked against the classes fit saw."""
        y = np.asarray(y)
        if len(y) != n:
            raise InputError(f"{where}(x, y): x has {n} examples but y has {len(y)}; give one "
                             "label per example")
        from ..tasks import task as task_of

        if not task_of(self._task).classes:
            return y
        idx = np.searchsorted(self.classes_, y)
        bad = (idx >= len(self.classes_)) | \
            (self.classes_[np.minimum(idx, len(self.classes_) - 1)] != y)
        if bad.any():
            raise InputError(f"{where}(x, y): y holds class {y[bad][0]!r}, which fit never "
                             f"saw (its classes: {', '.join(map(str, self.classes_))})")
        return idx

    @_inputs_errors
    def evaluate(self, x, y) -> dict[str, float]:
        """Every figure the study's task scores (accuracy, loss, macro F1... ; a
        regression's RMSE, MAE, R^2), of the best model on ``x`` and ``y``."""
        from .. import knobs as knob_defs
        from ..tasks import task as task_of

        learn = task_of(self._task)
        preds = self._outputs(x, "evaluate")
        y = self._targets(y, len(preds), "evaluate")
        spec = self._view.data_spec
        return learn.score(self.model_, y, preds, "", knob_defs.resolve(self.best_params_),
                           spec.get("prep", {}), self._decision(),
                           [str(c) for c in spec["class_names"]])

    def score(self, x, y) -> float:
        """scikit-learn's score: accuracy (classifiers), R^2 (regressors), exact-match
        ratio (multi-label), mean IoU (segmentation)."""
        from ..tasks import task as task_of

        return float(self.evaluate(x, y)[task_of(self._task).sklearn_score])

    # -- the study --------------------------------------------------------------------------

    @property
    def study_(self):
        """The Optuna study (None for a KerasTuner study, which keeps none)."""
        self._check_fitted()
        from ..tuning.engines import abilities

        if not abilities(self._view.settings.get("engine", DEFAULT_ENGINE)).optuna_storage:
            return None
        import optuna

        from ..tuning.engines.optuna import stored_study

        storage, _ = stored_study(self.storage, self.study_name_)
        return optuna.load_study(study_name=self.study_name_, storage=storage)

    @property
    def results_(self):
        """Every trial of the study as a DataFrame (``cnntune trials``' table)."""
        self._check_fitted()
        from ..reports.tables import trials_frame

        return trials_frame(self._view)

    def export_model(self):
        """The best model, for inference, as a Keras model."""
        from ..formats.convert import inference_model

        return inference_model(self.model_)

    @_inputs_errors
    def export(self, path: str | Path, format: str = "keras", quantize: str = "none"):
        """Export the best model (``cnntune export``): keras, savedmodel, tflite, onnx,
        verified by running it; returns the export's report."""
        self._check_fitted()
        from ..deploy.export import export_study

        return export_study(self.study_name_, fmt=format, out=path,
                            tracking_uri=self.tracking_uri, quantize=quantize,
                            trial=self.best_trial_)

    def report(self, out: str | Path | None = None):
        """The study's one-page report (``cnntune report``); shown inline in Jupyter."""
        self._check_fitted()
        from ..reports.report import build_report

        out = Path(out) if out is not None else self._folder() / f"{self.study_name_}.html"
        path, _ = build_report(self.study_name_, tracking_uri=self.tracking_uri, out=out)
        return Report(path)


class Report:
    """A written report: its path, and its page inline in Jupyter (``_repr_html_``)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Report('{self.path}')"

    def _repr_html_(self) -> str:
        import html

        page = html.escape(self.path.read_text(), quote=True)
        return (f'<iframe srcdoc="{page}" style="width:100%;height:900px;border:0" '
                'sandbox="allow-scripts"></iframe>')


def _stored_classes(spec: dict, task) -> np.ndarray:
    """The labels as fit's y held them, from the npz it wrote (else the class names)."""
    path = spec.get("path")
    if spec.get("source") == "npz" and path and Path(path).is_file():
        with np.load(path, allow_pickle=False) as f:
            if task.names_key in f.files:
                names = f[task.names_key]
                for k in (f"{task.targets_key}_train",):
                    if k in f.files:
                        raw = np.unique(f[k])
                        if len(raw) == len(names) and np.array_equal(raw.astype(str), names):
                            return raw
    return np.asarray(spec["class_names"])


class ImageClassifier(Estimator):
    """A searched CNN classifying images, one class per image (y: labels of any type)."""

    default_task = "classification"


class ImageRegressor(Estimator):
    """A searched CNN predicting one or more numbers per image (y: (n,) or (n, targets))."""

    default_task = "regression"


class MultiLabelClassifier(Estimator):
    """A searched CNN predicting a set of labels per image, none or several (y: 0/1 rows)."""

    default_task = "multilabel"


class ImageSegmenter(Estimator):
    """A searched U-Net predicting a class per pixel (y: masks of class indices, (n, h, w))."""

    default_task = "segmentation"


class SequenceClassifier(Estimator):
    """A searched 1-D CNN classifying sequences (x: (n, steps[, channels]))."""

    default_task = "classification"
    default_kind = "sequence"


def load(study: str, *, storage: str = DEFAULT_STORAGE,
         tracking_uri: str = DEFAULT_TRACKING_URI) -> Estimator:
    """A finished study, reopened as a fitted estimator of its task (nothing is searched)."""
    from ..tracking.studies import StudyView

    view = StudyView(study, tracking_uri)
    kinds = (ImageClassifier, ImageRegressor, MultiLabelClassifier, ImageSegmenter,
             SequenceClassifier)
    kind = view.data_spec.get("kind") or "image"
    cls = next((c for c in kinds if c.default_task == view.task.name and
                c.default_kind == kind), Estimator)
    own = cls is Estimator  # a task no named estimator has (a sequence regression)
    est = cls(study=study, storage=storage, tracking_uri=tracking_uri,
              task=view.task.name if own else None, kind=kind if own else None)
    est._fitted(study)
    return est
