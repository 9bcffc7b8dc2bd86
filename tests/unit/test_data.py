"""Data sources and splits (no TensorFlow)."""

import numpy as np
import pytest
from PIL import Image

from cnntune.data import load_dataset
from cnntune.errors import DataError

KW = dict(val_fraction=0.2, test_fraction=0.2, seed=0)


def test_digits_split_is_stratified_disjoint_and_seeded():
    ds = load_dataset("digits", None, **KW)
    assert ds.input_shape == (8, 8, 1) and ds.num_classes == 10
    n = len(ds.train) + len(ds.val) + len(ds.test)
    assert n == 1797
    assert abs(len(ds.test) - 0.2 * n) <= 1 and abs(len(ds.val) - 0.2 * n) <= 1
    for split in (ds.train, ds.val, ds.test):
        assert set(np.unique(split.y)) == set(range(10))
    rows = {s: {r.tobytes() for r in split.x} for s, split in
            (("train", ds.train), ("val", ds.val), ("test", ds.test))}
    # digits has a few exact duplicate images; splits must not share (almost) any rows
    assert len(rows["train"] & rows["test"]) < 5 and len(rows["val"] & rows["test"]) < 5
    again = load_dataset("digits", None, **KW)
    assert again.fingerprint == ds.fingerprint
    other = load_dataset("digits", None, val_fraction=0.2, test_fraction=0.2, seed=1)
    assert other.fingerprint != ds.fingerprint
    assert ds.scale == pytest.approx(1 / 16) and ds.train.x.max() <= 16


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_splits_draw_what_scikit_learn_drew(seed):
    # cnntune splits without importing scikit-learn (~2 s of the study's start-up); the draws
    # must stay scikit-learn's, or every study split before would no longer resume or export
    # (the data fingerprint covers the splits)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from cnntune.data import stratified_split

    rng = np.random.default_rng(seed)
    for y, n_test in ((load_digits().target, 359), (rng.integers(0, 7, 500), 93),
                      (np.repeat([0, 1, 2], [40, 11, 9]), 13), (np.arange(30) % 5, 7)):
        idx = np.arange(len(y))
        want_rest, want_test = train_test_split(idx, test_size=n_test, stratify=y,
                                                random_state=seed)
        rest, test = stratified_split(y, n_test, seed)
        assert np.array_equal(rest, want_rest) and np.array_equal(test, want_test)


def test_digits_are_scikit_learns_digits_and_keep_their_fingerprint():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits", None, **KW)
    d = load_digits()
    x = np.concatenate([ds.train.x, ds.val.x, ds.test.x])
    assert sorted(map(bytes, x.astype("uint8").reshape(len(x), -1))) == \
        sorted(map(bytes, d.images.astype("uint8").reshape(len(x), -1)))
    # what studies run on digits before cnntune stopped importing scikit-learn recorded
    assert ds.fingerprint == "176c34bc925f"


def _npz(tmp_path, n=60, classes=3, **extra):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(n, 6, 5), dtype=np.uint8)
    y = np.array([f"c{i % classes}" for i in range(n)])
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=y, **extra)
    return path


def test_npz_loads_grayscale_and_string_labels(tmp_path):
    ds = load_dataset(None, _npz(tmp_path), **KW)
    assert ds.input_shape == (6, 5, 1) and ds.class_names == ["c0", "c1", "c2"]
    assert ds.scale == pytest.approx(1 / 255)
    assert ds.meta["source"] == "npz" and ds.train.x.dtype == np.uint8  # kept compact


def test_npz_mismatched_lengths(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x=np.zeros((10, 4, 4)), y=np.zeros(9))
    with pytest.raises(DataError, match="x has 10 examples but y has 9"):
        load_dataset(None, path, **KW)


def test_npz_missing_arrays(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((10, 4, 4)))
    with pytest.raises(DataError, match="needs arrays 'x' and 'y', found \\['images'\\]"):
        load_dataset(None, path, **KW)


def test_npz_not_a_zip(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_text("not numpy")
    with pytest.raises(DataError, match="cannot be read"):
        load_dataset(None, path, **KW)


def test_missing_path():
    with pytest.raises(DataError, match="'/no/such/dir' does not exist"):
        load_dataset(None, "/no/such/dir", **KW)


def _folder(root, counts, size=(10, 12), mode="RGB"):
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        d = root / name
        d.mkdir(parents=True)
        for i in range(n):
            shape = (size[0], size[1], 3) if mode == "RGB" else size
            Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode).save(d / f"{i}.png")
    return root


def test_image_folder_loads_classes_and_sizes(tmp_path):
    root = _folder(tmp_path / "imgs", {"cat": 12, "dog": 12, "owl": 12})
    ds = load_dataset(None, root, **KW)
    assert ds.class_names == ["cat", "dog", "owl"] and ds.input_shape == (10, 12, 3)
    resized = load_dataset("folder", root, image_size=(8, 8), color_mode="grayscale", **KW)
    assert resized.input_shape == (8, 8, 1)


def test_image_folder_with_one_class(tmp_path):
    root = _folder(tmp_path / "imgs", {"cat": 5})
    with pytest.raises(DataError, match="found 1 class sub-folder"):
        load_dataset(None, root, **KW)


def test_image_folder_with_an_empty_class(tmp_path):
    root = _folder(tmp_path / "imgs", {"cat": 5, "dog": 5})
    (root / "owl").mkdir()
    with pytest.raises(DataError, match="class 'owl' has no images"):
        load_dataset(None, root, **KW)




def test_too_few_examples_to_split(tmp_path):
    root = _folder(tmp_path / "imgs", {"cat": 2, "dog": 2})
    with pytest.raises(DataError, match="too few to split"):
        load_dataset(None, root, **KW)


def test_csv_sequences_load_time_major_with_channels(tmp_path):
    import pandas as pd

    from cnntune.data import load_dataset

    n, steps = 30, 4
    x = np.arange(n * steps * 2, dtype="float32").reshape(n, steps * 2)
    df = pd.DataFrame(x, columns=[f"t{s}{c}" for s in range(steps) for c in "ab"])
    df.insert(0, "activity", ["walk", "run", "sit"] * 10)
    df.to_csv(tmp_path / "s.csv", index=False)
    ds = load_dataset(None, tmp_path / "s.csv", val_fraction=0.2, test_fraction=0.2, seed=0,
                      label_column="activity", channels=2)
    assert ds.kind == "sequence" and ds.input_shape == (4, 2) and ds.class_names == \
        ["run", "sit", "walk"]
    row = ds.train.x[0]
    assert row[1, 0] - row[0, 0] == 2 and row[0, 1] - row[0, 0] == 1  # time-major, 2 channels
    prep = ds.prep
    assert len(prep["mean"]) == 2 and len(prep["std"]) == 2


@pytest.mark.parametrize("content,kwargs,message", [
    ("a,b\n1,2\n", {}, "no label column 'label'"),
    ("label,v0,v1\nx,1,oops\ny,2,3\n", {}, "column 'v1' is not numeric"),
    ("label,v0,v1\nx,1,\ny,2,3\n", {}, "row 2 has a missing or non-finite value"),
    ("label,v0,v1,v2\nx,1,2,3\n", {"channels": 2}, "do not split into 2 channels"),
])
def test_bad_csv_is_a_one_line_error(tmp_path, content, kwargs, message):
    from cnntune.data import load_dataset
    from cnntune.errors import DataError

    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(DataError, match=message) as info:
        load_dataset("csv", tmp_path / "bad.csv", val_fraction=0.2, test_fraction=0.2, seed=0,
                     **kwargs)
    assert "\n" not in str(info.value) and "bad.csv" in str(info.value)


def test_sequence_npz_and_kind_mismatch(tmp_path):
    from cnntune.data import load_dataset
    from cnntune.errors import DataError

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "seq.npz", x=rng.normal(size=(60, 20)), y=np.arange(60) % 3)
    ds = load_dataset("npz", tmp_path / "seq.npz", val_fraction=0.2, test_fraction=0.2, seed=0,
                      kind="sequence")
    assert ds.kind == "sequence" and ds.input_shape == (20, 1)
    with pytest.raises(DataError, match="holds images but the space says kind: sequence"):
        load_dataset("digits", None, val_fraction=0.2, test_fraction=0.2, seed=0,
                     kind="sequence")


def test_waveforms_are_seeded_and_balanced():
    from cnntune.data import make_waveforms

    x1, y1, names, _, _ = make_waveforms(n=80)
    x2, _, _, _, _ = make_waveforms(n=80)
    assert x1.shape == (80, 128, 1) and np.array_equal(x1, x2)
    assert names == ["sine", "square", "triangle", "sawtooth"]
    assert np.bincount(y1).tolist() == [20, 20, 20, 20]


# --------------------------------------------------------------- splits the data brings


def test_split_folders_are_kept_and_a_missing_val_is_split_from_train(tmp_path):
    root = tmp_path / "photos"
    _folder(root / "train", {"cat": 30, "dog": 30})
    _folder(root / "test", {"cat": 5, "dog": 7}, size=(20, 20))  # resized to train's size
    ds = load_dataset(None, root, **KW)
    assert ds.class_names == ["cat", "dog"] and ds.input_shape == (10, 12, 3)
    assert len(ds.test) == 12 and np.bincount(ds.test.y).tolist() == [5, 7]  # test as given
    assert len(ds.train) + len(ds.val) == 60 and np.bincount(ds.val.y).min() >= 1
    assert ds.meta["splits"] == {"train": "given", "test": "given",
                                 "val": "split from train (20%)"}
    assert ds.describe_splits().startswith("train: given (")
    again = load_dataset(None, root, **KW)
    assert again.fingerprint == ds.fingerprint  # seeded: the same split again
    (root / "validation").mkdir()
    _folder(root / "validation", {"cat": 4, "dog": 4})
    ds = load_dataset(None, root, **KW)
    assert len(ds.val) == 8 and len(ds.train) == 60 and ds.meta["splits"]["val"] == "given"


def test_a_folder_with_classes_named_like_splits_alone_is_one_folder_per_class(tmp_path):
    root = _folder(tmp_path / "imgs", {"train": 10, "cat": 10})  # no val/ or test/ beside it
    assert load_dataset(None, root, **KW).class_names == ["cat", "train"]


@pytest.mark.parametrize("layout,message", [
    ({"train": {"cat": 10, "dog": 10}, "test": {"cat": 3, "owl": 3}},
     "class 'owl' is in test/ but not in train/; add train/owl/"),
    ({"train": {"cat": 10, "dog": 10}, "val": {"cat": 3}, "validation": {"cat": 3}},
     "has both val/ and validation/; keep one of them"),
])
def test_split_folders_that_disagree_are_refused(tmp_path, layout, message):
    for part, counts in layout.items():
        _folder(tmp_path / "d" / part, counts)
    with pytest.raises(DataError, match=message):
        load_dataset(None, tmp_path / "d", **KW)


def test_npz_with_its_own_splits(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(90, 6, 5), dtype=np.uint8)
    y = np.array(["a", "b", "c"] * 30)
    path = tmp_path / "s.npz"
    np.savez(path, x_train=x[:60], y_train=y[:60], x_test=x[60:], y_test=y[60:])
    ds = load_dataset(None, path, **KW)
    assert ds.class_names == ["a", "b", "c"] and len(ds.test) == 30
    assert (ds.test.x == x[60:, :, :, None]).all()  # the given test set, in its order
    assert ds.meta["splits"]["test"] == "given" and ds.meta["splits"]["val"].startswith("split")
    np.savez(path, x_train=x[:60], y_train=y[:60], x_val=x[60:], y_val=y[60:])
    ds = load_dataset(None, path, **KW)
    assert len(ds.val) == 30 and ds.meta["splits"]["test"].startswith("split from train")


@pytest.mark.parametrize("arrays,message", [
    ({"x_train": np.zeros((9, 4, 4))}, "has x_train but no y_train"),
    ({"x_train": np.zeros((9, 4, 4)), "y_train": np.arange(9) % 3,
      "x_test": np.zeros((3, 4, 4)), "y_test": np.array([0, 1, 7])},
     "y_test has class 7, which y_train does not have"),
    ({"x_test": np.zeros((3, 4, 4)), "y_test": np.arange(3)}, "no x_train/y_train"),
])
def test_npz_splits_that_do_not_fit_are_refused(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message):
        load_dataset(None, path, **KW)


# ------------------------------------------------------------------------ class weights


def test_class_weights_balanced_named_and_unknown(tmp_path):
    x = np.zeros((100, 4, 4), dtype=np.uint8)
    y = np.array(["rare"] * 10 + ["common"] * 90)
    np.savez(tmp_path / "imb.npz", x=x, y=y)
    ds = load_dataset(None, tmp_path / "imb.npz", **KW)
    assert ds.class_weights("none") is None
    w = ds.class_weights("balanced")
    counts = np.bincount(ds.train.y)
    # every class adds up to the same total weight
    assert w[0] * counts[0] == pytest.approx(w[1] * counts[1])
    assert ds.class_names == ["common", "rare"] and w[1] > 5 * w[0]
    assert ds.class_weights({"rare": 4.0}) == {0: 1.0, 1: 4.0}
    with pytest.raises(DataError, match="training.class_weight names class 'owl'.*common, rare"):
        ds.class_weights({"owl": 2.0})


# -------------------------------------------------------------------- labels from a CSV


def _flat(root, n=24, classes=("cat", "dog", "owl")):
    rng = np.random.default_rng(0)
    root.mkdir()
    rows = ["file,label"]
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (6, 7, 3), dtype=np.uint8)).save(root / f"{i}.png")
        rows.append(f"{i}.png,{classes[i % len(classes)]}")
    return rows


def test_a_flat_folder_labelled_by_a_csv(tmp_path):
    rows = _flat(tmp_path / "flat")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    ds = load_dataset(None, tmp_path / "flat", labels=str(tmp_path / "labels.csv"), **KW)
    assert ds.class_names == ["cat", "dog", "owl"] and ds.input_shape == (6, 7, 3)
    assert len(ds.train) + len(ds.val) + len(ds.test) == 24
    assert ds.meta["load"]["labels"] == str((tmp_path / "labels.csv").resolve())
    # other column names, as the space names them
    (tmp_path / "l2.csv").write_text("\n".join(r.replace("file,label", "name,species")
                                               for r in rows))
    again = load_dataset(None, tmp_path / "flat", labels=str(tmp_path / "l2.csv"),
                         file_column="name", label_column="species", **KW)
    assert again.fingerprint == ds.fingerprint


@pytest.mark.parametrize("edit,message", [
    (lambda rows: rows + ["3.png,dog"],
     "row 26: file '3.png' is listed again \\(first on row 5\\)"),
    (lambda rows: rows + ["99.png,dog"], "row 26: file '99.png' is not in"),
    (lambda rows: rows[:-1], "1 image\\(s\\) in .* have no row, such as '23.png'"),
    (lambda rows: ["name,label"] + rows[1:], "no column 'file' \\(columns: name, label\\)"),
])
def test_labels_csv_that_does_not_match_the_folder_is_refused(tmp_path, edit, message):
    rows = _flat(tmp_path / "flat")
    (tmp_path / "labels.csv").write_text("\n".join(edit(rows)) + "\n")
    with pytest.raises(DataError, match=message):
        load_dataset(None, tmp_path / "flat", labels=str(tmp_path / "labels.csv"), **KW)


def test_folds_are_stratified_disjoint_fixed_and_leave_the_test_split_alone():
    ds = load_dataset("digits", None, **KW)
    both = np.concatenate([ds.train.y, ds.val.y])
    seen = []
    for i in range(4):
        fold = ds.fold(i, 4)
        assert np.array_equal(fold.test.y, ds.test.y) and fold.test is ds.test
        assert len(fold.train) + len(fold.val) == len(both)
        share = np.bincount(fold.val.y, minlength=10) / np.bincount(both, minlength=10)
        assert np.all(np.abs(share - 0.25) < 0.05)  # each class a quarter in each fold
        seen.append({r.tobytes() for r in fold.val.x})
        again = ds.fold(i, 4)
        assert np.array_equal(again.val.x, fold.val.x)  # the same for every trial
    assert sum(len(s) for s in seen) >= len(both) - 10  # (digits has a few duplicate rows)
    assert all(not (seen[a] & seen[b]) or len(seen[a] & seen[b]) < 3
               for a in range(4) for b in range(a))
    with pytest.raises(DataError, match="training.folds is 200 but class '.*' has 1[0-9]+ "
                       "examples in train \\+ val; give fewer folds"):
        ds.check_folds(200)
