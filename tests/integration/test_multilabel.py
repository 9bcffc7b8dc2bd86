"""A multi-label search from the shipped space to a verified export: the search on the
generated tags set logs the task's figures at thresholds tuned on validation, the export keeps
those thresholds and is checked against the Keras model, predict prints label sets, and the
report, explain and the baselines know the task."""

import json
import re

import numpy as np
import pytest

from .pages import heat_mapped_panels

from cnntune.deploy.export import export_study
from cnntune.deploy.predict import predict_files
from cnntune.tasks import fit_thresholds

from .shipped import one_trial_study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return one_trial_study(tmp_path_factory.mktemp("multilabel"), "multilabel", "ml",
                           objective="val_micro_f1", task="multilabel")


def test_the_test_figures_are_the_logged_models_at_thresholds_tuned_on_validation(study):
    from cnntune.reports.tables import trials_frame

    view = study["view"]
    df = trials_frame(view)
    assert {"val_micro_f1", "val_macro_f1", "test_micro_f1", "test_macro_f1", "val_auc",
            "test_auc", "test_exact_match"} <= set(df.columns)
    assert "val_accuracy" not in df.columns
    best = view.best()
    data = view.load_data()
    assert data.class_names == ["disc", "square", "triangle", "cross", "ring"]
    model = view.load_model(best)
    assert model.get_layer("classifier").activation.__name__ == "sigmoid"
    val = np.asarray(model.predict(data.val.x.astype("float32"), verbose=0))
    test = np.asarray(model.predict(data.test.x.astype("float32"), verbose=0))
    thresholds = fit_thresholds(data.val.y, val)
    # the trial's run keeps the thresholds its test figures were decided by
    logged = view.client.download_artifacts(best.run_id, "decision.json")
    kept = json.loads(open(logged).read())
    assert kept["outputs"] == data.class_names and kept["thresholds"] == thresholds.tolist()
    scores = data.task.label_scores(data.test.y, test >= thresholds, "test_")
    for k in ("test_micro_f1", "test_macro_f1", "test_exact_match"):
        assert best.metrics[k] == pytest.approx(scores[k], abs=1e-6)
    # tuned thresholds beat a flat 0.5 on validation, where they were tuned
    tuned = data.task.label_scores(data.val.y, val >= thresholds, "")["micro_f1"]
    assert tuned >= data.task.label_scores(data.val.y, val >= 0.5, "")["micro_f1"]
    # two epochs learn something: ranked above chance (a constant model's AUC is 0.5), and
    # F1 above what calling every label present scores (0.516 here)
    rate = float(np.mean(data.test.y))
    assert best.metrics["test_auc"] > 0.6, best.metrics
    assert best.metrics["test_micro_f1"] > 2 * rate / (1 + rate) + 0.02, (best.metrics, rate)


def test_the_export_keeps_the_thresholds_and_predict_prints_label_sets(study, tmp_path):
    rep = export_study("ml", fmt="onnx", out=tmp_path / "exp", tracking_uri=study["uri"])
    best = study["result"].best
    assert rep.passed and rep.metric == "micro_f1"
    assert rep.keras_test_score == pytest.approx(best.metrics["test_micro_f1"], abs=1e-6)
    meta = json.loads((tmp_path / "exp" / "cnntune.json").read_text())
    assert meta["task"] == "multilabel" and len(meta["decision"]["thresholds"]) == 5
    data = study["view"].load_data()
    np.savez(tmp_path / "few.npz", x=data.test.x[:4])
    table = predict_files(tmp_path / "exp", [tmp_path / "few.npz"])
    names = data.class_names
    assert list(table.columns) == ["input", "labels", *(f"p_{n}" for n in names)]
    probs = table[[f"p_{n}" for n in names]].to_numpy()
    t = np.asarray(meta["decision"]["thresholds"])
    for labels, p in zip(table["labels"], probs):
        assert labels == ";".join(n for n, pi, ti in zip(names, p, t) if pi >= ti)


def test_report_explain_and_baselines_know_the_task(study, tmp_path):
    from cnntune.reports.explain import explain_study
    from cnntune.reports.report import build_report
    from cnntune.tuning.baselines import run_baselines

    path, sections = build_report("ml", tracking_uri=study["uri"], out=tmp_path / "r.html",
                                  log_to_mlflow=False)
    assert any("test figures per label" in s for s in sections)
    assert any("Grad-CAM per predicted label" in s for s in sections)
    page = path.read_text()
    start = re.search(r'<h2 id="[^"]*test-figures-per-label"', page).start()
    table = page[start:page.index("<h2", start + 1)]
    assert all(f"<td>{n}</td>" in table for n in ("disc", "ring")) and "threshold" in table
    assert not any("confusion" in s for s in sections)
    paths = explain_study("ml", tracking_uri=study["uri"], out=tmp_path / "x", n=4,
                          log_to_mlflow=False)
    assert heat_mapped_panels(paths["grid"]) >= 4  # a map over each example, per label
    (logistic,) = run_baselines(study["view"].load_data(), names=("logistic_regression",))
    m = logistic["metrics"]
    assert logistic["headline"] == "micro_f1" and 0 < m["test_micro_f1"] < 1
