"""--warm-start from a KerasTuner study: a user's own project folder, as KerasTuner's oracle
writes it (no training needed to make one), and cnntune's own KerasTuner studies."""

import json

import pytest

from cnntune.errors import ConfigError
from cnntune.space import parse_space
from cnntune.tuning.warmstart import from_study

SPACE = parse_space("""
name: ws
training: {objective: val_accuracy}
params:
  n_blocks: {type: int, low: 1, high: 3}
  filters: [8, 16, 32]
  learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
""")


def kerastuner_project(root, scores, objective=("val_accuracy", "max")):
    """A KerasTuner project folder with one completed trial per score (and one failed)."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hp.Int("n_blocks", 1, 3)
    hp.Choice("filters", [8, 16])
    hp.Float("lr", 1e-3, 1e-2, sampling="log")  # not a knob of SPACE
    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective(*objective),
                                           max_trials=len(scores) + 1, hyperparameters=hp,
                                           seed=0)
    oracle._set_project_dir(str(root), "mine")
    values = []
    for s in [*scores, None]:
        t = oracle.create_trial("tuner0")
        if s is None:
            t.status = "FAILED"
        else:
            oracle.update_trial(t.trial_id, {objective[0]: s, "loss": 1.0})
            t.status = "COMPLETED"
        oracle.end_trial(t)
        values.append(dict(t.hyperparameters.values))
    return root / "mine", values


def test_a_kerastuner_project_gives_its_best_trials_projected_onto_the_space(tmp_path):
    folder, values = kerastuner_project(tmp_path, [0.5, 0.9, 0.7])
    ws = from_study(f"journal:{tmp_path}/none.journal", str(folder), SPACE,
                    data_fingerprint="d", best=2, engine="optuna")
    assert not ws.history
    # the best first (0.9), then the next best whose knobs differ once lr is dropped
    assert len(ws.enqueue) == 2 and ws.enqueue[0][0] != ws.enqueue[1][0]
    assert ws.enqueue[0][1] == f"study {folder} trial 1"
    first = ws.enqueue[0][0]
    assert first == {"n_blocks": values[1]["n_blocks"], "filters": values[1]["filters"]}
    assert "dropped: lr" in ws.notes[0]


def test_cnntunes_kerastuner_study_of_the_same_space_becomes_history(tmp_path):
    import optuna

    folder, values = kerastuner_project(tmp_path, [0.5, 0.9])
    (folder / "cnntune.json").write_text(json.dumps({
        "engine": "kerastuner", "direction": "maximize",
        "attrs": {"space_fingerprint": SPACE.fingerprint, "data_fingerprint": "d"},
        "trials": {"1": {"attrs": {"mlflow_run_id": "run-1", "ignored": 1}}}}))
    ws = from_study(f"journal:{tmp_path}/none.journal", str(folder), SPACE,
                    data_fingerprint="d", best=3, engine="optuna")
    assert len(ws.history) == 2 and not ws.enqueue
    study = optuna.create_study(direction="maximize")
    study.add_trials(ws.history)  # valid trials for Optuna: params inside their distributions
    best = study.best_trial
    assert best.value == 0.9 and best.user_attrs["mlflow_run_id"] == "run-1"
    assert best.user_attrs["origin"] == "warm-start" and "ignored" not in best.user_attrs
    # the same study on other data: its best trials are enqueued instead
    other = from_study(f"journal:{tmp_path}/none.journal", str(folder), SPACE,
                       data_fingerprint="other", best=1, engine="optuna")
    assert not other.history and len(other.enqueue) == 1


def test_kerastuner_sources_that_cannot_serve_say_why(tmp_path):
    folder, _ = kerastuner_project(tmp_path, [0.5], objective=("val_loss", "min"))
    with pytest.raises(ConfigError, match="its score is to minimize and this space's "
                                          "objective to maximize"):
        from_study(f"journal:{tmp_path}/x.journal", str(folder), SPACE,
                   data_fingerprint="d", best=1, engine="optuna")
    with pytest.raises(ConfigError, match="no such study in storage .*nor a KerasTuner "
                                          "project folder"):
        from_study(f"journal:{tmp_path}/x.journal", str(tmp_path / "nothing"), SPACE,
                   data_fingerprint="d", best=1, engine="optuna")
    (folder / "trial_0" / "trial.json").write_text("{not json")
    with pytest.raises(ConfigError, match="is not a KerasTuner trial"):
        from_study(f"journal:{tmp_path}/x.journal", str(folder), SPACE,
                   data_fingerprint="d", best=1, engine="optuna")
