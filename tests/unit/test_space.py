"""Search-space parsing and validation: pure Python, no TensorFlow."""

import subprocess
import sys

import pytest

from cnntune.errors import SpaceError
from cnntune.space import list_shipped, load_space, parse_space, shipped_spaces_dir

HEAD = "name: t\nparams:\n"


def test_every_shipped_space_validates():
    names = list_shipped()
    assert "default" in names and len(names) >= 2
    for name in names:
        sp = load_space(shipped_spaces_dir() / f"{name}.yaml")
        assert sp.params and sp.order


def test_shorthand_expands_to_fixed_and_categorical():
    sp = parse_space(HEAD + "  dense_units: 64\n  activation: [relu, gelu]\n")
    assert sp.params["dense_units"].type == "fixed" and sp.params["dense_units"].value == 64
    assert sp.params["activation"].type == "categorical"
    assert sp.params["activation"].choices == ["relu", "gelu"]


def test_conditions_order_parents_first_and_activate():
    sp = parse_space(HEAD + "  momentum: {type: float, low: 0.1, high: 0.9, when: {optimizer: sgd}}"
                     "\n  optimizer: [adam, sgd]\n")
    assert sp.order == ["optimizer", "momentum"]
    assert sp.is_active("momentum", {"optimizer": "sgd"})
    assert not sp.is_active("momentum", {"optimizer": "adam"})
    assert not sp.is_active("momentum", {})  # parent inactive -> child inactive


def test_condition_with_list_of_values():
    sp = parse_space(HEAD + "  optimizer: [adam, sgd, rmsprop]\n  momentum: {type: float, "
                     "low: 0.1, high: 0.9, when: {optimizer: [sgd, rmsprop]}}\n")
    assert sp.is_active("momentum", {"optimizer": "rmsprop"})
    assert not sp.is_active("momentum", {"optimizer": "adam"})


def test_defaults_for_settings():
    sp = parse_space(HEAD + "  filters: [8, 16]\n")
    assert sp.primary == "val_accuracy" and sp.direction == "maximize"
    assert sp.search.engine == "optuna" and sp.search.algorithm_for("optuna") == "tpe"
    assert sp.data.source is None


def test_algorithm_applies_to_its_own_engine_only():
    sp = parse_space("params: {filters: 8}\nsearch: {engine: kerastuner, algorithm: hyperband}")
    assert sp.search.algorithm_for("kerastuner") == "hyperband"
    assert sp.search.algorithm_for("optuna") == "tpe"  # another engine: that engine's default
    sp = parse_space("params: {filters: 8}\nsearch: {sampler: cmaes}")
    assert sp.search.algorithm_for("optuna") == "cmaes"
    assert sp.search.algorithm_for("kerastuner") == "bayesian"


def test_family_conditions_reach_through_parents():
    # momentum hangs off optimizer, which is fine for every family; res_units off family
    sp = parse_space(HEAD + "  family: [plain, resnet]\n  optimizer: [adam, sgd]\n"
                     "  momentum: {type: float, low: 0.5, high: 0.9, when: {optimizer: sgd}}\n"
                     "  preactivation: {type: bool, when: {family: resnet}}\n"
                     "  res_units: {type: int, low: 1, high: 2, when: {preactivation: true}}\n"
                     "constraints: {max_params: 5000}\n")
    assert sp.spec.constraints.max_params == 5000
    # parents are sampled first, and a param is active only when its whole chain is
    assert sp.order.index("family") < sp.order.index("preactivation") < \
        sp.order.index("res_units")
    assert not sp.is_active("res_units", {"family": "plain"})
    assert not sp.is_active("res_units", {"family": "resnet", "preactivation": False})
    assert sp.is_active("res_units", {"family": "resnet", "preactivation": True})
    assert sp.is_active("momentum", {"family": "resnet", "optimizer": "sgd"})
    assert not sp.is_active("momentum", {"family": "plain", "optimizer": "adam"})
    # a resnet-only knob whose chain never reaches family: resnet is refused
    with pytest.raises(SpaceError, match="res_units"):
        parse_space(HEAD + "  family: [plain, resnet]\n  optimizer: [adam, sgd]\n"
                    "  res_units: {type: int, low: 1, high: 2, when: {optimizer: sgd}}\n")


def test_objectives_directions_and_what_needs_latency():
    sp = parse_space(HEAD + "  filters: 8\nobjectives: [val_loss, latency_ms]\n")
    assert sp.objectives == ["val_loss", "latency_ms"] and sp.primary == "val_loss"
    assert sp.directions == ["minimize", "minimize"] and sp.multi and sp.measures_latency
    sp = parse_space(HEAD + "  filters: 8\nconstraints: {max_size_mb: 1}\n")
    assert not sp.multi and sp.measures_latency and sp.objectives == ["val_accuracy"]
    assert not parse_space(HEAD + "  filters: 8\n").measures_latency


def test_grid_values():
    sp = parse_space(HEAD + "  n_blocks: {type: int, low: 1, high: 3}\n"
                     "  dropout: {type: float, low: 0.0, high: 0.5, step: 0.25}\n"
                     "  batch_norm: {type: bool}\n")
    assert sp.grid() == {"n_blocks": [1, 2, 3], "dropout": [0.0, 0.25, 0.5],
                         "batch_norm": [False, True]}


def test_numbers_in_exponent_notation_are_numbers():
    """1e-5 is a float as YAML 1.2, JSON and Python read it (PyYAML's YAML 1.1 rules would
    make it the string '1e-5', refused as 'must be a number'); words stay words."""
    sp = parse_space(HEAD + "  l2: 1e-5\n  learning_rate: {type: float, low: 1E-4, high: "
                     "+3e-2, log: true}\n  activation: [relu, elu]\n")
    assert sp.params["l2"].value == 1e-5
    assert (sp.params["learning_rate"].low, sp.params["learning_rate"].high) == (1e-4, 3e-2)
    assert sp.params["activation"].choices == ["relu", "elu"]


def test_grid_needs_float_step():
    sp = parse_space(HEAD + "  dropout: {type: float, low: 0.0, high: 0.5}\n")
    with pytest.raises(SpaceError, match="param 'dropout'.*step"):
        sp.grid()


BAD = [
    ("malformed YAML", "name: t\nparams: {a: [1, 2\n", "malformed YAML at line"),
    ("not a mapping", "- 1\n- 2\n", "expected a mapping"),
    ("no params", "name: t\n", "missing required key 'params'"),
    ("unknown top key", HEAD + "  filters: 8\nepochs: 3\n", "unknown key 'epochs'"),
    ("unknown param key", HEAD + "  learning_rate: {type: float, low: 0.1, high: 1, lg: true}\n",
     "param 'learning_rate'.*unknown key 'lg'"),
    ("unknown knob", HEAD + "  lerning_rate: {type: float, low: 0.001, high: 0.1}\n",
     "param 'lerning_rate': unknown knob"),
    ("low > high", HEAD + "  learning_rate: {type: float, low: 0.1, high: 0.01}\n",
     "param 'learning_rate'.*low must be < high, got low=0.1 high=0.01"),
    ("log with low <= 0", HEAD + "  l2: {type: float, low: 0.0, high: 0.01, log: true}\n",
     "param 'l2'.*log scale needs low > 0"),
    ("empty categorical", HEAD + "  activation: {type: categorical, choices: []}\n",
     "param 'activation'.*choices is empty"),
    ("duplicate choices", HEAD + "  filters: [8, 8]\n", "param 'filters'.*duplicates"),
    ("unknown type", HEAD + "  filters: {type: integer, low: 1, high: 3}\n",
     "param 'filters'.*'type' must be one of"),
    ("when names unknown", HEAD + "  momentum: {type: float, low: 0.1, high: 0.9, "
     "when: {optimiser: sgd}}\n", "param 'momentum': 'when' names unknown param 'optimiser'"),
    ("when impossible value", HEAD + "  optimizer: [adam, sgd]\n  momentum: {type: float, "
     "low: 0.1, high: 0.9, when: {optimizer: nadam}}\n", "never takes"),
    ("when cycle", HEAD + "  optimizer: {type: categorical, choices: [adam, sgd], when: "
     "{batch_norm: true}}\n  batch_norm: {type: bool, when: {optimizer: sgd}}\n", "cycle"),
    ("bad activation", HEAD + "  activation: [relu, relux]\n",
     "param 'activation': must be one of .*got 'relux'"),
    ("float range on int knob", HEAD + "  n_blocks: {type: float, low: 1, high: 3}\n",
     "param 'n_blocks': is an integer knob"),
    ("out of knob bounds", HEAD + "  dropout: {type: float, low: 0.0, high: 1.5}\n",
     "param 'dropout': must be <= 0.95"),
    ("bad sampler", HEAD + "  filters: 8\nsearch: {sampler: bayes}\n", "key 'search.sampler'"),
    ("sampler for kerastuner", HEAD + "  filters: 8\nsearch: {engine: kerastuner, sampler: tpe}\n",
     "'sampler' is an optuna setting"),
    ("algorithm of another engine", HEAD + "  filters: 8\nsearch: {engine: kerastuner, "
     "algorithm: tpe}\n", "not one of engine kerastuner's; use one of bayesian, random, hyperband"),
    ("algorithm and sampler disagree", HEAD + "  filters: 8\nsearch: {algorithm: random, "
     "sampler: tpe}\n", "disagree"),
    ("param of another family", HEAD + "  family: [plain, resnet]\n  res_units: 2\n",
     "param 'res_units': would be handed to family plain, which does not use it; "
     "add when: {family: \\[resnet\\]}"),
    ("family knob without family", HEAD + "  width_multiplier: 0.5\n",
     "param 'width_multiplier': would be handed to family plain.*add family: separable"),
    ("augmentation for sequences", HEAD + "  family: conv1d\n  aug_zoom: 0.1\n",
     "param 'aug_zoom': would be handed to family conv1d"),
    ("fine-tuning without a backbone", HEAD + "  family: [plain, transfer]\n"
     "  finetune_epochs: [0, 2]\n", "param 'finetune_epochs': would be handed to family "
     "plain, which does not use it; add when: {family: \\[transfer\\]}"),
    ("RandAugment magnitude above 1", HEAD + "  aug_randaugment_magnitude: [0.5, 1.5]\n",
     "param 'aug_randaugment_magnitude': must be <= 1.0, got 1.5"),
    ("negative SE ratio", HEAD + "  se_ratio: [-4, 8]\n", "param 'se_ratio': must be >= 0"),
    ("EMA momentum of 1", HEAD + "  ema: [0.0, 1.0]\n", "param 'ema': must be <= 0.9999"),
    ("bad max_params", HEAD + "  filters: 8\nconstraints: {max_params: 0}\n",
     "key 'constraints.max_params'"),
    ("csv without path", HEAD + "  filters: 8\ndata: {source: csv}\n", "needs a path"),
    ("unknown objective", HEAD + "  filters: 8\nobjectives: [val_accuracy, speed]\n",
     "objective 'speed' is unknown"),
    ("deployment objective first", HEAD + "  filters: 8\n"
     "objectives: [latency_ms, val_accuracy]\n",
     "the first objective must be a validation score"),
    ("cmaes with two objectives", HEAD + "  filters: 8\nobjectives: [val_accuracy, n_params]\n"
     "search: {algorithm: cmaes}\n", "cmaes sampler has one objective only"),
    ("bad latency settings", HEAD + "  filters: 8\nlatency: {repeats: 1}\n",
     "key 'latency.repeats'"),
    ("bad epochs", HEAD + "  filters: 8\ntraining: {epochs: 0}\n", "key 'training.epochs'"),
    ("step and log", HEAD + "  filters: {type: int, low: 8, high: 64, step: 8, log: true}\n",
     "log and step cannot be combined"),
    ("npz without path", HEAD + "  filters: 8\ndata: {source: npz}\n", "needs a path"),
    # a key that is 'auto' or a value: both branches in one message, no pydantic tags
    ("checks of 0", HEAD + "  filters: 8\ntraining: {checks_per_epoch: 0}\n",
     "key 'training.checks_per_epoch': Should be 'auto' or greater than or equal to 1, got 0"),
    ("in_memory not a bool", HEAD + "  filters: 8\ndata: {in_memory: maybe}\n",
     "key 'data.in_memory': Should be 'auto' or a valid boolean.*got 'maybe'"),
    ("start_from a number", HEAD + "  filters: 8\nstart_from: 3\n",
     "key 'start_from': Should be 'auto' or a valid list, got 3"),
    ("start_from value a list", HEAD + "  filters: [8, 16]\nstart_from: [{filters: [8]}]\n",
     "key 'start_from.0.filters': Should be .*a valid integer.*got \\[8\\]"),
]


@pytest.mark.parametrize("label,text,pattern", BAD, ids=[b[0] for b in BAD])
def test_invalid_spaces_give_one_line_errors(label, text, pattern, write_space):
    path = write_space(text, "bad.yaml")
    with pytest.raises(SpaceError, match=pattern) as info:
        load_space(path)
    msg = str(info.value)
    assert msg.startswith("space 'bad.yaml'")
    assert "\n" not in msg
    assert ";" in msg  # every message carries a fix after the semicolon


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(SpaceError, match="'nope.yaml': file not found"):
        load_space("nope.yaml")


def test_cli_validate_and_show_without_tensorflow(tmp_path, cnntune_cli):
    code = ("import sys; from cnntune.cli import cli; "
            "sys.argv=['cnntune','space','show','default']\n"
            "try:\n    cli()\nexcept SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules and 'optuna' not in sys.modules\n"
            "assert 'mlflow' not in sys.modules\nprint('CLEAN')")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert "CLEAN" in out.stdout, out.stderr
    assert "learning_rate" in out.stdout
    r = cnntune_cli("space", "validate", "default", "rich")
    assert r.returncode == 0 and r.stdout.count("ok:") == 2


def test_cli_invalid_space_exit_2_one_line_nothing_written(tmp_path, cnntune_cli):
    (tmp_path / "bad.yaml").write_text(HEAD + "  learning_rate: {type: float, low: 1, high: 0.1}\n")
    for args in (("space", "validate", "bad.yaml"), ("search", "--space", "bad.yaml")):
        r = cnntune_cli(*args)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: space 'bad.yaml', param "
                                                       "'learning_rate'")
    assert not (tmp_path / "mlruns").exists()


def test_checks_per_epoch_cut_only_large_training_splits():
    """auto: 1 below 20,000 training examples; a check trains on 10,000 at least and is
    scored on 2,000 validation examples at least; 20 at most. A number is taken as given, and
    one out of range is refused by the space."""
    from cnntune.checks import checks_per_epoch

    assert checks_per_epoch("auto", 1437, 180) == 1  # digits
    assert checks_per_epoch("auto", 19_999, 2_000) == 1
    assert checks_per_epoch("auto", 50_000, 12_000) == 5
    assert checks_per_epoch("auto", 50_000, 5_000) == 2  # a small validation split
    assert checks_per_epoch("auto", 50_000, 3_999) == 1
    assert checks_per_epoch("auto", 1_000_000, 100_000) == 20
    assert checks_per_epoch(4, 1437, 180) == 4
    lr = "params: {learning_rate: {type: float, low: 0.001, high: 0.01, log: true}}\n"
    assert parse_space(lr + "training: {checks_per_epoch: 3}").training.checks_per_epoch == 3
    assert parse_space(lr).training.checks_per_epoch == "auto"
    for bad in (0, 21, "often"):
        with pytest.raises(SpaceError, match="checks_per_epoch"):
            parse_space(lr + f"training: {{checks_per_epoch: {bad}}}")


def test_a_spaces_relative_data_path_is_read_from_the_spaces_folder(tmp_path, monkeypatch):
    """README: relative paths in a space (data.path, labels, backbone weights) resolve
    against the space file's folder, wherever the command runs; --data on the command line
    stays relative to the working folder."""
    import numpy as np

    from cnntune.tuning.plan import make_plan
    from cnntune.tuning.options import SearchOptions

    (tmp_path / "proj").mkdir()
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "proj" / "mine.npz", x=rng.random((60, 6, 6)),
             y=np.arange(60) % 3)
    (tmp_path / "proj" / "s.yaml").write_text(
        "name: s\ndata: {path: mine.npz}\nparams:\n  n_blocks: 1\n")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    plan = make_plan(SearchOptions("../proj/s.yaml", trials=1, epochs=1))
    assert plan.dataset.name == "mine" and plan.dataset.num_classes == 3
    assert len(plan.dataset.train) + len(plan.dataset.val) + len(plan.dataset.test) == 60
    with pytest.raises(Exception, match="mine.npz"):  # the command line's: from here
        make_plan(SearchOptions("../proj/s.yaml", "mine.npz", trials=1, epochs=1))
