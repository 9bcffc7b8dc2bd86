"""What the task decides, for classification and regression: how targets are read and
checked, how splits are stratified, which objectives a space may name, how exports are
judged and what predict prints. Pure numpy and the space schema: no training here."""

import numpy as np
import pytest

from cnntune.catalog import TASK_OBJECTIVES, TASKS
from cnntune.data import load_dataset
from cnntune.errors import DataError, SpaceError
from cnntune.space import parse_space
from cnntune.tasks import CLASSIFICATION, task

REGRESSION = task("regression")


def test_every_task_in_the_catalog_has_its_type_and_objectives():
    assert [task(name).name for name in TASKS] == list(TASKS)
    for name in TASKS:
        t = task(name)
        assert t.default_objective == next(iter(TASK_OBJECTIVES[name]))
        assert f"val_{t.headline}" in t.objectives  # the headline figure is an objective
    assert task(None) is CLASSIFICATION  # studies from before tasks


def test_regression_targets_are_float_rows_with_names():
    y, names = REGRESSION.targets(np.array([1, 2, 3.5]), "npz 'a.npz', y")
    assert y.shape == (3, 1) and y.dtype == np.float32 and names == ["target"]
    y, names = REGRESSION.targets(np.array([[1, 5], [2, 7.5]]), "w")
    assert y.shape == (2, 2) and names == ["target0", "target1"]
    y, names = REGRESSION.targets(np.array([["1", "2"], ["3", "4.5"]]), "w", ["a", "b"])
    assert y.tolist() == [[1, 2], [3, 4.5]] and names == ["a", "b"]


@pytest.mark.parametrize("raw, first_row, fragment", [
    (np.array([1.0, np.nan, 3.0]), 0, "w, row 1: target is NaN or infinite"),
    (np.array(["1.5", "tall", "2"]), 2, "w, row 3: target 'tall' is not a number"),
    (np.array([2.0, 2.0, 2.0]), 0, "target 'target' has the same value for every example"),
    (np.zeros((3, 2, 2)), 0, "one number per example or a row of numbers"),
])
def test_regression_targets_that_cannot_be_learnt_are_refused(raw, first_row, fragment):
    with pytest.raises(DataError, match=fragment):
        REGRESSION.targets(raw, "w", first_row=first_row)


def test_fractional_labels_are_not_taken_for_classes():
    with pytest.raises(DataError, match=r"fractional numbers \(such as 0.5\).*task: regression"):
        CLASSIFICATION.targets(np.array([0.0, 0.5, 1.0]), "npz 'a.npz', y")
    y, names = CLASSIFICATION.targets(np.array([2.0, 0.0, 2.0]), "w")  # whole numbers: classes
    assert y.tolist() == [1, 0, 1] and names == ["0.0", "2.0"]


def test_regression_strata_are_quantile_bins_of_the_first_target():
    y = np.random.default_rng(0).normal(size=(400, 2))
    codes = REGRESSION.strata(y)
    assert codes.max() + 1 == 10 and np.bincount(codes).min() >= 3
    # ordered by the first target: every bin holds a range of it below the next bin's
    tops = [y[codes == c, 0].max() for c in range(10)]
    assert tops == sorted(tops)
    assert REGRESSION.strata(y[:30]).tolist() == [0] * 30  # too few to bin
    assert len(np.unique(REGRESSION.strata(np.repeat([1.0, 2.0], 50)))) == 2  # ties merge


def test_figures_and_the_export_check():
    y = np.array([[1.0], [2.0], [3.0], [4.0]])
    s = REGRESSION.label_scores(y, y[:, 0] + [0.5, -0.5, 0.5, -0.5], "test_")
    assert s == pytest.approx({"test_rmse": 0.5, "test_mae": 0.5, "test_r2": 0.8})
    prep = REGRESSION.prep(y)
    same = REGRESSION.compare(y + 1e-6, y, y, prep, "none")
    assert same.passed and same.metric == "rmse"
    off = REGRESSION.compare(y + 0.2, y, y, prep, "none")
    assert not off.passed and "target standard deviations" in off.tolerance
    assert REGRESSION.rows(np.array([[1.5, 2.0]]), ["count", "size"], 1) == \
        [{"count": 1.5, "size": 2.0}]
    probs = np.array([[0.1, 0.7, 0.2]])
    assert CLASSIFICATION.rows(probs, ["a", "b", "c"], 2) == \
        [{"class": "b", "probability": 0.7, "class_2": "c", "probability_2": 0.2}]


HEAD = "name: r\ntask: regression\n"


def test_a_regression_space_takes_its_objectives_and_knobs():
    sp = parse_space(HEAD + "params:\n  loss: [mse, huber]\n")
    assert sp.task is REGRESSION and sp.primary == "val_rmse" and sp.direction == "minimize"
    sp = parse_space(HEAD + "training: {objective: val_r2}\nparams:\n  n_blocks: 2\n")
    assert sp.direction == "maximize"


@pytest.mark.parametrize("text, fragment", [
    (HEAD + "training: {objective: val_accuracy}\nparams:\n  n_blocks: 2\n",
     "training.objective val_accuracy does not fit task regression; use one of val_rmse"),
    ("name: c\ntraining: {objective: val_rmse}\nparams:\n  n_blocks: 2\n",
     "does not fit task classification"),
    (HEAD + "objectives: [val_rmse, val_accuracy]\nparams:\n  n_blocks: 2\n",
     "objective val_accuracy does not fit task regression"),
    (HEAD + "params:\n  label_smoothing: [0.0, 0.1]\n",
     "param 'label_smoothing': is read by task classification only"),
    ("name: c\nparams:\n  loss: [mse, mae]\n", "param 'loss': is read by task regression only"),
    (HEAD + "training: {class_weight: balanced}\nparams:\n  n_blocks: 2\n",
     "training.class_weight weighs classes, and task regression has none"),
    ("name: s\ntask: segmentation\nparams:\n  n_blocks: 2\n", "key 'task'"),
])
def test_what_does_not_fit_the_task_is_refused(text, fragment):
    with pytest.raises(SpaceError, match=fragment):
        parse_space(text)


SPLIT = dict(val_fraction=0.15, test_fraction=0.2, seed=0)


def test_regression_data_from_an_npz_a_csv_and_a_labelled_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (200, 6, 6), dtype=np.uint8)
    np.savez(tmp_path / "r.npz", x=x, y=rng.normal(size=200), target_names=np.array(["age"]))
    d = load_dataset(None, tmp_path / "r.npz", task="regression", **SPLIT)
    assert d.task is REGRESSION and d.class_names == ["age"] and d.train.y.shape == (130, 1)
    assert {"target_mean", "target_std"} <= set(d.prep)
    # stratified by bins: each split spans the range
    for part in d.splits:
        assert part.y.min() < -0.8 and part.y.max() > 0.8

    cols = {f"v{i}": rng.normal(size=60) for i in range(8)}
    import pandas as pd

    pd.DataFrame({**cols, "a": rng.normal(size=60), "b": rng.normal(size=60)}).to_csv(
        tmp_path / "s.csv", index=False)
    d = load_dataset(None, tmp_path / "s.csv", task="regression", label_column=["a", "b"],
                     **SPLIT)
    assert d.kind == "sequence" and d.class_names == ["a", "b"] and d.train.y.shape[1] == 2
    assert d.input_shape == (8, 1)

    (tmp_path / "imgs").mkdir()
    rows = ["file,size"]
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(
            tmp_path / "imgs" / f"{i}.png")
        rows.append(f"{i}.png,{i * 0.5}")
    (tmp_path / "sizes.csv").write_text("\n".join(rows) + "\n")
    d = load_dataset(None, tmp_path / "imgs", task="regression", labels=tmp_path / "sizes.csv",
                     label_column="size", **SPLIT)
    assert d.class_names == ["size"] and len(d.train) + len(d.val) + len(d.test) == 40
    rows[5] = "4.png,big"
    (tmp_path / "sizes.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"labels csv '.*sizes.csv', column 'size', row 6: "
                                        "target 'big' is not a number"):
        load_dataset(None, tmp_path / "imgs", task="regression",
                     labels=tmp_path / "sizes.csv", label_column="size", **SPLIT)


def test_data_and_task_that_do_not_match_are_refused(tmp_path):
    with pytest.raises(DataError, match="'discs' is a regression set and the space's task is "
                                        "classification"):
        load_dataset("discs", None, task="classification", **SPLIT)
    for c in ("a", "b"):
        (tmp_path / "f" / c).mkdir(parents=True)
    with pytest.raises(DataError, match="its sub-folders name classes, and task regression "
                                        "needs a target per image"):
        load_dataset(None, tmp_path / "f", task="regression", **SPLIT)
    (tmp_path / "c.csv").write_text("v0,v1,a,b\n" + "1,2,x,y\n" * 30)
    with pytest.raises(DataError, match="names 2 columns, and a classification has one label"):
        load_dataset(None, tmp_path / "c.csv", label_column=["a", "b"], **SPLIT)


def test_the_discs_set_is_seeded_and_counts_what_it_draws():
    from cnntune.data.sources import make_discs

    x, y, names, scale, name = make_discs(n=50, seed=3)
    again = make_discs(n=50, seed=3)
    assert np.array_equal(x, again[0]) and np.array_equal(y, again[1])
    assert x.shape == (50, 32, 32, 1) and x.dtype == np.uint8 and names == ["count",
                                                                            "mean_radius"]
    assert set(np.unique(y[:, 0])) <= set(range(1, 7)) and (2 <= y[:, 1]).all() and \
        (y[:, 1] <= 6).all()
