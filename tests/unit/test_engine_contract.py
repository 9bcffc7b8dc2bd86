"""The engine contract (engines/_base.py), one suite run against every engine and algorithm.

A toy objective stands in for training: no Keras model, no data, no MLflow. Whatever an engine
is, the params it hands out lie inside the space, conditional params appear exactly when their
condition holds, what it stores is what it handed out, a failing trial never ends the search, an
exception does (with that trial failed), and re-opening a study adds to it.
"""

import math

import pytest

from cnntune.catalog import ALGORITHMS
from cnntune.tuning.engines import Outcome, make_engine
from cnntune.space import parse_space


def trials_within(seconds: float | None):
    """A ``Budget`` whose trials must end ``seconds`` from now (None: no budget)."""
    import time

    from cnntune.budget import CLOSING_S, Budget

    return None if seconds is None else Budget(time.time(), seconds + CLOSING_S)

# every kind of param, conditions on a categorical, on an int and a chain of two, and a
# categorical of mixed int/float values (which KerasTuner's Choice cannot hold as is)
SPACE = """
name: contract
params:
  n_blocks: {type: int, low: 1, high: 4}
  filters: {type: int, low: 8, high: 64, log: true}
  kernel_size: {type: int, low: 3, high: 7, step: 2}
  dropout: {type: float, low: 0.0, high: 0.5, step: 0.25}
  learning_rate: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}
  filters_growth: [1, 1.5, 2]
  optimizer: [adam, sgd, adamw]
  momentum: {type: float, low: 0.5, high: 0.9, when: {optimizer: sgd}}
  weight_decay: {type: float, low: 1.0e-5, high: 1.0e-2, log: true, when: {optimizer: adamw}}
  convs_per_block: {type: int, low: 1, high: 2, when: {n_blocks: [3, 4]}}
  batch_norm: {type: bool}
  aug_rotation: {type: float, low: 0.0, high: 0.2, when: {batch_norm: true}}
  aug_zoom: {type: float, low: 0.0, high: 0.2, when: {aug_rotation: [0.0], batch_norm: true}}
  dense_units: 32
"""

# every algorithm of every engine the catalog lists (what `cnntune search --help` offers)
ENGINES = [(e, a) for e, algorithms in ALGORITHMS.items() for a in algorithms]
IDS = [f"{e}-{a}" for e, a in ENGINES]
# the grid sampler needs a finite set of values for every param: the same params, kinds and
# conditions on a small grid (Optuna enumerates the whole product up front: 6,144 points)
GRID_SPACE = """
name: contract-grid
params:
  n_blocks: {type: int, low: 1, high: 4, step: 3}
  filters: [8, 64]
  kernel_size: {type: int, low: 3, high: 7, step: 4}
  dropout: {type: float, low: 0.0, high: 0.5, step: 0.5}
  learning_rate: [1.0e-4, 1.0e-2]
  filters_growth: [1, 2]
  optimizer: [adam, sgd, adamw]
  momentum: {type: float, low: 0.5, high: 0.9, step: 0.4, when: {optimizer: sgd}}
  weight_decay: {type: categorical, choices: [1.0e-3], when: {optimizer: adamw}}
  convs_per_block: {type: int, low: 1, high: 2, when: {n_blocks: [3, 4]}}
  batch_norm: {type: bool}
  aug_rotation: {type: float, low: 0.0, high: 0.2, step: 0.2, when: {batch_norm: true}}
  aug_zoom: {type: float, low: 0.0, high: 0.2, step: 0.2,
             when: {aug_rotation: [0.0], batch_norm: true}}
  dense_units: 32
"""


def test_the_contract_covers_every_listed_algorithm():
    assert ("optuna", "nsgaii") in ENGINES and ("optuna", "grid") in ENGINES
    assert len(ENGINES) == sum(len(a) for a in ALGORITHMS.values())
    parse_space(GRID_SPACE).grid()  # finite, or the grid runs below would be refused


def make(tmp_path, engine, algorithm, study="toy", max_steps=9):
    storage = f"sqlite:///{tmp_path}/o.db" if engine == "optuna" else str(tmp_path / "kt")
    space = parse_space(GRID_SPACE if algorithm == "grid" else SPACE)
    return make_engine(engine, space=space, study_name=study, storage=storage,
                       algorithm=algorithm, pruner="none", seed=1, direction="maximize",
                       max_steps=max_steps)


def toy(sample):
    p = sample.params
    return Outcome("COMPLETE", -abs(math.log10(p["learning_rate"]) + 2.5) + 0.1 * p["n_blocks"])


def check_inside_space(p):
    assert isinstance(p["n_blocks"], int) and 1 <= p["n_blocks"] <= 4
    assert isinstance(p["filters"], int) and 8 <= p["filters"] <= 64
    assert p["kernel_size"] in (3, 5, 7)
    assert p["dropout"] in (0.0, 0.25, 0.5)
    assert 1e-4 <= p["learning_rate"] <= 1e-1
    assert p["filters_growth"] in (1, 1.5, 2)
    assert p["optimizer"] in ("adam", "sgd", "adamw")
    assert p["batch_norm"] in (True, False) and isinstance(p["batch_norm"], bool)
    assert p["dense_units"] == 32
    # conditionals: present exactly when their condition holds, and then inside their range
    assert ("momentum" in p) == (p["optimizer"] == "sgd")
    assert ("weight_decay" in p) == (p["optimizer"] == "adamw")
    assert ("convs_per_block" in p) == (p["n_blocks"] in (3, 4))
    assert ("aug_rotation" in p) == p["batch_norm"]
    assert ("aug_zoom" in p) == (p["batch_norm"] and p.get("aug_rotation") == 0.0)
    if "momentum" in p:
        assert 0.5 <= p["momentum"] <= 0.9
    if "weight_decay" in p:
        assert 1e-5 <= p["weight_decay"] <= 1e-2
    if "convs_per_block" in p:
        assert p["convs_per_block"] in (1, 2)
    if "aug_rotation" in p:
        assert 0.0 <= p["aug_rotation"] <= 0.2


@pytest.mark.parametrize("engine,algorithm", ENGINES, ids=IDS)
def test_samples_lie_inside_the_space_and_are_stored_as_handed_out(tmp_path, engine, algorithm):
    eng = make(tmp_path, engine, algorithm)
    info = eng.open()
    assert info.created and info.n_trials == 0
    handed = {}

    def evaluate(sample):
        check_inside_space(sample.params)
        if sample.steps is not None:  # an algorithm's own budget of steps stays within the max
            assert 1 <= sample.steps <= 9
        handed[sample.number] = dict(sample.params)
        return toy(sample)

    # KerasTuner's Bayesian oracle fits a Gaussian process per sample: fewer samples
    n = 8 if algorithm == "bayesian" else 14
    eng.run(evaluate, n_trials=n, budget=None)
    assert len(handed) == n
    records = eng.trials()
    assert [t.number for t in records] == sorted(handed)
    for t in records:
        assert t.state == "COMPLETE" and t.params == handed[t.number]
    seen = list(handed.values())
    assert {p["optimizer"] for p in seen} >= {"adam", "sgd"}  # every engine explores a choice
    best = eng.best()
    assert best.state == "COMPLETE"
    assert best.value == max(t.value for t in records)


@pytest.mark.parametrize("engine,algorithm", ENGINES, ids=IDS)
def test_failed_trial_does_not_end_the_search(tmp_path, engine, algorithm):
    eng = make(tmp_path, engine, algorithm)
    eng.open()

    def evaluate(sample):
        sample.set_attr("seen", True)
        if sample.number in (1, 2, 3, 4):  # more failures in a row than KerasTuner allows
            return Outcome("FAIL", error="loss is nan")
        return toy(sample)

    eng.run(evaluate, n_trials=6, budget=None)
    records = eng.trials()
    assert [t.state for t in records] == ["COMPLETE"] + ["FAIL"] * 4 + ["COMPLETE"]
    assert records[1].attrs["error"] == "loss is nan" and records[1].value is None
    assert all(t.attrs["seen"] for t in records)
    assert eng.best().number in (0, 5)


@pytest.mark.parametrize("engine,algorithm", ENGINES, ids=IDS)
def test_pruned_outcome_is_recorded(tmp_path, engine, algorithm):
    eng = make(tmp_path, engine, algorithm)
    eng.open()

    def evaluate(sample):
        return Outcome("PRUNED", 0.1) if sample.number == 1 else toy(sample)

    eng.run(evaluate, n_trials=3, budget=None)
    states = [t.state for t in eng.trials()]
    assert states == ["COMPLETE", "PRUNED", "COMPLETE"]
    assert eng.best().number != 1


@pytest.mark.parametrize("engine,algorithm", ENGINES, ids=IDS)
def test_resume_adds_trials_and_keeps_attrs(tmp_path, engine, algorithm):
    eng = make(tmp_path, engine, algorithm)
    eng.open()
    eng.set_study_attr("data_fingerprint", "abc")
    eng.run(toy, n_trials=3, budget=None)
    first = {t.number: t.params for t in eng.trials()}
    again = make(tmp_path, engine, algorithm)
    info = again.open()
    assert not info.created and info.n_trials == 3
    assert info.attrs["data_fingerprint"] == "abc"
    again.run(toy, n_trials=2, budget=None)
    records = again.trials()
    assert [t.number for t in records] == [0, 1, 2, 3, 4]
    assert {t.number: t.params for t in records[:3]} == first  # nothing rewritten or re-run
    assert all(t.state == "COMPLETE" for t in records)


@pytest.mark.parametrize("engine,algorithm", ENGINES, ids=IDS)
def test_exception_in_evaluate_ends_search_and_marks_trial_failed(tmp_path, engine, algorithm):
    eng = make(tmp_path, engine, algorithm)
    eng.open()

    def evaluate(sample):
        raise RuntimeError("tracking server down")

    with pytest.raises(RuntimeError):
        eng.run(evaluate, n_trials=3, budget=None)
    assert [t.state for t in eng.trials()] == ["FAIL"]


@pytest.mark.parametrize("engine,algorithm", ENGINES, ids=IDS)
def test_timeout_bounds_the_call(tmp_path, engine, algorithm):
    import time

    eng = make(tmp_path, engine, algorithm)
    eng.open()

    ended: list[float] = []

    def evaluate(sample):
        time.sleep(0.3)
        ended.append(time.monotonic())
        return toy(sample)

    # Only the contract, not this machine's speed: with no trial limit the call goes on
    # until the deadline and begins no trial after it. A trial begins when the one before it
    # has ended (its sampling may then take a while: CMA-ES imports its library inside the
    # second trial), so every trial but the last ended before the deadline.
    t0 = time.monotonic()
    eng.run(evaluate, n_trials=None, budget=trials_within(1.0))
    elapsed = time.monotonic() - t0
    assert ended and all(e - t0 < 1.0 for e in ended[:-1]), "a trial began after the deadline"
    assert elapsed >= 1.0, f"the search stopped at {elapsed:.2f} s, before its deadline"
    assert len(eng.trials()) == len(ended) <= 4  # each takes 0.3 s: at most 3 end in time


@pytest.mark.parametrize("engine,algorithm", ENGINES, ids=IDS)
def test_resuming_with_the_same_seed_does_not_repeat_trials(tmp_path, engine, algorithm):
    eng = make(tmp_path, engine, algorithm)
    eng.open()
    eng.run(toy, n_trials=3, budget=None)
    again = make(tmp_path, engine, algorithm)  # same seed, as re-running the same command does
    again.open()
    again.run(toy, n_trials=3, budget=None)
    params = [t.params for t in again.trials()]
    if algorithm == "hyperband":  # later rounds rerun earlier configs with more epochs
        params = [t.params for t in again.trials() if t.attrs.get("hyperband_round") == 0]
    keys = [repr(sorted(p.items())) for p in params]
    assert len(set(keys)) == len(keys), "a resumed study drew the same params again"


@pytest.mark.parametrize("engine,algorithm", ENGINES, ids=IDS)
def test_each_named_algorithm_is_made_as_named_and_an_unknown_one_is_an_error(
        tmp_path, engine, algorithm):
    """No table picks an algorithm or pruner by default in a final ``else``: each name makes
    its own, and a name outside the catalog is refused, not quietly replaced."""
    eng = make(tmp_path, engine, algorithm)
    if engine == "optuna":
        made = type(eng._sampler()).__name__.lower()
        assert made.startswith({"nsgaii": "nsgaii", "qmc": "qmc", "cmaes": "cmaes"}.get(
            algorithm, algorithm))
        eng.sampler_name = "sobol"
        with pytest.raises(ValueError, match="unknown Optuna sampler 'sobol'"):
            eng._sampler()
        for pruner, kind in (("median", "Median"), ("hyperband", "Hyperband"),
                             ("asha", "SuccessiveHalving"), ("none", "Nop")):
            eng.pruner_name = pruner
            assert type(eng._pruner()).__name__ == f"{kind}Pruner"
        eng.pruner_name = "patient"
        with pytest.raises(ValueError, match="unknown Optuna pruner 'patient'"):
            eng._pruner()
    else:
        eng.algorithm = "gridsearch"
        with pytest.raises(ValueError, match="unknown KerasTuner algorithm 'gridsearch'"):
            eng.open()


def test_an_unknown_regression_loss_is_an_error_not_mse():
    import numpy as np

    from cnntune.tasks import regression_loss

    z = np.array([-2.0, 0.5])
    assert regression_loss("huber", z, np).tolist() == [1.5, 0.125]
    assert regression_loss("mae", z, np).tolist() == [2.0, 0.5]
    with pytest.raises(ValueError, match="unknown regression loss 'l1'"):
        regression_loss("l1", z, np)
