"""A finished or running study, read back from MLflow: the one record both engines write.

``StudyView(study, tracking_uri)`` finds the study's experiment and parent run, its space
(``space.yaml``) and data description (``data.json``), and its trial runs with their params
typed back from MLflow's strings through the space. Export, explain and the reporting commands
read studies through this, so they work the same for Optuna and KerasTuner studies.
"""

from __future__ import annotations

import json
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

from ..catalog import Direction, State
from ..errors import ConfigError, StorageError
from .stores import redact


@dataclass
class TrialRun:
    number: int
    state: str
    run_id: str
    params: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    started: float | None = None  # its MLflow run's start and end, unix seconds
    ended: float | None = None

    @property
    def model_logged(self) -> bool:
        """Whether a model is in its run: the Keras model, or the weights it kept when it
        was cut at the deadline (``kept``)."""
        return "cnntune.model" in self.tags

    @property
    def kept(self) -> bool:
        """Whether its run holds the best weights it kept when cut at the deadline, not a
        logged Keras model (``formats.checkpoint``)."""
        from ..formats.checkpoint import ARTIFACT_PATH

        return self.tags.get("cnntune.model") == ARTIFACT_PATH

    @property
    def unscored(self) -> tuple[str, ...]:
        """What it could not score before the deadline (``catalog.UNSCORED``)."""
        return tuple(u for u in self.tags.get("cnntune.unscored", "").split(",") if u)


class StudyView:
    def __init__(self, study: str, tracking_uri: str):
        from .runs import Tracker

        self.study = study
        self.tracking_uri = tracking_uri
        tracker = Tracker(tracking_uri)
        tracker.check(exists=True)  # reading a study never makes a store
        self.client = tracker.client
        exp = self.client.get_experiment_by_name(study)
        if exp is None or exp.lifecycle_stage != "active":
            raise StorageError(f"study '{study}' not found in tracking store "
                               f"'{redact(tracking_uri)}'; check the name and --tracking-uri")
        self.experiment_id = exp.experiment_id
        parents = self.client.search_runs([exp.experiment_id], "tags.`cnntune.role` = 'study'",
                                          order_by=["attributes.start_time DESC"], max_results=1)
        if not parents:
            raise StorageError(f"study '{study}' has no study run in '{redact(tracking_uri)}'; "
                               "it was not made by cnntune")
        self.parent = parents[0]
        self.settings = dict(self.parent.data.params)
        self._space = None
        self._data_spec = None

    # -- the study's own records ---------------------------------------------------------

    @property
    def direction(self) -> str:
        return self.settings.get("direction", "maximize")

    @property
    def objective(self) -> str:
        return self.settings.get("objective", "val_accuracy")

    @property
    def task(self):
        """The ``tasks.Task`` the study learns (studies from before tasks: classification)."""
        from ..tasks import task

        return task(self.settings.get("task"))

    @property
    def space(self):
        if self._space is None:
            from ..space import parse_space

            text = self._artifact_text("space.yaml")
            self._space = parse_space(text, source=f"{self.study}/space.yaml")
        return self._space

    @property
    def space_dir(self) -> str | None:
        """The folder of the space file the study ran with, where its relative file knobs
        (backbone weights) were found; None for the auto space."""
        source = self.settings.get("space", "")
        return str(Path(source).parent) if source.endswith((".yaml", ".yml")) else None

    @property
    def data_spec(self) -> dict:
        if self._data_spec is None:
            self._data_spec = json.loads(self._artifact_text("data.json"))
        return self._data_spec

    def _artifact_text(self, name: str) -> str:
        import mlflow

        try:
            return mlflow.artifacts.load_text(f"runs:/{self.parent.info.run_id}/{name}")
        except Exception as exc:
            raise StorageError(f"study '{self.study}': its run has no readable {name} "
                               f"({type(exc).__name__}); it was made by an older cnntune, "
                               "run a new study") from None

    def load_data(self):
        from ..data import load_described

        return load_described(self.data_spec)

    # -- trials ---------------------------------------------------------------------------

    def trials(self) -> list[TrialRun]:
        runs = self.client.search_runs([self.experiment_id], "tags.`cnntune.role` = 'trial'",
                                       max_results=50000)
        out: dict[int, TrialRun] = {}
        for r in runs:
            number = int(r.data.tags.get("cnntune.trial", -1))
            t = TrialRun(number=number, state=r.data.tags.get("cnntune.state", State.RUNNING),
                         run_id=r.info.run_id, params=self.typed_params(r.data.params),
                         metrics=dict(r.data.metrics), tags=dict(r.data.tags),
                         started=r.info.start_time / 1000 if r.info.start_time else None,
                         ended=r.info.end_time / 1000 if r.info.end_time else None)
            # a trial retried under the same number: its last run is the record
            if number not in out or (t.started or 0) >= (out[number].started or 0):
                out[number] = t
        return [out[k] for k in sorted(out)]

    def baselines(self) -> list[dict]:
        """The classical baselines logged beside the trials: name, metrics, run id."""
        from .runs import baseline_runs

        return baseline_runs(self.client, self.experiment_id)

    # -- what the commands that read a study add to it ---------------------------------------

    def attach(self, run_id: str, path: str, folder: str) -> None:
        """A file a command made from a run (explain's images) as an artifact of that run."""
        self.client.log_artifact(run_id, path, folder)

    def attach_text(self, text: str, name: str) -> None:
        """A text a command made of the whole study (the report) as an artifact of its run."""
        self.client.log_text(self.parent.info.run_id, text, name)

    def attach_figure(self, figure, name: str) -> None:
        """A figure made of the whole study (the Pareto front) as an artifact of its run."""
        self.client.log_figure(self.parent.info.run_id, figure, name)

    def trial(self, number: int) -> TrialRun:
        for t in self.trials():
            if t.number == number:
                return t
        raise ConfigError(f"study '{self.study}' has no trial {number}; "
                          f"`cnntune trials {self.study}` lists them")

    def best(self) -> TrialRun:
        done = [t for t in self.trials() if t.state == State.COMPLETE]
        best = Direction(self.direction).best(done, lambda t: t.metrics.get(self.objective),
                                              lambda t: t.number)
        if best is None:
            raise ConfigError(f"study '{self.study}' has no completed trial yet; run more "
                              "trials first")
        return best

    def decision(self, trial: TrialRun) -> dict:
        """What the trial's test figures were decided by (``Task.decide``, its run's
        decision.json: a multi-label model's thresholds); {} when it logged none."""
        if not self.task.decides:
            return {}
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        try:
            logged = mlflow.artifacts.load_dict(f"runs:/{trial.run_id}/decision.json")
        except Exception:  # cut at the deadline before its test split was scored
            return {}
        return {k: v for k, v in logged.items() if k != "outputs"}

    def test_figures(self, trial: TrialRun, model=None, data=None) -> dict[str, float]:
        """The trial's test figures: as logged, or, for a trial cut at the deadline before its
        test split was scored (``unscored``), scored now from its model (loaded, with the
        study's data, unless given). Writes nothing."""
        if "test" not in trial.unscored:
            return {k: v for k, v in trial.metrics.items() if k.startswith("test_")}
        from .. import knobs as knob_defs
        from ..tasks import test_figures

        data = self.load_data() if data is None else data
        model = self.load_model(trial) if model is None else model
        return test_figures(model, data, knob_defs.resolve(trial.params))[0]

    def typed_params(self, raw: dict[str, str]) -> dict[str, Any]:
        """MLflow's string params back to the types the space declares (a user's builder or
        hypermodel's own, which no space declares: as Python literals, else strings); what
        cnntune logs about the run itself (``cnntune.device``) is not a knob and is left
        out."""
        params = self.space.params
        out = {}
        for name, text in raw.items():
            if not name.startswith("cnntune."):
                value = params[name].parse(text) if name in params else text
                # none of the space's values (a hypermodel's own batch_size): as a literal
                out[name] = _literal(text) if value is text else value
        return out

    def load_model(self, trial: TrialRun):
        """The trial's logged Keras model, loaded in Keras' safe mode; for a trial cut at the
        deadline, built from the weights it kept."""
        import mlflow

        from .runs import model_uri

        if not trial.model_logged:
            raise ConfigError(f"study '{self.study}', trial {trial.number}: its model was not "
                              "logged (only each new best trial's is); add --retrain to train "
                              "it again from its params")
        mlflow.set_tracking_uri(self.tracking_uri)
        try:
            if trial.kept:
                import tempfile

                from ..formats import checkpoint

                with tempfile.TemporaryDirectory(prefix="cnntune-kept-") as d:
                    folder = mlflow.artifacts.download_artifacts(
                        run_id=trial.run_id, artifact_path=checkpoint.ARTIFACT_PATH,
                        dst_path=d)
                    return checkpoint.load_model(folder)
            return mlflow.keras.load_model(model_uri(trial.run_id))
        except Exception as exc:
            raise StorageError(f"study '{self.study}', trial {trial.number}: its logged model "
                               f"cannot be loaded ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''}); add "
                               "--retrain") from None


def _literal(text: str) -> Any:
    """A logged param's value (``str(value)``) back as the int, float, bool or None it was;
    any other text as it is."""
    import ast

    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    return value if isinstance(value, (int, float, bool, type(None))) else text
