"""A regression from the shipped space to a verified export: the search on the generated
discs set logs the task's figures, the model returns raw values (standardised inside), the
export is checked against it in target units, predict prints values, the report and explain
know the task, and the baselines are ridge and a random forest."""

import numpy as np
import pytest

from .pages import heat_mapped_panels

from cnntune.deploy.export import export_study
from cnntune.deploy.predict import predict_files

from .shipped import one_trial_study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return one_trial_study(tmp_path_factory.mktemp("regression"), "regression", "reg",
                           objective="val_rmse", task="regression")


def test_trials_carry_the_regression_figures_and_the_model_returns_raw_values(study):
    from cnntune.reports.tables import trials_frame

    view = study["view"]
    df = trials_frame(view)
    assert {"val_rmse", "val_mae", "val_r2", "test_rmse", "test_mae", "test_r2"} <= \
        set(df.columns) and "val_accuracy" not in df.columns
    best = view.best()
    assert best.number == study["result"].best.number
    data = view.load_data()
    assert data.task.name == "regression" and data.class_names == ["count", "mean_radius"]
    model = view.load_model(best)
    pred = model.predict(data.test.x.astype("float32"), verbose=0)
    # the logged test figures are those of the logged model, in the targets' own units
    scores = data.task.label_scores(data.test.y, pred, "test_")
    for k in ("test_rmse", "test_mae", "test_r2"):
        assert best.metrics[k] == pytest.approx(scores[k], rel=1e-4, abs=1e-5)
    layer = model.get_layer("targets")  # standardised predictions back in target units
    assert np.allclose(layer.offset, data.prep["target_mean"]) and \
        np.allclose(layer.scale, data.prep["target_std"])
    # a model that learnt anything explains some of a target's variance (2 epochs: the count's
    # R^2 0.35); the output layer's offset alone, an untrained model's, predicts the mean (-0.01)
    y = data.test.y
    r2 = 1 - ((pred - y) ** 2).mean(axis=0) / y.var(axis=0)
    assert r2.max() > 0.15, r2


def test_the_export_is_verified_in_target_units_and_predict_prints_values(study, tmp_path):
    rep = export_study("reg", fmt="tflite", out=tmp_path / "exp", tracking_uri=study["uri"])
    best = study["result"].best
    assert rep.passed and rep.metric == "rmse"
    assert rep.keras_test_score == pytest.approx(best.metrics["test_rmse"], rel=1e-4)
    assert rep.test_score == pytest.approx(rep.keras_test_score, rel=1e-3)
    data = study["view"].load_data()
    np.savez(tmp_path / "few.npz", x=data.test.x[:3])
    table = predict_files(tmp_path / "exp", [tmp_path / "few.npz"])
    assert list(table.columns) == ["input", "count", "mean_radius"]
    keras = study["view"].load_model(best).predict(data.test.x[:3].astype("float32"),
                                                   verbose=0)
    assert np.allclose(table[["count", "mean_radius"]].to_numpy(), keras, atol=1e-3)


def test_report_explain_and_baselines_know_the_task(study, tmp_path):
    from cnntune.reports.explain import explain_study
    from cnntune.reports.report import build_report
    from cnntune.tuning.baselines import run_baselines

    _, sections = build_report("reg", tracking_uri=study["uri"], out=tmp_path / "r.html",
                               log_to_mlflow=False)
    assert any("test predictions against the truth" in s for s in sections)
    assert not any("confusion" in s for s in sections)
    paths = explain_study("reg", tracking_uri=study["uri"], out=tmp_path / "x",
                          method="saliency", n=4, log_to_mlflow=False)
    assert heat_mapped_panels(paths["grid"]) == 4  # a saliency map over each example
    (ridge,) = run_baselines(study["view"].load_data(), names=("ridge",))
    m = ridge["metrics"]
    assert ridge["headline"] == "r2" and m["test_rmse"] > 0 and -1 < m["test_r2"] < 1
