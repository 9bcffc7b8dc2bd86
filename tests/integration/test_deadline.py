"""A deadline never costs a trained model: a trial killed at --timeout keeps its best check's
weights and ends COMPLETE, and export, best and report work from those weights; a --timeout
shorter than one pass still ends, within its bound, with a complete trial."""

import os
import time

import numpy as np
import pytest

import cnntune
from cnntune.budget import Budget
from conftest import TINY_SPACE

pytestmark = pytest.mark.slow

# imported by every Python process started with this folder on PYTHONPATH (the trial workers):
# the scoring after fit sleeps far past the deadline, which no clock can foresee
SLOW_SCORING = """
import time

import cnntune.tasks as tasks

_predictions = tasks.predictions


def _slow(model, split):
    time.sleep(120)
    return _predictions(model, split)


tasks.predictions = _slow

# the trial plans and starts its scoring whatever this machine's load made of its measured
# costs (a loaded machine can measure a prediction too slow to try): the scoring starts, and
# the deadline lands in it
import cnntune.worker.clock as clock

clock.TrialClock.scoring_planned = property(lambda self: True)
clock.TrialClock.fits = lambda self, seconds: True
"""


@pytest.fixture
def slow_scoring(tmp_path, monkeypatch):
    folder = tmp_path / "slow-scoring"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(SLOW_SCORING)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(folder), os.environ.get("PYTHONPATH")) if p))


def _runs(tracking_uri, experiment_id):
    from mlflow import MlflowClient

    runs = MlflowClient(tracking_uri).search_runs(
        [experiment_id], "tags.`cnntune.role` = 'trial'")
    return {int(r.data.tags["cnntune.trial"]): r for r in runs}


def test_a_trial_killed_while_it_is_scored_ends_complete_with_its_best_check_and_exports(
        write_space, tmp_path, slow_scoring, monkeypatch, cnntune_cli):
    long = write_space(TINY_SPACE.replace("epochs: 2, patience: 2", "epochs: 500, patience: 500")
                       + "start_from: []\n", "long.yaml")
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    timeout = 20
    started = time.time()
    result = cnntune.search(long, study="cut", trials=5, timeout=timeout, started=started,
                            storage=f"journal:{tmp_path}/optuna.journal", tracking_uri=tracking)
    took = time.time() - started
    monkeypatch.delenv("PYTHONPATH")  # what follows scores in this process, at full speed
    assert took <= timeout + Budget(started, timeout).overrun, took
    assert result.new_trials == 1
    run = _runs(tracking, result.experiment_id)[0]
    tags, m = run.data.tags, run.data.metrics
    # killed in its scoring, it ends COMPLETE with the weights of its best check
    assert tags["cnntune.state"] == "COMPLETE" and tags["cnntune.stopped"] == "deadline"
    assert tags["cnntune.model"] == "checkpoint" and tags["cnntune.unscored"] == "test"
    assert not any(k.startswith("test_") for k in m)
    assert 1 <= m["best_epoch"] <= m["epochs"] and m["val_accuracy"] == result.best.value
    assert result.best.kept and result.best.model_uri is None
    history = {h.step: h.value for h in _history(tracking, run.info.run_id)}
    assert m["val_accuracy"] == max(history.values())  # the best check's own figure
    assert history[round(m["best_epoch"])] == m["val_accuracy"]

    # export builds the model from the kept weights and verifies it on the test split
    from cnntune.deploy.export import export_study

    report = export_study("cut", fmt="keras", out=tmp_path / "export", tracking_uri=tracking)
    assert report.passed and report.keras_test_score > 0.15  # trained: chance is 0.1
    # those weights are the best check's: the model scores its validation split as it did
    from cnntune.tasks import predictions
    from cnntune.tracking.studies import StudyView

    view = StudyView("cut", tracking)
    t = view.best()
    data = view.load_data()
    model = view.load_model(t)
    acc = float((predictions(model, data.val).argmax(1) == data.val.y).mean())
    assert acc == pytest.approx(m["val_accuracy"], abs=1e-6)
    # best and the report score the test split now, and say so
    out = cnntune_cli("best", "cut", "--tracking-uri", tracking)
    assert out.returncode == 0, out.stderr
    assert "scored now from the weights it kept" in out.stdout
    assert f"test accuracy {report.keras_test_score:.4f}" in out.stdout
    from cnntune.reports.report import build_report

    path, _ = build_report("cut", tracking_uri=tracking, out=tmp_path / "report.html",
                           log_to_mlflow=False)
    page = path.read_text()
    assert "scored now, from the weights the trial kept" in page
    assert "Trial 0: architecture" in page


def _history(tracking, run_id):
    from mlflow import MlflowClient

    return MlflowClient(tracking).get_metric_history(run_id, "epoch/val_accuracy")


ONE_PASS_SPACE = """
name: onepass
training: {epochs: 2, patience: 2, objective: val_accuracy, seed: 0, checks_per_epoch: 1}
search: {engine: optuna, sampler: random, pruner: none, trials: 3}
params:
  n_blocks: 3
  filters: 64
  dense_units: 0
  learning_rate: 1.0e-3
  batch_size: 64
start_from: []
"""


@pytest.mark.alone  # its trial must train and be scored within 30 s: at this machine's speed
def test_a_timeout_shorter_than_one_pass_ends_in_time_with_a_complete_trial(
        write_space, tmp_path, cnntune_cli):
    # one pass over 40,000 28x28 images takes ~75 s here; the validation and test splits
    # (20,000 each) ~9 s each to predict: a first trial that trained until a formula's reserve
    # was killed while it was being scored, and the search ended with nothing
    rng = np.random.default_rng(0)

    def part(n):
        return rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8), rng.integers(0, 10, n)

    (xt, yt), (xv, yv), (xs, ys) = part(40_000), part(20_000), part(20_000)
    np.savez(tmp_path / "big.npz", x_train=xt, y_train=yt, x_val=xv, y_val=yv, x_test=xs,
             y_test=ys)
    space = write_space(ONE_PASS_SPACE, "onepass.yaml")
    # sharing the machine with the other test worker, this trial got a fraction of a core:
    # its start took 30 s, a pass 280 s, validating a check 40 s, and it was cut (rightly)
    # before its first check, however long the budget the suite could afford; alone, it
    # starts in 6 s and its first check's validation takes ~5 s
    timeout = 30
    t0 = time.time()
    out = cnntune_cli("search", "--space", space, "--data", tmp_path / "big.npz",
                      "--timeout", timeout, "--jsonl", tmp_path / "events.jsonl")
    took = time.time() - t0
    assert out.returncode == 0, out.stderr
    assert took <= timeout + Budget(t0, timeout).overrun, took
    import json

    ends = [e for e in map(json.loads, (tmp_path / "events.jsonl").read_text().splitlines())
            if e["event"] == "trial_end"]
    assert ends[0]["state"] == "COMPLETE" and ends[0]["stopped"] == "deadline", \
        ends[0].get("error")
    assert 0 < ends[0]["metrics"]["epochs"] < 1  # planned to fit: a part of its first pass
    assert "cut: trial 0 at the deadline" in out.stdout
    assert "best trial 0" in out.stdout
