"""Image folders as users bring them: unreadable files, EXIF orientation, 16-bit, alpha and
mixed colour modes; and folders stored on disk (``in_memory: false``), which must give the
same splits, fingerprint and batches as in memory (no TensorFlow but for the pipelines)."""

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnntune.data import describe, load_dataset
from cnntune.data import images as image_io
from cnntune.data import store as store_mod
from cnntune.errors import DataError

KW = dict(val_fraction=0.2, test_fraction=0.2, seed=0)


def _folder(root: Path, counts: dict, size=(10, 12)) -> Path:
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def _stores() -> list[str]:
    d = store_mod.cache_root() / "images"
    return sorted(os.listdir(d)) if d.is_dir() else []


def test_unreadable_files_are_skipped_counted_and_listed(tmp_path):
    root = _folder(tmp_path / "imgs", {"cat": 8, "dog": 8})
    (root / "dog" / "3.png").write_bytes(b"garbage")
    whole = io.BytesIO()
    Image.fromarray(np.full((10, 12, 3), 7, np.uint8)).save(whole, "JPEG")
    (root / "cat" / "cut.jpg").write_bytes(whole.getvalue()[:60])  # a truncated JPEG
    for in_memory in ("true", "false"):
        ds = load_dataset(None, root, in_memory=in_memory, **KW)
        assert ds.meta["n"] == 15 and ds.meta["storage"].startswith(
            "in memory" if in_memory == "true" else "stored in")
        assert sorted(Path(s["file"]).name for s in ds.skipped) == ["3.png", "cut.jpg"]
        assert all(s["error"] for s in ds.skipped)
        assert describe(ds)["skipped"] == ds.skipped  # into the study's data.json
        assert "2 of 17 images cannot be read" in ds.skipped_note()


def test_a_class_with_no_readable_image_is_refused_and_nothing_is_stored(tmp_path):
    root = _folder(tmp_path / "imgs", {"cat": 6, "dog": 6, "owl": 6})
    for f in (root / "owl").iterdir():
        f.write_bytes(b"not an image")
    before = _stores()
    for in_memory in ("true", "false"):
        with pytest.raises(DataError, match="no image of class 'owl'.*can be read"):
            load_dataset(None, root, in_memory=in_memory, **KW)
    assert _stores() == before


def test_exif_orientation_16_bit_alpha_and_mixed_modes(tmp_path):
    # a 4x8 image whose EXIF says "turn 90 degrees clockwise": decoded 8 high, 4 wide,
    # its left column (bright) on top
    pixels = np.zeros((4, 8, 3), np.uint8)
    pixels[:, 0] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(tmp_path / "turned.jpg", exif=exif.tobytes(), quality=100)
    assert image_io.image_format([tmp_path / "turned.jpg"], None, None) == ((8, 4), "rgb")
    up = image_io.decode_one(tmp_path / "turned.jpg", (8, 4), "rgb")
    assert up.shape == (8, 4, 3) and up[0].mean() > 200 and up[-1].mean() < 50
    # 16-bit grayscale: the full range maps to 0..255
    wide = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    Image.fromarray(wide).save(tmp_path / "wide.png")
    assert image_io.decode_one(tmp_path / "wide.png", (2, 2), "grayscale")[..., 0].tolist() \
        == [[0, 255], [128, 4]]
    # transparent pixels are black, opaque ones keep their colour
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[0, 0, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    got = image_io.decode_one(tmp_path / "alpha.png", (2, 2), "rgb")
    assert got[0, 0].tolist() == [200, 200, 200] and got[1, 1].tolist() == [0, 0, 0]
    # a folder whose first image is grayscale but others have colour is read as RGB
    root = tmp_path / "mixed"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(6):
            arr = np.full((6, 6), 50 * i, np.uint8)
            Image.fromarray(arr if i == 0 else np.dstack([arr] * 3)).save(root / c / f"{i}.png")
    ds = load_dataset(None, root, **KW)
    assert ds.input_shape == (6, 6, 3) and not ds.skipped


def test_a_stored_folder_is_the_same_data_as_in_memory(tmp_path):
    root = _folder(tmp_path / "imgs", {"cat": 15, "dog": 12, "owl": 13})
    mem = load_dataset(None, root, in_memory="true", **KW)
    disk = load_dataset(None, root, in_memory=False, **KW)  # YAML's false
    assert not mem.streamed and disk.streamed
    assert disk.fingerprint == mem.fingerprint
    assert disk.describe_splits() == mem.describe_splits()
    for part in ("train", "val", "test"):
        a, b = getattr(mem, part), getattr(disk, part)
        assert np.array_equal(a.y, b.y) and np.array_equal(a.x, b.x)
        assert np.array_equal(b.images([2, 0]), a.x[[2, 0]])
    both_mem, both_disk = mem.train.concat(mem.val), disk.train.concat(disk.val)
    assert np.array_equal(both_disk.images(), both_mem.x)
    # evaluation pipelines: the same batches in order; training: every row once an epoch,
    # in a new order each epoch
    got = [(x.numpy(), y.numpy()) for x, y in
           both_disk.pipeline(7, training=False, seed=3, one_hot=3)]
    want = [(x.numpy(), y.numpy()) for x, y in
            both_mem.pipeline(7, training=False, seed=3, one_hot=3)]
    assert len(got) == len(want) == -(-len(both_mem) // 7)
    assert all(np.array_equal(g[0], w[0]) and np.array_equal(g[1], w[1])
               for g, w in zip(got, want))
    train = both_disk.pipeline(7, training=True, seed=3)
    assert int(train.cardinality()) == len(got)  # Keras plans its epochs by it
    epochs = [[(x.numpy(), y.numpy()) for x, y in train] for _ in range(2)]
    key = lambda batches: sorted(  # noqa: E731
        (img.tobytes(), int(label)) for x, y in batches for img, label in zip(x, y))
    plain = [(x.numpy(), y.numpy()) for x, y in both_mem.pipeline(7, training=False, seed=3)]
    assert key(epochs[0]) == key(epochs[1]) == key(plain)
    # a check's part of a split (Dataset.check_split): its first rows, across both files
    n = len(disk.train) + 3
    head_disk, head_mem = both_disk.head(n), both_mem.head(n)
    assert len(head_disk) == n and np.array_equal(head_disk.images(), both_mem.x[:n])
    got = [(x.numpy(), y.numpy()) for x, y in head_disk.pipeline(5, training=False, seed=0)]
    want = [(x.numpy(), y.numpy()) for x, y in head_mem.pipeline(5, training=False, seed=0)]
    assert len(got) == len(want) == -(-n // 5)
    assert all(np.array_equal(g[0], w[0]) and np.array_equal(g[1], w[1])
               for g, w in zip(got, want))
    assert disk.check_split(1) is disk.val
    assert np.array_equal(disk.check_split(2).y, disk.val.y[:len(disk.val) // 2])
    assert not np.array_equal(np.concatenate([y for _, y in epochs[0]]),
                              np.concatenate([y for _, y in epochs[1]]))
    # loading again opens the store: nothing is decoded
    stores = _stores()
    image_io_decode, store_mod.decode_into = store_mod.decode_into, None
    try:
        again = load_dataset(None, root, in_memory="false", **KW)
    finally:
        store_mod.decode_into = image_io_decode
    assert again.fingerprint == mem.fingerprint and _stores() == stores
    # a changed file is a new store
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(root / "cat" / "0.png")
    changed = load_dataset(None, root, in_memory="false", **KW)
    assert changed.fingerprint != mem.fingerprint and len(_stores()) == len(stores) + 1


def test_auto_stores_a_folder_that_would_not_fit_the_memory_budget(tmp_path, monkeypatch):
    root = _folder(tmp_path / "imgs", {"cat": 6, "dog": 6})
    # 12 images of 10x12x3 bytes, held 3 times: 12,960 bytes in memory
    monkeypatch.setattr(store_mod, "available_bytes", lambda: 6 * 12960 + 6)
    assert not load_dataset(None, root, **KW).streamed
    monkeypatch.setattr(store_mod, "available_bytes", lambda: 6 * 12960 - 6)
    assert load_dataset(None, root, **KW).streamed
    with pytest.raises(DataError, match="data.in_memory is 'maybe'; use auto, true, false"):
        load_dataset(None, root, in_memory="maybe", **KW)


def test_npz_one_hot_train_with_integer_test_labels(tmp_path):
    rng = np.random.default_rng(0)
    y_train = np.eye(3)[np.arange(30) % 3]
    np.savez(tmp_path / "d.npz", x_train=rng.random((30, 4, 4)), y_train=y_train,
             x_test=rng.random((9, 4, 4)), y_test=np.arange(9) % 3)
    ds = load_dataset(None, tmp_path / "d.npz", **KW)
    assert ds.class_names == ["0", "1", "2"] and sorted(ds.test.y.tolist()) == [0] * 3 + \
        [1] * 3 + [2] * 3
    np.savez(tmp_path / "n.npz", x_train=rng.random((30, 4, 4)), y_train=np.arange(30) % 3,
             class_names=np.array(["a", "b"]))
    with pytest.raises(DataError, match="class_names has 2 entries for 3 classes"):
        load_dataset(None, tmp_path / "n.npz", **KW)


def test_k_fold_is_refused_for_a_folder_stored_on_disk(tmp_path):
    root = _folder(tmp_path / "imgs", {"cat": 6, "dog": 6})
    with pytest.raises(DataError, match="stored on disk.*data.in_memory: true"):
        load_dataset(None, root, in_memory="false", **KW).check_folds(3)
    load_dataset(None, root, in_memory="true", **KW).check_folds(3)


def test_baselines_read_a_capped_subsample_of_a_stored_folder(tmp_path, monkeypatch):
    from cnntune.tuning import baselines

    root = _folder(tmp_path / "imgs", {"cat": 20, "dog": 20})
    data = load_dataset(None, root, in_memory="false", **KW)
    # room for 10 training images of 10x12x3 values: a stratified 10 of the 24
    monkeypatch.setattr(baselines, "MAX_VALUES", 10 * 360)
    (result,) = baselines.run_baselines(data, names=("logistic_regression",))
    m = result["metrics"]
    assert m["n_train"] == 10 and 0 <= m["val_accuracy"] <= 1 and "test_macro_f1" in m


def test_every_format_the_readme_names_is_read_pixel_for_pixel(tmp_path):
    """README: a folder of png, jpg, bmp, gif, tiff or webp images. The lossless formats
    (every one here but jpg; webp saved lossless) give back exactly the pixels written."""
    rng = np.random.default_rng(1)
    written = {}
    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for fmt, ext, kw in (("PNG", "png", {}), ("BMP", "bmp", {}), ("TIFF", "tiff", {}),
                             ("WEBP", "webp", {"lossless": True}), ("GIF", "gif", {})):
            gray = rng.integers(0, 255, (6, 7), dtype=np.uint8)
            path = tmp_path / "imgs" / cls / f"{ext}.{ext}"
            Image.fromarray(gray).save(path, fmt, **kw)
            written[path.name, cls] = gray
    listing = image_io.list_images(tmp_path / "imgs")
    files = [f for part in listing.parts.values() for f in part[0]]
    assert sorted(Path(f).suffix for f in files) == sorted(
        [".png", ".bmp", ".tiff", ".webp", ".gif"] * 2)
    for f in files:
        f = Path(f)
        got = image_io.decode_one(f, (6, 7), "grayscale")[..., 0]
        np.testing.assert_array_equal(got, written[f.name, f.parent.name], err_msg=f.name)
