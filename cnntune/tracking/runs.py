"""Everything MLflow, written with the MLflow client (no autologging, no deprecated callbacks).

Layout: one experiment per study (named after it); a parent run ``study-<name>`` carrying the
space file, the settings and the best trial so far; one child run ``trial-NNN`` per trial with
its active params, per-epoch metrics (``epoch/loss``, ``epoch/val_accuracy``, ...), the final
model's metrics (``val_accuracy``, ``test_accuracy``, ``train_accuracy``, ``n_params``, ...),
and its state as the tag ``cnntune.state`` (COMPLETE / PRUNED / FAIL) and as the MLflow status
(FINISHED / KILLED / FAILED). The model of each new best trial is logged to its run in the Keras
flavour with a signature.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from contextlib import contextmanager
from typing import Any

from ..catalog import OBJECTIVES, State
from ..errors import StorageError
from ..tasks import all_test_figures
from .stores import redact, require_tracking_store, sqlite_path

# the best trial's figures copied onto the study run (best_<name>), as the best changes
BEST_METRICS = tuple(dict.fromkeys((*OBJECTIVES, *all_test_figures(), "n_params")))
NOTE = "mlflow.note.content"  # the Markdown description the MLflow UI shows
STATUS = {State.COMPLETE: "FINISHED", State.PRUNED: "KILLED", State.FAIL: "FAILED",
          State.INTERRUPTED: "KILLED"}
MODEL_NAME = "model"


def _quiet_logs() -> None:
    for name in ("alembic", "mlflow", "mlflow.store.db.utils", "mlflow.tracking"):
        logging.getLogger(name).setLevel(logging.WARNING)


class Tracker:
    """Writes a study's runs. ``tracking_uri`` is any MLflow tracking URI."""

    def __init__(self, tracking_uri: str):
        self.tracking_uri = tracking_uri
        self._client = None
        self.experiment_id: str | None = None

    @property
    def client(self):
        if self._client is None:
            _quiet_logs()
            import mlflow
            from mlflow.tracking import MlflowClient

            db = sqlite_path(self.tracking_uri)
            if db is not None:
                db.parent.mkdir(parents=True, exist_ok=True)
            mlflow.set_tracking_uri(self.tracking_uri)
            self._client = _CtrlCHeld(MlflowClient(self.tracking_uri))
        return self._client

    def _artifact_location(self, study: str) -> str | None:
        db = sqlite_path(self.tracking_uri)
        if db is None:
            return None  # a tracking server decides where artifacts go
        return (db.resolve().parent / "artifacts" / study).as_uri()

    def check(self, *, exists: bool = False) -> None:
        """Fail fast, before anything is written, when the tracking store cannot be used.

        A tracking server is probed on its /health endpoint with a short timeout (MLflow's own
        client would retry for minutes); other stores are opened and read once. ``exists``
        (commands that only read): a SQLite store that is not there is an error, not made.
        """
        uri = self.tracking_uri
        if exists:
            require_tracking_store(uri)
        if uri.startswith(("http://", "https://")):
            import urllib.error
            import urllib.request

            try:
                with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=10):
                    pass
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", exc)
                raise StorageError(f"MLflow tracking server '{redact(uri)}' cannot be reached "
                                   f"({reason}); start it or fix --tracking-uri") from None
            return
        try:
            # a reader opens a store that is there: no schema to make, so no lock file either
            with _first_use_lock(None if exists else sqlite_path(uri)):
                self.client.search_experiments(max_results=1)
        except Exception as exc:
            raise StorageError(_store_error(uri, exc)) from None

    # -- study -----------------------------------------------------------------------------

    def start_study(self, study: str, *, space_text: str, settings: dict[str, Any],
                    parent_run_id: str | None = None, data_spec: dict | None = None,
                    experiment_tags: dict[str, str] | None = None) -> str:
        """Create (or, on resume, reopen) the study's experiment and parent run; set
        ``experiment_tags`` on the experiment (each time: a resumed study gets today's)."""
        try:
            client = self.client
            exp = client.get_experiment_by_name(study)
            if exp is None:
                self.experiment_id = client.create_experiment(
                    study, artifact_location=self._artifact_location(study),
                    tags={"cnntune.study": study})
            elif exp.lifecycle_stage == "deleted":
                client.restore_experiment(exp.experiment_id)
                self.experiment_id = exp.experiment_id
            else:
                self.experiment_id = exp.experiment_id
            for key, value in (experiment_tags or {}).items():
                client.set_experiment_tag(self.experiment_id, key, value)
            if parent_run_id and self._run_exists(parent_run_id):
                client.update_run(parent_run_id, status="RUNNING")
                client.log_text(parent_run_id, json.dumps(settings, indent=2, default=str),
                                f"sessions/{time.strftime('%Y%m%d-%H%M%S')}.json")
                return parent_run_id
            run = client.create_run(self.experiment_id, run_name=f"study-{study}",
                                    tags={"cnntune.role": "study", "cnntune.study": study})
            rid = run.info.run_id
            from mlflow.entities import Param

            client.log_batch(rid, params=[Param(k, _param_str(v)) for k, v in settings.items()])
            client.log_text(rid, space_text, "space.yaml")
            if data_spec is not None:  # how to load the same data again (export, explain)
                client.log_dict(rid, data_spec, "data.json")
            return rid
        except StorageError:
            raise
        except Exception as exc:
            raise StorageError(_store_error(self.tracking_uri, exc)) from None

    def _run_exists(self, run_id: str) -> bool:
        try:
            run = self.client.get_run(run_id)
        except Exception:
            return False
        return run.info.experiment_id == self.experiment_id and \
            run.info.lifecycle_stage == "active"

    def update_best(self, parent_run_id: str, number: int, run_id: str, params: dict,
                    metrics: dict) -> None:
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        m = [Metric(f"best_{k}", float(v), now, number) for k, v in metrics.items()
             if k in BEST_METRICS]
        m.append(Metric("best_trial", float(number), now, number))
        tags = [RunTag("best.trial", str(number)), RunTag("best.run_id", run_id)]
        tags += [RunTag(f"best.{k}", _param_str(v)) for k, v in params.items()]
        self.client.log_batch(parent_run_id, metrics=m, tags=tags)

    def describe_study(self, parent_run_id: str, markdown: str, line: str) -> None:
        """The study's description, rendered by the UI: ``markdown`` on the study run's page,
        ``line`` on the experiment's (and, raw, in the experiments list)."""
        self.client.set_tag(parent_run_id, NOTE, markdown)
        self.client.set_experiment_tag(self.experiment_id, NOTE, line)

    def baselines(self) -> list[dict]:
        return baseline_runs(self.client, self.experiment_id)

    def log_baselines(self, parent_run_id: str, study: str, results: list[dict]) -> None:
        log_baselines(self.client, self.experiment_id, parent_run_id, study, results)

    def end_study(self, parent_run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(parent_run_id, status=status)

    # -- trials ----------------------------------------------------------------------------

    def start_trial(self, parent_run_id: str, study: str, number: int, params: dict,
                    tags: dict[str, str]) -> str:
        from mlflow.entities import Param

        run = self.client.create_run(
            self.experiment_id, run_name=f"trial-{number:03d}",
            tags={"mlflow.parentRunId": parent_run_id, "cnntune.role": "trial",
                  "cnntune.study": study, "cnntune.trial": str(number),
                  "cnntune.state": State.RUNNING.value, **tags})
        rid = run.info.run_id
        if params:
            self.client.log_batch(rid, params=[Param(k, _param_str(v))
                                               for k, v in params.items()])
        return rid

    def log_epoch(self, run_id: str, epoch: int, logs: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(f"epoch/{k}", float(v), now, epoch)
                                               for k, v in logs.items()])

    def end_trial(self, run_id: str, state: str, metrics: dict[str, float],
                  error: str | None = None, tags: dict[str, str] | None = None) -> None:
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        tags = [RunTag("cnntune.state", state)] + [RunTag(k, str(v)) for k, v in
                                                   (tags or {}).items()]
        if error:
            tags.append(RunTag("cnntune.error", error[:5000]))
        self.client.log_batch(run_id, metrics=[Metric(f"train_{k}" if k in (
            "accuracy", "loss") else k, float(v), now, 0) for k, v in metrics.items()],
            tags=tags)
        self.client.set_terminated(run_id, status=STATUS.get(state, "FAILED"))

    def log_confusion(self, run_id: str, matrix: list[list[int]], class_names: list[str],
                      png: bytes) -> None:
        """A trial's test confusion matrix: ``confusion_test.json`` (classes, rows true,
        columns predicted) and ``png``, its picture, as ``confusion_test.png``."""
        import tempfile
        from pathlib import Path

        self.client.log_dict(run_id, {"split": "test", "classes": list(class_names),
                                      "matrix": matrix}, "confusion_test.json")
        with tempfile.TemporaryDirectory(prefix="cnntune-cm-") as d:
            path = Path(d) / "confusion_test.png"
            path.write_bytes(png)
            self.client.log_artifact(run_id, str(path))

    def log_decision(self, run_id: str, decision: dict, names: list[str]) -> None:
        """What turned a trial's outputs into its test decisions (``Task.decide``: a
        multi-label model's threshold per label) as ``decision.json``, with the outputs'
        names in order."""
        self.client.log_dict(run_id, {"outputs": list(names), **decision}, "decision.json")

    def log_model(self, run_id: str, model, example) -> None:
        """Log a Keras model to a run in the Keras flavour, with a signature from ``example``,
        for inference: without its training settings (optimizer, loss, metrics), which a
        plain ``mlflow.pyfunc.load_model`` elsewhere could not always rebuild (a regression's
        loss is cnntune's own class)."""
        import mlflow
        from mlflow.models import infer_signature

        import numpy as np

        # points MLflow's fluent API (start_run) at this store too: a trial worker started
        # before the study set MLFLOW_TRACKING_URI has no other way to know it
        client = self.client
        # the output's schema from the model's shape: predicting would trace a function
        # (~0.1 s) only to learn (n, classes) float32
        shape = getattr(model, "output_shape", None)
        out = np.zeros((len(example), *shape[1:]), np.float32) \
            if isinstance(shape, tuple) and None not in shape[1:] \
            else model.predict(example, verbose=0)
        signature = infer_signature(example, out)
        compiled = getattr(model, "compiled", False)
        model.compiled = False  # Keras saves a compiled model's compile() arguments
        try:
            with mlflow.start_run(run_id=run_id, nested=True), _silence_mlflow_warnings():
                mlflow.keras.log_model(model, name=MODEL_NAME, signature=signature,
                                       pip_requirements=_requirements())
        finally:
            model.compiled = compiled
        client.set_tag(run_id, "cnntune.model", MODEL_NAME)


    def log_checkpoint(self, run_id: str, folder: str) -> None:
        """Log the best weights a trial kept on disk (``formats.checkpoint``) to its run, as
        ``checkpoint/``: its worker was killed at the deadline before it logged a model, so
        ``StudyView.load_model`` builds the model from these."""
        from ..formats.checkpoint import ARTIFACT_PATH

        self.client.log_artifacts(run_id, folder, ARTIFACT_PATH)
        self.client.set_tag(run_id, "cnntune.model", ARTIFACT_PATH)


@contextmanager
def ctrl_c_held():
    """Ctrl-C that lands inside the block is held until the block ends, then raised.

    A KeyboardInterrupt inside a tracking write (SQLAlchemy mid-statement) left its SQLite
    connection holding the database's lock; the writes that close the study after Ctrl-C
    (the trial's INTERRUPTED tag, the study run's KILLED status) then waited for it and failed
    with "database is locked", and the search exited 1 with a traceback instead of 130. Only
    where Python's own handler is installed, in the main thread (elsewhere nothing changes)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    caught: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if caught:
            raise KeyboardInterrupt


class _CtrlCHeld:
    """An MLflow client whose every call runs under ``ctrl_c_held``: a call ends whole."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args, **kwargs):
            with ctrl_c_held():
                return attr(*args, **kwargs)

        return call


def _first_use_lock(db):
    """An exclusive file lock beside a SQLite tracking database while it is first opened:
    MLflow creates and migrates the schema on first use, and several workers starting at
    once on a new store would race ("No such index ...")."""
    import contextlib

    @contextlib.contextmanager
    def lock():
        if db is None:
            yield
            return
        import fcntl

        db.parent.mkdir(parents=True, exist_ok=True)
        with open(db.with_name(db.name + ".lock"), "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    return lock()


def _store_error(uri: str, exc: Exception) -> str:
    detail = " ".join(str(exc).split())
    detail = detail if len(detail) <= 160 else detail[:157] + "..."
    return (f"MLflow tracking store '{redact(uri)}' cannot be used ({type(exc).__name__}: "
            f"{detail}); check --tracking-uri")


def log_baselines(client, experiment_id: str, parent_run_id: str, study: str,
                  results: list[dict]) -> None:
    """Classical baselines (``tuning.baselines.run_baselines``' results) as finished runs
    under a study's run, each with its params and test/val figures."""
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    for r in results:
        run = client.create_run(experiment_id, run_name=f"baseline-{r['name']}", tags={
            "mlflow.parentRunId": parent_run_id, "cnntune.role": "baseline",
            "cnntune.study": study, "cnntune.baseline": r["name"],
            "cnntune.state": State.COMPLETE, "cnntune.family": "baseline"})
        client.log_batch(run.info.run_id,
                         metrics=[Metric(k, v, now, 0) for k, v in r["metrics"].items()],
                         params=[Param(k, str(v)[:6000]) for k, v in r["params"].items()])
        client.set_terminated(run.info.run_id, "FINISHED")


def register_pyfunc(tracking_uri: str, run_id: str, artifact: str, python_model,
                    artifacts: dict[str, str], requirements: list[str], name: str,
                    alias: str) -> int:
    """Log ``python_model`` (with its ``artifacts`` files) as a pyfunc model of the run
    ``run_id``, register it under ``name`` and point ``alias`` at it; returns the version."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(name=artifact, python_model=python_model,
                                       artifacts=artifacts, pip_requirements=requirements,
                                       input_example=None)
    version = mlflow.register_model(info.model_uri, name)
    MlflowClient(tracking_uri).set_registered_model_alias(name, alias, version.version)
    return int(version.version)


def baseline_runs(client, experiment_id: str) -> list[dict]:
    """The classical baselines logged beside a study's trials: name, metrics, run id."""
    runs = client.search_runs([experiment_id], "tags.`cnntune.role` = 'baseline'",
                              max_results=1000)
    return [{"name": r.data.tags.get("cnntune.baseline", r.info.run_name),
             "metrics": dict(r.data.metrics), "run_id": r.info.run_id} for r in runs]


def model_uri(run_id: str) -> str:
    return f"runs:/{run_id}/{MODEL_NAME}"


def _param_str(v: Any) -> str:
    s = str(v)
    return s if len(s) <= 6000 else s[:5997] + "..."


TENSORFLOW_WHEELS = ("tensorflow", "tensorflow-cpu")  # the one cnntune installs, the CPU one


def pinned(name: str) -> str | None:
    """``name==version`` as installed, or None where it is not; ``tensorflow`` stands for
    whichever TensorFlow wheel is installed (a logged model must ask for the one it ran on)."""
    from importlib.metadata import PackageNotFoundError, version

    for dist in TENSORFLOW_WHEELS if name == "tensorflow" else (name,):
        try:
            return f"{dist}=={version(dist)}"
        except PackageNotFoundError:
            pass
    return None


def _requirements() -> list[str]:
    return [p for name in ("keras", "tensorflow", "numpy", "mlflow") if (p := pinned(name))]


class _silence_mlflow_warnings:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")
        return self

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)
