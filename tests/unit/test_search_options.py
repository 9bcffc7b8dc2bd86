"""SearchOptions: a search's options, checked once when made, and handed to a worker as
they are."""

from __future__ import annotations

import os

import pytest

from cnntune.errors import ConfigError
from cnntune.tuning.options import AUTO, SearchOptions


@pytest.mark.parametrize("bad, message", [
    ({"trials": 0}, "--trials must be >= 1, got 0"),
    ({"workers": -1}, "--workers must be >= 1, got -1"),
    ({"warm_start_best": 0}, "--warm-start-best must be >= 1"),
    ({"patience_trials": 0}, "--patience-trials must be >= 1"),
    ({"timeout": 0}, "--timeout must be > 0 seconds"),
    ({"algorithm": "tpe", "sampler": "random"}, "--algorithm tpe and --sampler random disagree"),
])
def test_bad_options_are_refused_when_made(bad, message):
    with pytest.raises(ConfigError, match=message):
        SearchOptions(**bad)


def test_an_unknown_option_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="trails"):
        SearchOptions(trails=3)


def test_defaults_and_normalising():
    o = SearchOptions(None, data=os.path.join("a", "b.npz"), sampler="tpe")
    assert o.space == AUTO and o.auto and o.data == os.path.join("a", "b.npz")
    assert o.chosen_algorithm == "tpe" and o.started is not None
    assert SearchOptions(algorithm="tpe", sampler="tpe").chosen_algorithm == "tpe"


def test_a_worker_gets_the_options_back_unchanged_but_for_its_own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text("name: s\nparams:\n  n_blocks: 1\n")
    (tmp_path / "d.npz").write_bytes(b"")
    o = SearchOptions("s.yaml", data="d.npz", storage="journal:j.journal", trials=4,
                      timeout=30, started=123.0, seed=5, workers=3, gpus="0,1",
                      warm_start="old", patience_trials=2, baselines=True, epochs=2)
    w = SearchOptions.from_json(o.for_worker(2).to_json())
    assert w.space == str(tmp_path / "s.yaml") and w.data == str(tmp_path / "d.npz")
    assert w.storage == f"journal:{tmp_path / 'j.journal'}"
    assert (w.worker_index, w.workers, w.gpus) == (2, 1, None)
    assert (w.warm_start, w.patience_trials, w.baselines) == (None, None, False)  # coordinator's
    # the budget keeps counting from the coordinator's start, not the worker's
    assert (w.timeout, w.started, w.seed, w.trials, w.epochs) == (30, 123.0, 5, 4, 2)
