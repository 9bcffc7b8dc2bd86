"""End to end: a real search on digits, tracked in a real MLflow store, resumed, with a
failing trial. Tiny models, 1-2 epochs."""

import numpy as np
import pytest

import cnntune
from cnntune.data import load_dataset

pytestmark = pytest.mark.slow


@pytest.fixture
def stores(tmp_path):
    return dict(storage=f"sqlite:///{tmp_path}/optuna.db",
                tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")


def _runs(client, exp_id, role):
    return client.search_runs([exp_id], f"tags.`cnntune.role` = '{role}'", max_results=100)


@pytest.mark.parametrize("engine", ["optuna", "kerastuner"])
def test_search_tracks_every_trial_and_resumes(tiny_space, stores, tmp_path, engine):
    """Both engines leave the same MLflow layout: same parent/child runs, params, metrics."""
    import mlflow
    from mlflow import MlflowClient

    events = []
    # trials in a worker process for one engine (the path users take), in-process for the
    # other and for the resumption: the layout in MLflow is the runner's business alone
    result = cnntune.search(tiny_space, study="e2e", trials=3, engine=engine, algorithm="random",
                            on_event=lambda k, p: events.append(k), **stores,
                            isolate=engine == "optuna")
    assert result.new_trials == 3 and sum(result.counts.values()) == 3
    assert result.best is not None and result.best.run_id
    assert events[0] == "study_start" and events.count("trial_end") == 3
    assert events.count("epoch") >= 3

    client = MlflowClient(stores["tracking_uri"])
    exp = client.get_experiment_by_name("e2e")
    assert exp.experiment_id == result.experiment_id
    parents = _runs(client, exp.experiment_id, "study")
    children = _runs(client, exp.experiment_id, "trial")
    assert len(parents) == 1 and len(children) == 3
    parent = parents[0]
    assert parent.info.run_id == result.parent_run_id and parent.info.status == "FINISHED"
    assert parent.data.params["algorithm"] == "random" and parent.data.params["epochs"] == "2"
    assert parent.data.params["engine"] == engine
    assert parent.data.tags["best.run_id"] == result.best.run_id
    assert "best_test_accuracy" in parent.data.metrics
    assert "space.yaml" in [a.path for a in client.list_artifacts(parent.info.run_id)]
    mlflow.set_tracking_uri(stores["tracking_uri"])
    for run in children:
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.run_name.startswith("trial-")
        assert run.data.tags["cnntune.state"] == "COMPLETE" and run.info.status == "FINISHED"
        assert run.data.tags["cnntune.engine"] == engine
        params = run.data.params
        assert {"n_blocks", "filters", "optimizer", "learning_rate"} <= set(params)
        # momentum is conditional on sgd: logged exactly when it was active
        assert ("momentum" in params) == (params["optimizer"] == "sgd")
        for key in ("val_accuracy", "test_accuracy", "n_params", "fit_seconds"):
            assert key in run.data.metrics
        hist = client.get_metric_history(run.info.run_id, "epoch/val_accuracy")
        assert [m.step for m in hist] == list(range(1, int(run.data.metrics["epochs"]) + 1))
        assert client.get_metric_history(run.info.run_id, "epoch/loss")
        # the test confusion matrix: every test example once, its diagonal the accuracy
        cm = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/confusion_test.json")
        matrix = np.array(cm["matrix"])
        assert cm["classes"] == [str(i) for i in range(10)] and matrix.sum() == 359
        assert np.trace(matrix) / 359 == pytest.approx(run.data.metrics["test_accuracy"])
        assert "confusion_test.png" in {a.path for a in client.list_artifacts(run.info.run_id)}

    # the logged best model reproduces the logged test accuracy through pyfunc
    best_run = client.get_run(result.best.run_id)
    model = mlflow.pyfunc.load_model(result.best.model_uri)
    data = load_dataset("digits", None, val_fraction=0.15, test_fraction=0.2, seed=0)
    pred = np.asarray(model.predict(data.test.x.astype("float32")))
    acc = float((pred.argmax(axis=1) == data.test.y).mean())
    assert acc == pytest.approx(best_run.data.metrics["test_accuracy"], abs=1e-6)
    assert result.best.metrics["test_accuracy"] == pytest.approx(acc, abs=1e-6)
    # and asks for the TensorFlow it ran on (it named tensorflow-cpu, absent, so none at all)
    from importlib.metadata import version

    reqs = open(mlflow.pyfunc.get_model_dependencies(result.best.model_uri)).read().split()
    assert f"tensorflow=={version('tensorflow')}" in reqs

    # same study name again: the study grows, the parent run is reused
    again = cnntune.search(tiny_space, study="e2e", trials=2, engine=engine,
                           algorithm="random", isolate=False, **stores)
    assert again.new_trials == 2 and sum(again.counts.values()) == 5
    assert again.parent_run_id == result.parent_run_id
    children = _runs(client, exp.experiment_id, "trial")
    assert sorted(r.data.tags["cnntune.trial"] for r in children) == ["0", "1", "2", "3", "4"]
    assert len(_runs(client, exp.experiment_id, "study")) == 1


@pytest.mark.parametrize("engine,algorithm", [("optuna", "grid"), ("kerastuner", "random")])
def test_nan_trial_fails_and_the_study_goes_on(write_space, stores, engine, algorithm):
    from mlflow import MlflowClient

    space = write_space(f"""
name: nan
training: {{epochs: 2, patience: 2, seed: 0}}
search: {{engine: {engine}, algorithm: {algorithm}, pruner: none}}
start_from: []  # exactly one diverging trial of two
params:
  n_blocks: 1
  filters: 8
  dense_units: 0
  batch_norm: false
  optimizer: sgd
  momentum: 0.0
  l2: 0.01
  learning_rate: [1.0e+12, 1.0e-2]
""", "nan.yaml")
    result = cnntune.search(space, study="nan", trials=2, isolate=False, **stores)
    assert result.counts == {"FAIL": 1, "COMPLETE": 1}
    assert result.best.params["learning_rate"] == 1e-2
    client = MlflowClient(stores["tracking_uri"])
    runs = client.search_runs([result.experiment_id], "tags.`cnntune.state` = 'FAIL'")
    assert len(runs) == 1 and runs[0].info.status == "FAILED"
    assert "loss became" in runs[0].data.tags["cnntune.error"]


def test_resuming_on_other_data_or_other_checks_is_refused(tiny_space, write_space, stores,
                                                           tmp_path):
    from cnntune.errors import ConfigError
    from tests.conftest import TINY_SPACE

    cnntune.search(tiny_space, study="guard", trials=1, epochs=1, isolate=False, **stores)
    # the pruner's steps would mean two things in one study
    checked = write_space(TINY_SPACE.replace("seed: 0}", "seed: 0, checks_per_epoch: 2}"),
                          "checked.yaml")
    with pytest.raises(ConfigError, match="study 'guard' checks its trials 1 time.*"
                                          "checks_per_epoch: 1"):
        cnntune.search(checked, study="guard", trials=1, isolate=False, **stores)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "other.npz", x=rng.integers(0, 255, (90, 8, 8), dtype=np.uint8),
             y=np.arange(90) % 3)
    with pytest.raises(ConfigError, match="study 'guard' was run on different data"):
        cnntune.search(tiny_space, study="guard", data=tmp_path / "other.npz", trials=1,
                       isolate=False, **stores)


def test_study_on_postgresql_storage(tiny_space, tmp_path):
    """The same search against the real PostgreSQL server (CI starts it)."""
    import os
    import uuid

    import optuna

    url = "postgresql://postgres@127.0.0.1:5432/test"
    try:
        optuna.study.get_all_study_names(url)
    except Exception as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"pg-{uuid.uuid4().hex[:8]}"
    try:
        first = cnntune.search(tiny_space, study=name, trials=1, epochs=1, storage=url,
                               isolate=False, tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
        again = cnntune.search(tiny_space, study=name, trials=1, epochs=1, storage=url,
                               isolate=False, tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
        assert first.storage == url and sum(again.counts.values()) == 2
        assert again.parent_run_id == first.parent_run_id
    finally:
        optuna.delete_study(study_name=name, storage=url)


def test_search_on_an_image_folder_and_an_npz(tiny_space, stores, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "shapes"
    for k, name in enumerate(["dark", "mid", "bright"]):
        (root / name).mkdir(parents=True)
        for i in range(15):
            img = np.clip(rng.normal(40 + 80 * k, 20, (10, 10, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / name / f"{i}.png")
    res = cnntune.search(tiny_space, data=root, trials=1, epochs=2, isolate=False, **stores)
    assert res.study == "tiny-shapes" and res.counts == {"COMPLETE": 1}
    x = np.stack([np.asarray(Image.open(p)) for p in sorted(root.glob("*/*.png"))])
    y = np.repeat(np.arange(3), 15)
    np.savez(tmp_path / "arrays.npz", x=x, y=y)
    res = cnntune.search(tiny_space, data=tmp_path / "arrays.npz", trials=1, epochs=2,
                         isolate=False, **stores)
    assert res.study == "tiny-arrays" and res.counts == {"COMPLETE": 1}
    from mlflow import MlflowClient

    parent = MlflowClient(stores["tracking_uri"]).get_run(res.parent_run_id)
    assert parent.data.params["data_source"] == "npz"
    assert parent.data.params["input_shape"] == "10x10x3"


def test_k_fold_study_logs_the_folds_and_trials_shows_their_spread(tiny_space, write_space,
                                                                    stores):
    from cnntune.reports.tables import trials_frame
    from cnntune.tracking.studies import StudyView

    space = write_space(tiny_space.read_text().replace(
        "training: {", "training: {folds: 2, "), "folds.yaml")
    assert "folds: 2" in space.read_text()
    res = cnntune.search(space, study="kf", trials=1, epochs=1, isolate=False, **stores)
    m = res.best.metrics
    assert m["folds"] == 2 and m["val_accuracy"] == pytest.approx(
        (m["val_accuracy_fold1"] + m["val_accuracy_fold2"]) / 2)
    df = trials_frame(StudyView("kf", stores["tracking_uri"]))
    assert df.loc[0, "val_accuracy_std"] == pytest.approx(m["val_accuracy_std"])
    assert df.loc[0, "folds"] == 2
