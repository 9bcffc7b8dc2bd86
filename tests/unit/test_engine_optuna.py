"""What only the Optuna engine does (every sampler, pruning, storage errors), on a toy objective:
no Keras, no data, no MLflow. What every engine must do is in test_engine_contract.py."""

import math

import pytest

from cnntune.tuning.engines import Outcome, make_engine
from cnntune.catalog import PRUNERS
from cnntune.space import parse_space


def trials_within(seconds: float | None):
    """A ``Budget`` whose trials must end ``seconds`` from now (None: no budget)."""
    import time

    from cnntune.budget import CLOSING_S, Budget

    return None if seconds is None else Budget(time.time(), seconds + CLOSING_S)

SPACE = """
name: toy
params:
  n_blocks: {type: int, low: 1, high: 4}
  dropout: {type: float, low: 0.0, high: 0.5, step: 0.25}
  learning_rate: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}
  optimizer: [adam, sgd]
  momentum: {type: float, low: 0.5, high: 0.9, when: {optimizer: sgd}}
  batch_norm: {type: bool}
  dense_units: 32
"""


def toy(sample):
    p = sample.params
    return Outcome("COMPLETE", -abs(math.log10(p["learning_rate"]) + 2.5) + 0.1 * p["n_blocks"])


def _engine(tmp_path, sampler="tpe", study="toy", pruner="none"):
    text = SPACE
    if sampler == "grid":  # a grid needs finite values for every param
        text = text.replace("{type: float, low: 1.0e-4, high: 1.0e-1, log: true}",
                            "[1.0e-4, 1.0e-3, 1.0e-2, 1.0e-1]")
        text = text.replace("{type: float, low: 0.5, high: 0.9,", "{type: float, low: 0.5, "
                            "high: 0.9, step: 0.2,")
    sp = parse_space(text)
    return make_engine("optuna", space=sp, study_name=study,
                       storage=f"sqlite:///{tmp_path}/o.db", algorithm=sampler, pruner=pruner,
                       seed=1, direction="maximize", max_steps=10)


@pytest.mark.parametrize("sampler", ["tpe", "random", "grid", "cmaes", "qmc"])
def test_every_sampler_stays_inside_the_space(tmp_path, sampler):
    engine = _engine(tmp_path, sampler)
    info = engine.open()
    assert info.created and info.n_trials == 0
    seen = []

    def evaluate(sample):
        p = sample.params
        seen.append(p)
        assert 1 <= p["n_blocks"] <= 4 and isinstance(p["n_blocks"], int)
        assert p["dropout"] in (0.0, 0.25, 0.5)
        assert 1e-4 <= p["learning_rate"] <= 1e-1
        assert p["optimizer"] in ("adam", "sgd") and p["batch_norm"] in (True, False)
        assert p["dense_units"] == 32
        assert ("momentum" in p) == (p["optimizer"] == "sgd")  # conditional only when active
        if "momentum" in p:
            assert 0.5 <= p["momentum"] <= 0.9
        return toy(sample)

    engine.run(evaluate, n_trials=12, budget=None)
    assert len(seen) == 12
    # the sampler asked for is the one that drew them
    import optuna

    want = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler,
            "grid": optuna.samplers.GridSampler, "cmaes": optuna.samplers.CmaEsSampler,
            "qmc": optuna.samplers.QMCSampler}[sampler]
    assert type(engine._study.sampler) is want
    if sampler == "grid":  # a grid never repeats a point
        assert len({tuple(sorted(p.items())) for p in seen}) == 12
    assert {p["optimizer"] for p in seen} == {"adam", "sgd"}
    assert engine.best().state == "COMPLETE"


@pytest.mark.parametrize("pruner", [p for p in PRUNERS if p != "none"])
def test_every_pruner_stops_bad_trials_and_none_stops_nothing(tmp_path, pruner):
    engine = _engine(tmp_path, "random", pruner=pruner)
    engine.open()
    stopped_at = {}

    def evaluate(sample):
        # the first trials are good; later ones report worse values and get pruned
        for epoch in range(1, 11):
            value = 1.0 if sample.number < 6 else 0.0
            if sample.report(epoch, value):
                stopped_at[sample.number] = epoch
                return Outcome("PRUNED", value)
        return Outcome("COMPLETE", value)

    engine.run(evaluate, n_trials=12, budget=None)
    states = [t.state for t in engine.trials()]
    assert states[:6] == ["COMPLETE"] * 6, states
    pruned = [n for n, s in enumerate(states) if s == "PRUNED"]
    if pruner == "median":  # compares every trial with the finished ones
        assert pruned == list(range(6, 12))
    else:  # hyperband's brackets and ASHA's rungs: most bad trials stop at their first rung
        assert len(pruned) >= 4, states
    # no rung before the first one a CNN can be judged at (10 epochs: 2)
    assert min(stopped_at.values()) >= 2


def test_pruner_none_lets_every_trial_finish(tmp_path):
    engine = _engine(tmp_path, "random", pruner="none")
    engine.open()

    def evaluate(sample):
        for epoch in range(1, 4):
            assert not sample.report(epoch, 1.0 if sample.number < 3 else 0.0)
        return Outcome("COMPLETE", 0.0)

    engine.run(evaluate, n_trials=6, budget=None)
    assert [t.state for t in engine.trials()] == ["COMPLETE"] * 6


def test_bad_storage_is_a_clear_error(tmp_path):
    from cnntune.errors import StorageError

    sp = parse_space(SPACE)
    engine = make_engine("optuna", space=sp, study_name="x",
                         storage="postgresql://bob:secret@127.0.0.1:1/none", algorithm="tpe",
                         pruner="none", seed=0, direction="maximize")
    with pytest.raises(StorageError) as info:
        engine.open()
    assert "secret" not in str(info.value) and "bob:***@" in str(info.value)


@pytest.mark.parametrize("epochs, first", [(1, 1), (3, 1), (4, 2), (18, 2), (20, 3), (25, 3),
                                           (100, 12)])
def test_pruners_judge_no_earlier_than_a_ninth_of_the_epochs(epochs, first):
    from cnntune.tuning.engines.optuna import first_rung

    assert first_rung(epochs) == first
    sp = parse_space(SPACE)
    for pruner, attr in (("median", "_n_warmup_steps"), ("hyperband", "_min_resource"),
                         ("asha", "_min_resource")):
        eng = make_engine("optuna", space=sp, study_name="x", storage="sqlite:///:memory:",
                          algorithm="tpe", pruner=pruner, max_steps=epochs)
        assert getattr(eng._pruner(), attr) == first, pruner


@pytest.mark.parametrize("budget_epochs, first", [(None, 3), (10, 1), (29, 1), (38, 2),
                                                  (47, 3), (5000, 3)])
def test_a_time_budget_that_holds_few_epochs_pulls_the_first_rung_down(budget_epochs, first):
    from cnntune.tuning.engines.optuna import first_rung

    # 20 epochs a trial: a ninth is 3, unless the budget cannot hold a full trial and 9 rungs
    assert first_rung(20, budget_epochs) == first
    assert first_rung(3, 5000) == 1


@pytest.mark.parametrize("timeout, first", [(1.0, 1), (1000.0, 3), (None, 3)])
def test_the_study_chooses_its_first_rung_from_an_epochs_time_and_keeps_it(tmp_path, timeout,
                                                                           first):
    import time

    from cnntune.tuning.engines.optuna import RUNG_ATTR

    def engine():
        return make_engine("optuna", space=parse_space(SPACE), study_name="r",
                           storage=f"sqlite:///{tmp_path}/o.db", algorithm="random",
                           pruner="asha", seed=1, direction="maximize", max_steps=20)

    def evaluate(sample):  # epochs of about 50 ms: 1 s holds ~20 of them, 1000 s ~20,000
        for epoch in range(1, 4):
            time.sleep(0.05)
            if sample.report(epoch, 0.5):
                return Outcome("PRUNED", 0.5)
        return Outcome("COMPLETE", 0.5)

    first_run = engine()
    first_run.open()
    assert RUNG_ATTR not in first_run._study.user_attrs
    first_run.run(evaluate, n_trials=2, budget=trials_within(timeout))
    assert first_run._study.user_attrs[RUNG_ATTR] == first
    assert first_run._study.pruner._min_resource == first
    # a resumed run (a later command, another worker) judges at the study's rung
    resumed = engine()
    resumed.open()
    resumed.run(evaluate, n_trials=1, budget=trials_within(1000.0 if timeout == 1.0 else 1.0))
    assert resumed._study.pruner._min_resource == first


def test_enqueued_configurations_run_first_with_their_origin(tmp_path):
    engine = _engine(tmp_path, "random")
    engine.open()
    engine.enqueue({"n_blocks": 3, "optimizer": "sgd", "momentum": 0.7},
                   {"origin": "warm-start", "warm_start": "test"})
    seen = []

    def evaluate(sample):
        seen.append((sample.params, sample.origin))
        return toy(sample)

    engine.run(evaluate, n_trials=2, budget=None)
    first, origin = seen[0]
    assert origin == "warm-start" and seen[1][1] is None
    assert {k: first[k] for k in ("n_blocks", "optimizer", "momentum")} == \
        {"n_blocks": 3, "optimizer": "sgd", "momentum": 0.7}
    assert {"dropout", "learning_rate", "batch_norm", "dense_units"} <= set(first)  # sampled


def test_keep_going_ends_the_run(tmp_path):
    engine = _engine(tmp_path, "random")
    engine.open()
    asked = []

    def keep_going():
        asked.append(1)
        return len(asked) < 3

    engine.run(toy, n_trials=10, budget=None, keep_going=keep_going)
    assert len(engine.trials()) == 2
