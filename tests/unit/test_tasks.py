"""What the task decides, for classification, regression and multi-label: how targets are
read and checked, how splits are stratified, which objectives a space may name, how exports are
judged and what predict prints. Pure numpy and the space schema: no training here."""

import numpy as np
import pytest

from cnntune.catalog import TASK_OBJECTIVES, TASKS
from cnntune.data import load_dataset
from cnntune.errors import DataError, SpaceError
from cnntune.space import parse_space
from cnntune.tasks import CLASSIFICATION, task

REGRESSION = task("regression")
MULTILABEL = task("multilabel")


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
    prep = REGRESSION.prep(y, ["t"])
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
     "param 'label_smoothing': is read by task classification and multilabel only"),
    ("name: c\nparams:\n  loss: [mse, mae]\n", "param 'loss': is read by task regression only"),
    (HEAD + "params:\n  aug_mixup: {type: float, low: 0.0, high: 0.4}\n",
     "param 'aug_mixup': is read by task classification and multilabel only, and this "
     "space's task is regression"),
    (HEAD + "training: {class_weight: balanced}\nparams:\n  n_blocks: 2\n",
     "training.class_weight weighs classes, and task regression has none"),
    ("name: s\ntask: detection\nparams:\n  n_blocks: 2\n", "key 'task'"),
])
def test_what_does_not_fit_the_task_is_refused(text, fragment):
    with pytest.raises(SpaceError, match=fragment):
        parse_space(text)


SPLIT = dict(val_fraction=0.15, test_fraction=0.2, seed=0)


def test_regression_data_from_an_npz_a_csv_and_a_labelled_folder(tmp_path):

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

    rows = _labelled_folder(tmp_path, "sizes.csv", "size", [i * 0.5 for i in range(40)])
    d = load_dataset(None, tmp_path / "imgs", task="regression", labels=tmp_path / "sizes.csv",
                     label_column="size", **SPLIT)
    assert d.class_names == ["size"] and len(d.train) + len(d.val) + len(d.test) == 40
    rows[5] = "4.png,big"
    (tmp_path / "sizes.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"labels csv '.*sizes.csv', column 'size', row 6: "
                                        "target 'big' is not a number"):
        load_dataset(None, tmp_path / "imgs", task="regression",
                     labels=tmp_path / "sizes.csv", label_column="size", **SPLIT)


def _labelled_folder(tmp_path, csv: str, column: str, values: list) -> list[str]:
    """imgs/ of len(values) random 8x8 PNGs, and a labels CSV naming each with its value;
    returns the CSV's lines."""
    from PIL import Image

    rng = np.random.default_rng(1)
    (tmp_path / "imgs").mkdir()
    rows = [f"file,{column}"]
    for i, v in enumerate(values):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(
            tmp_path / "imgs" / f"{i}.png")
        rows.append(f"{i}.png,{v}")
    (tmp_path / csv).write_text("\n".join(rows) + "\n")
    return rows


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


# ------------------------------------------------------------------------- multi-label


def test_multilabel_targets_from_separated_lists_and_from_a_matrix():
    y, names = MULTILABEL.targets(np.array(["cat;dog", "", "dog", np.nan, "bird ; cat"],
                                           dtype=object), "w")
    assert names == ["bird", "cat", "dog"] and y.dtype == np.float32
    assert y.tolist() == [[0, 1, 1], [0, 0, 0], [0, 0, 1], [0, 0, 0], [1, 1, 0]]
    # the first separator any cell holds splits every cell: '|' here, so "a,b" is one label
    y, names = MULTILABEL.targets(np.array([["x|a,b"], ["x"], ["a,b"]]), "w")
    assert names == ["a,b", "x"] and y.tolist() == [[1, 1], [0, 1], [1, 0]]
    y, names = MULTILABEL.targets(np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]]), "w",
                                  columns=["a", "b", "c"])
    assert names == ["a", "b", "c"] and y.sum() == 5
    y, names = MULTILABEL.targets(np.array([[True, False], [False, True]]), "w")
    assert names == ["label0", "label1"]
    # 0/1 columns read as text (a labels CSV) are a matrix too
    y, names = MULTILABEL.targets(np.array([["1", "0"], ["0", "1"], ["1", "1"]]), "w",
                                  columns=["sea", "sky"])
    assert names == ["sea", "sky"] and y.tolist() == [[1, 0], [0, 1], [1, 1]]
    # names given in the file (label_names) fix the order of the outputs
    y, names = MULTILABEL.targets(np.array(["b", "a;b", ""]), "w", ["b", "a"])
    assert names == ["b", "a"] and y.tolist() == [[1, 0], [1, 1], [0, 0]]


@pytest.mark.parametrize("raw, first_row, fragment", [
    (np.array([[1, 0], [0, 2]]), 2, r"w, row 3, column 1: value 2 is not 0 or 1"),
    (np.array([1, 0, 1]), 0, r"0/1 matrix \(examples x labels\).*task: classification"),
    (np.array([[1, 0], [1, 1]]), 0, "label 'label0' is on every example"),
    (np.array(["a", "a"]), 0, "found 1 label; multi-label data needs at least 2"),
    (np.array([["a", "b"], ["c", "d"]]), 0, "one column of separated labels"),
])
def test_multilabel_targets_that_cannot_be_learnt_are_refused(raw, first_row, fragment):
    with pytest.raises(DataError, match=fragment):
        MULTILABEL.targets(raw, "w", first_row=first_row)
    with pytest.raises(DataError, match="label 'c' is not in label_names"):
        MULTILABEL.targets(np.array(["a", "b;c"]), "w", ["a", "b"])


def test_min_labels_refuses_an_example_with_too_few_and_only_multilabel_has_it():
    strict = MULTILABEL.configured(min_labels=1)
    assert strict.min_labels == 1 and MULTILABEL.min_labels == 0  # a copy, the task unchanged
    with pytest.raises(DataError, match=r"w, row 4: 0 labels, and data.min_labels is 1"):
        strict.targets(np.array(["a", "b", "", "a;b"]), "w", first_row=2)
    assert MULTILABEL.configured(min_labels=0) is MULTILABEL
    with pytest.raises(ValueError, match="data.min_labels is a rule of multi-label data, and "
                                         "this task is classification"):
        CLASSIFICATION.configured(min_labels=1)


def test_multilabel_strata_keep_a_rare_label_in_every_split():
    from cnntune.data.splits import split

    rng = np.random.default_rng(0)
    y = (rng.random((300, 4)) < [0.5, 0.4, 0.3, 0.04]).astype("float32")
    codes = MULTILABEL.strata(y)
    assert np.bincount(codes).min() >= 3
    # every example with the rare label is in its group
    rare = y[:, 3] > 0
    assert len(np.unique(codes[rare])) == 1 and (codes == codes[rare][0]).sum() == rare.sum()
    idx = split(codes, val_fraction=0.15, test_fraction=0.2, seed=0, name="m")
    for part in idx.values():
        assert y[part, 3].sum() >= 1
    # a group under 3 examples joins the largest
    tiny = np.array([[1, 0], [1, 0], [1, 0], [1, 0], [0, 1]], "float32")
    assert np.bincount(MULTILABEL.strata(tiny)).tolist() == [5]


def test_multilabel_thresholds_figures_export_check_rows_and_explained():
    from cnntune.tasks import fit_thresholds

    y = np.array([[1, 0], [1, 0], [0, 1], [0, 0]], "float32")
    probs = np.array([[0.3, 0.1], [0.35, 0.2], [0.1, 0.9], [0.05, 0.6]])
    t = fit_thresholds(y, probs)
    # label 0: any threshold in (0.1, 0.3] catches both and nothing else; nearest 0.5 is 0.3
    # label 1: 0.65-0.9 keeps the one true example and drops the 0.6
    assert t[0] == 0.3 and 0.6 < t[1] <= 0.9
    decision = {"thresholds": t.tolist()}
    s = MULTILABEL.label_scores(y, probs >= t, "test_")
    assert s == {"test_micro_f1": 1.0, "test_macro_f1": 1.0, "test_exact_match": 1.0}
    at_half = MULTILABEL.label_scores(y, probs >= 0.5, "")
    assert at_half["micro_f1"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 2))  # 1 tp, 1 fp, 2 fn

    class Model:
        losses = ()

    scored = MULTILABEL.score(Model(), y, probs, "test_", {}, {}, decision)
    p = np.clip(probs, 1e-7, 1 - 1e-7)
    assert scored["test_loss"] == pytest.approx(-(y * np.log(p) + (1 - y) * np.log(1 - p))
                                                .mean())
    assert scored["test_auc"] == 1.0 and scored["test_micro_f1"] == 1.0
    check = MULTILABEL.compare(probs + 1e-6, probs, y, {}, "none", decision)
    assert check.passed and check.metric == "micro_f1" and check.score == 1.0
    assert not MULTILABEL.compare(probs + 0.01, probs, y, {}, "none", decision).passed
    rows = MULTILABEL.rows(probs[:2], ["cat", "dog"], 1, decision)
    assert rows[0] == {"labels": "cat", "p_cat": 0.3, "p_dog": 0.1}
    idx, outputs, titles = MULTILABEL.explained(probs, y, ["cat", "dog"], decision)
    # each predicted label once; the last example (none predicted) its likeliest
    assert idx.tolist() == [0, 1, 2, 3] and outputs.tolist() == [0, 0, 1, 1]
    assert titles[2] == "dog 0.90 (true)" and titles[3] == "dog 0.60 (not there)"


ML = "name: m\ntask: multilabel\n"


@pytest.mark.parametrize("text, fragment", [
    (ML + "training: {objective: val_accuracy}\nparams:\n  n_blocks: 2\n",
     "val_accuracy does not fit task multilabel; use one of val_micro_f1, val_macro_f1"),
    ("name: c\ndata: {min_labels: 1}\nparams:\n  n_blocks: 2\n",
     "data.min_labels is a rule of multi-label data, and this task is classification"),
    (ML + "params:\n  loss: [mse]\n", "param 'loss': is read by task regression only"),
])
def test_a_multilabel_space_takes_its_objectives_and_refuses_others(text, fragment):
    sp = parse_space(ML + "data: {min_labels: 1}\nparams:\n  label_smoothing: [0.0, 0.1]\n")
    assert sp.task is MULTILABEL and sp.primary == "val_micro_f1" and \
        sp.direction == "maximize" and sp.data.min_labels == 1
    with pytest.raises(SpaceError, match=fragment):
        parse_space(text)


def test_multilabel_data_from_an_npz_a_csv_and_a_labelled_folder(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(0)
    y = (rng.random((200, 3)) < 0.4).astype("int64")
    np.savez(tmp_path / "m.npz", x=rng.integers(0, 255, (200, 6, 6), dtype=np.uint8), y=y,
             label_names=np.array(["a", "b", "c"]))
    d = load_dataset(None, tmp_path / "m.npz", task="multilabel", **SPLIT)
    assert d.task is MULTILABEL and d.class_names == ["a", "b", "c"]
    assert d.train.y.shape == (130, 3) and d.train.y.dtype == np.float32

    tags = np.array(["up;down", "", "down", "left;up"] * 15)
    pd.DataFrame({**{f"v{i}": rng.normal(size=60) for i in range(4)}, "tags": tags}).to_csv(
        tmp_path / "s.csv", index=False)
    d = load_dataset(None, tmp_path / "s.csv", task="multilabel", label_column="tags", **SPLIT)
    assert d.class_names == ["down", "left", "up"] and d.kind == "sequence"
    both = np.concatenate([s.y for s in d.splits])
    assert both.sum(axis=0).tolist() == [30, 15, 30] and (both.sum(axis=1) == 0).sum() == 15
    with pytest.raises(DataError, match=r"csv '.*s.csv', column 'tags', row 3: 0 labels"):
        load_dataset(None, tmp_path / "s.csv", task="multilabel", label_column="tags",
                     min_labels=1, **SPLIT)

    _labelled_folder(tmp_path, "tags.csv", "tags", ["sky|sea", "", "sea", "sky"] * 10)
    d = load_dataset(None, tmp_path / "imgs", task="multilabel", labels=tmp_path / "tags.csv",
                     label_column="tags", **SPLIT)
    assert d.class_names == ["sea", "sky"] and len(d.train) + len(d.val) + len(d.test) == 40
    with pytest.raises(DataError, match=r"labels csv '.*tags.csv', column 'tags', row 3: 0 "
                                        "labels, and data.min_labels is 1"):
        load_dataset(None, tmp_path / "imgs", task="multilabel", labels=tmp_path / "tags.csv",
                     label_column="tags", min_labels=1, **SPLIT)


def test_the_tags_set_is_seeded_and_marks_what_it_draws():
    from cnntune.data.sources import TAG_KINDS, make_tags

    x, y, names, scale, name = make_tags(n=300, seed=3)
    again = make_tags(n=300, seed=3)
    assert np.array_equal(x, again[0]) and np.array_equal(y, again[1])
    assert x.shape == (300, 32, 32, 3) and x.dtype == np.uint8 and names == list(TAG_KINDS)
    assert set(np.unique(y)) == {0.0, 1.0} and 0.25 < y.mean() < 0.45
    # an image with no shape holds no bright flat patch: its brightest pixels are few
    bright = (x.min(axis=-1) >= 130).sum(axis=(1, 2))
    assert np.median(bright[y.sum(1) == 0]) < np.median(bright[y.sum(1) >= 2])


# ------------------------------------------------------------------------- segmentation

SEGMENTATION = task("segmentation")


def test_masks_are_class_indices_the_size_of_their_images():
    m = np.zeros((4, 6, 6), "int64")
    m[:, :2] = 1
    m[0, 5, 5] = 2
    y, names = SEGMENTATION.targets(m[..., None], "w")  # a channel of one is dropped
    assert y.shape == (4, 6, 6) and y.dtype == np.uint8
    assert names == ["background", "class1", "class2"]
    y, names = SEGMENTATION.targets(m, "w", ["sky", "sea", "boat"])
    assert names == ["sky", "sea", "boat"]
    with pytest.raises(DataError, match=r"masks are 6x6 and images 8x8; a mask must be the "
                                        "size of its image"):
        SEGMENTATION.check_pair(np.zeros((4, 8, 8, 3)), y, "w")


@pytest.mark.parametrize("masks, names, fragment", [
    (np.zeros((2, 4)), None, r"masks must have shape \(n, height, width\)"),
    (np.full((2, 4, 4), 0.5), None, "must hold class indices"),
    (np.array([[[0, 1]], [[-1, 0]]]), None, "w, mask 1: value -1 is negative"),
    (np.array([[[0, 1]], [[2, 0]]]), ["a", "b"], r"w, mask 1: value 2 is outside the 2 "
                                                 "classes of class_names"),
    (np.zeros((2, 4, 4), "int64"), None, "found 1 class; segmentation needs at least 2"),
])
def test_masks_that_cannot_be_learnt_are_refused(masks, names, fragment):
    with pytest.raises(DataError, match=fragment):
        SEGMENTATION.targets(masks, "w", names)


def test_void_pixels_are_no_class_and_count_in_no_score():
    from cnntune.tasks import VOID

    m = np.array([[[0, 1, VOID]], [[1, VOID, 0]]])
    y, names = SEGMENTATION.targets(m, "w")  # 255 is not a 256th class
    assert names == ["background", "class1"] and (y == m).all()
    y, names = SEGMENTATION.targets(m, "w", ["sky", "sea"])
    with pytest.raises(DataError, match=r"w, mask 1: value 2 is outside the 2 classes of "
                                        r"class_names; .*\(255 marks pixels of no class\)"):
        SEGMENTATION.targets(np.array([[[0, 1]], [[2, VOID]]]), "w", ["a", "b"])
    with pytest.raises(DataError, match="found 1 class"):
        SEGMENTATION.targets(np.array([[[0, VOID]], [[VOID, 0]]]), "w")

    class Model:
        losses = ()

    # wrong predictions under the void pixels change nothing
    right = np.array([[[0, 1, 1]], [[1, 0, 0]]])
    wrong = np.array([[[0, 1, 0]], [[1, 1, 0]]])
    labelled = np.array([[[0, 1]], [[1, 0]]])
    for pred in (right, wrong):
        probs = np.eye(2)[pred] * 0.98 + 0.01
        scored = SEGMENTATION.score(Model(), m, probs, "t_", {}, {})
        plain = SEGMENTATION.score(Model(), labelled, np.eye(2)[labelled] * 0.98 + 0.01,
                                   "t_", {}, {})
        assert scored == pytest.approx(plain)
        assert SEGMENTATION.confusion(m, probs, 2) == [[2, 0], [0, 2]]
        assert SEGMENTATION.label_scores(m, pred, "")["mean_iou"] == 1.0
    masks = np.zeros((9, 2, 2), int)
    masks[:, 1, 1] = VOID
    masks[:3, 0, 0] = 1  # strata: with class 1, and with none (void is no class)
    assert sorted(np.bincount(SEGMENTATION.strata(masks)).tolist()) == [3, 6]


def test_mask_figures_the_export_check_and_what_does_not_apply():
    from cnntune.errors import NotApplicable
    from cnntune.tasks import class_iou, mask_scores

    y = np.array([[[0, 0, 1, 1]], [[0, 2, 2, 0]]])
    pred = np.array([[[0, 0, 1, 0]], [[0, 2, 2, 2]]])
    cm = np.zeros((3, 3), int)
    np.add.at(cm, (y.reshape(-1), pred.reshape(-1)), 1)
    # background: 3 of 5 pixels in both; class 1: 1 of 2; class 2: 2 of 3
    assert class_iou(cm) == pytest.approx([3 / 5, 1 / 2, 2 / 3])
    s = mask_scores(cm)
    assert s["mean_iou"] == pytest.approx((3 / 5 + 1 / 2 + 2 / 3) / 3)
    assert s["dice"] == pytest.approx((6 / 8 + 2 / 3 + 4 / 5) / 3)
    assert s["pixel_accuracy"] == 6 / 8
    assert s["fg_mean_iou"] == pytest.approx((1 / 2 + 2 / 3) / 2)  # the background left out
    assert s["fg_dice"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    probs = np.eye(3)[pred]  # one-hot "probabilities" of the predicted masks

    class Model:
        losses = ()

    scored = SEGMENTATION.score(Model(), y, probs * 0.98 + 0.01, "test_", {}, {},
                                names=["bg", "a b", "c"])
    assert scored["test_mean_iou"] == pytest.approx(s["mean_iou"])
    assert scored["test_iou_a_b"] == pytest.approx(0.5)  # names fit a metric's name
    assert SEGMENTATION.confusion(y, probs, 3) == cm.tolist()
    same = SEGMENTATION.compare(probs + 1e-6, probs, y, {}, "none")
    assert same.passed and same.metric == "mean_iou"
    flipped = probs.copy()
    flipped[0, 0, 0] = [0, 1, 0]  # one pixel of 8 disagrees
    assert not SEGMENTATION.compare(flipped, probs, y, {}, "none").passed
    rows = SEGMENTATION.rows(probs, ["bg", "a", "b"], 1)
    assert rows[0] == {"share_bg": 0.75, "share_a": 0.25, "share_b": 0.0}
    with pytest.raises(NotApplicable, match="explain maps where a classifier looks"):
        SEGMENTATION.explained(probs, y, ["bg", "a", "b"])
    # strata: each image's rarest class
    masks = np.zeros((9, 2, 2), int)
    masks[:3, 0, 0], masks[3:, 0, 0], masks[6:, 1, 1] = 1, 2, 1
    assert np.bincount(SEGMENTATION.strata(masks)).tolist() == [6, 3]


SEG = "name: s\ntask: segmentation\n"


@pytest.mark.parametrize("text, fragment", [
    (SEG + "params:\n  n_blocks: 2\n",
     "param 'family': plain has no decoder, and task segmentation predicts a class per "
     "pixel; use family unet"),
    ("name: c\nparams:\n  family: unet\n", "unet predicts a class per pixel, and task "
                                           "classification does not"),
    (SEG + "params:\n  family: unet\n  aug_contrast: [0.0, 0.1]\n", "aug_contrast"),
    # MixUp and CutMix mix labels: no mask is a mix of two
    (SEG + "params:\n  family: unet\n  aug_cutmix: [0.0, 1.0]\n",
     "param 'aug_cutmix': is read by task classification and multilabel only"),
    (SEG + "training: {objective: val_accuracy}\nparams:\n  family: unet\n",
     "does not fit task segmentation; use one of val_mean_iou"),
])
def test_a_segmentation_space_needs_a_decoder_and_its_objectives(text, fragment):
    sp = parse_space(SEG + "params:\n  family: unet\n  upsampling: [transpose, bilinear]\n"
                     "  skips: [concat, add]\n  aug_flip: [none, horizontal]\n")
    assert sp.task is SEGMENTATION and sp.primary == "val_mean_iou"
    with pytest.raises(SpaceError, match=fragment):
        parse_space(text)


def test_the_scenes_set_masks_what_the_tags_set_labels():
    from cnntune.data.sources import draw_shapes, make_scenes

    x, masks, names, _, _ = make_scenes(n=60, seed=2)
    _, present, again = draw_shapes(60, 32, 2, 0.5)
    assert np.array_equal(masks, again) and names[0] == "background" and len(names) == 6
    assert x.shape == (60, 32, 32, 3) and masks.shape == (60, 32, 32)
    # a kind of shape is in the mask where the image holds it (unless drawn over entirely)
    shown = np.stack([(masks == k + 1).any(axis=(1, 2)) for k in range(5)], axis=1)
    assert not (shown & (present == 0)).any() and (shown == (present > 0)).mean() > 0.95


def test_segmentation_data_from_an_image_folder_and_a_mask_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "img").mkdir()
    (tmp_path / "msk").mkdir()
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(
            tmp_path / "img" / f"{i}.jpg")
        m = np.zeros((8, 8), np.uint8)
        m[: 2 + i % 4, :4] = 1 + i % 2
        Image.fromarray(m).save(tmp_path / "msk" / f"{i}.png")
    d = load_dataset(None, tmp_path / "img", task="segmentation", masks=tmp_path / "msk",
                     **SPLIT)
    assert d.class_names == ["background", "class1", "class2"] and d.input_shape == (8, 8, 3)
    assert d.train.y.shape == (len(d.train), 8, 8) and d.prep["classes"] == 3
    # the images decoded at another size take their masks along (nearest neighbour)
    d = load_dataset(None, tmp_path / "img", task="segmentation", masks=tmp_path / "msk",
                     image_size=(16, 16), **SPLIT)
    assert d.train.y.shape[1:] == (16, 16) and set(np.unique(d.train.y)) == {0, 1, 2}

    def refused(fragment, **kw):
        with pytest.raises(DataError, match=fragment):
            load_dataset(None, tmp_path / "img", **{"task": "segmentation",
                                                    "masks": tmp_path / "msk", **kw}, **SPLIT)

    refused("data.masks labels pixels, and the space's task is classification",
            task="classification")
    refused("a segmentation needs a mask per image; set data.masks", masks=None)
    Image.fromarray(np.zeros((6, 8), np.uint8)).save(tmp_path / "msk" / "3.png")
    refused(r"mask '.*3.png' is 6x8 and its image '3.jpg' 8x8")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "msk" / "3.png")
    refused(r"mask '.*3.png' is RGB, not a single-channel image of class indices")
    (tmp_path / "msk" / "3.png").unlink()
    refused(r"image '.*3.jpg' has no mask in")
