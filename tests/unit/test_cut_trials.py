"""A trial whose worker is killed at the deadline: what it kept on disk makes it COMPLETE with
its best check; with nothing kept it fails saying what --timeout would hold its first check."""

import numpy as np
import pytest

from cnntune.budget import Budget
from cnntune.catalog import State
from cnntune.formats import checkpoint
from cnntune.tasks import CLASSIFICATION
from cnntune.worker.runner import cut_result
from cnntune.worker.trial import TrialSettings


class FakeModel:
    def to_json(self):
        return '{"class_name": "Sequential"}'

    def count_params(self):
        return 1234


def _settings(checks=1, **kw):
    return TrialSettings(epochs=10, patience=3, objective="val_accuracy", seed=0, checks=checks,
                         **kw)


def test_the_keeper_replaces_its_file_whole_and_reads_back_the_check(tmp_path):
    keeper = checkpoint.Keeper(tmp_path / "t")
    assert checkpoint.read(tmp_path / "t") is None  # nothing kept before the first check
    keeper.keep(FakeModel(), [np.ones((2, 2)), np.zeros(3)], 1, {"val_accuracy": 0.5})
    keeper.keep(FakeModel(), [np.full((2, 2), 7.0), np.ones(3)], 3, {"val_accuracy": 0.8})
    keeper.wait()
    kept = checkpoint.read(tmp_path / "t")
    assert kept.check == 3 and kept.logs == {"val_accuracy": 0.8}
    assert kept.extra["n_params"] == 1234
    with np.load(tmp_path / "t" / checkpoint.WEIGHTS) as npz:
        assert npz["w0"].tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["model.json", "weights.npz"]


def test_a_killed_trial_with_a_kept_check_is_complete_with_what_that_check_measured(tmp_path):
    keeper = checkpoint.Keeper(tmp_path / "t")
    logs = {"loss": 0.3, "accuracy": 0.9, "val_loss": 0.35, "val_accuracy": 0.88,
            "learning_rate": 0.001}
    keeper.keep(FakeModel(), [np.ones(2)], 2, logs)
    keeper.wait()
    checks = [(1, {**logs, "val_accuracy": 0.8}), (2, logs), (3, {**logs, "val_accuracy": 0.85})]
    res = cut_result(checkpoint.read(tmp_path / "t"), checks, _settings(checks=4),
                     CLASSIFICATION, None, 0.0, None)
    assert res.state == State.COMPLETE and res.value == 0.88 and res.stopped == "deadline"
    # measured on a check's part of the validation split, no test figures: both said
    assert res.unscored == ("val", "test")
    assert res.metrics == {"loss": 0.3, "accuracy": 0.9, "val_loss": 0.35,
                           "val_accuracy": 0.88, "epochs": 0.75, "best_epoch": 0.5,
                           "n_params": 1234.0}
    assert res.history["val_accuracy"] == [0.8, 0.88, 0.85]
    assert res.kept == str(tmp_path / "t")
    one = cut_result(checkpoint.read(tmp_path / "t"), checks, _settings(), CLASSIFICATION,
                     None, 0.0, None)
    assert one.unscored == ("test",)  # one check a pass: validated on the whole split


def test_a_killed_trial_that_kept_nothing_says_what_timeout_holds_its_first_check():
    budget = Budget(started=1000.0, seconds=60.0)
    progress = {"batches": 200, "seconds": 30.0, "step_s": 0.1, "first_batch_s": 3.0,
                "first_step_s": 2.0, "check_batches": 1000, "batch_size": 64}
    res = cut_result(None, [], _settings(), CLASSIFICATION, progress, 1010.0, budget)
    assert res.state == State.FAIL and res.stopped == "deadline"
    # a pass: 3 s to the first batch, 2 s for it, 999 more of 0.1 s = 104.9 s; the trial
    # began 10 s into the budget; a validation after it: 10 + 1.5 * 104.9 + 10 = 177.4
    assert "200 of the 1,000 batches of a pass in 30 s (~105 s a pass here" in res.error
    assert "give --timeout >= 180" in res.error
    never = cut_result(None, [], _settings(), CLASSIFICATION, None, 1010.0, budget)
    assert "before it trained a step" in never.error
    assert "give --timeout >= 160" in never.error  # 10 s waited + 3 x the 50 s it had


@pytest.mark.parametrize("folds", [None, 3])
def test_a_killed_trial_past_its_first_check_that_kept_nothing_fails_plainly(folds):
    res = cut_result(None, [(1, {"val_accuracy": 0.5})], _settings(folds=folds),
                     CLASSIFICATION, None, 0.0, None)
    assert res.state == State.FAIL and "give --timeout" not in res.error
