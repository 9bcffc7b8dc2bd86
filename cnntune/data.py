"""Data sources -> in-memory arrays with stratified, seeded train/val/test splits -> tf.data.

Sources:
  * ``digits`` - scikit-learn's load_digits (1,797 8x8 handwritten digits), shipped with
    scikit-learn, so the default works offline.
  * ``npz``    - a NumPy ``.npz`` file with arrays ``x`` (n, h, w[, c]) and ``y`` (n,).
  * ``folder`` - an image folder with one sub-folder per class (png, jpg, bmp, gif).

Loading happens once per study; each trial only builds its pipelines. The test split is kept
apart: the search never sees it, and each trial's final model is scored on it for reference.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


@dataclass
class Split:
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Dataset:
    name: str
    train: Split
    val: Split
    test: Split
    class_names: list[str]
    scale: float  # multiply raw pixel values by this to get [0, 1]
    meta: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for s in (self.train, self.val, self.test):
            h.update(np.ascontiguousarray(s.x).tobytes())
            h.update(np.ascontiguousarray(s.y).tobytes())
        return h.hexdigest()[:12]


def load_dataset(source: str | None, path: str | Path | None, *, val_fraction: float,
                 test_fraction: float, seed: int, image_size=None, color_mode=None,
                 base_dir: Path | None = None) -> Dataset:
    """Load a source and split it. ``source`` None means: infer from ``path`` (or digits)."""
    if path is not None:
        p = Path(path)
        if not p.is_absolute() and base_dir is not None and not p.exists():
            p = base_dir / p
        path = p
    if source is None:
        if path is None:
            source = "digits"
        elif path.suffix == ".npz":
            source = "npz"
        else:
            source = "folder"
    if source == "digits":
        x, y, names, scale, name = _load_digits()
    elif source == "npz":
        x, y, names, scale, name = _load_npz(_existing(path, "npz file"))
    elif source == "folder":
        x, y, names, scale, name = _load_folder(_existing(path, "image folder"), image_size,
                                                color_mode)
    else:
        raise DataError(f"data source '{source}' is unknown; use digits, npz or folder")
    train, val, test = split(x, y, val_fraction=val_fraction, test_fraction=test_fraction,
                             seed=seed, name=name)
    return Dataset(name=name, train=train, val=val, test=test, class_names=names, scale=scale,
                   meta={"source": source, "path": str(path) if path else None, "n": len(y)})


def split(x, y, *, val_fraction: float, test_fraction: float, seed: int, name: str):
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    n_classes = len(counts)
    n_test = int(round(len(y) * test_fraction))
    n_val = int(round(len(y) * val_fraction))
    if min(n_test, n_val) < n_classes or counts.min() < 3:
        raise DataError(f"data '{name}': {len(y)} examples, smallest class {counts.min()}: too "
                        f"few to split into train/val/test with every class in each; "
                        f"give at least 3 examples per class (more is better)")
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=n_test, stratify=y, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=n_val, stratify=y_rest, random_state=seed)
    return Split(x_train, y_train), Split(x_val, y_val), Split(x_test, y_test)


def _existing(path: Path | None, what: str) -> Path:
    if path is None:
        raise DataError(f"no {what} given; pass --data PATH or set data.path in the space")
    if not path.exists():
        raise DataError(f"{what} '{path}' does not exist; check the path")
    return path


def _load_digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype("float32")[..., None]  # (1797, 8, 8, 1), values 0..16
    y = d.target.astype("int64")
    return x, y, [str(i) for i in range(10)], 1.0 / 16.0, "digits"


def _load_npz(path: Path):
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            if not {"x", "y"} <= keys:
                raise DataError(f"npz '{path}': needs arrays 'x' and 'y', found "
                                f"{sorted(keys) or 'none'}; save with np.savez(path, x=..., y=...)")
            x, y = f["x"], f["y"]
            names = [str(n) for n in f["class_names"]] if "class_names" in keys else None
    except DataError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError (pickled objects), OSError
        raise DataError(f"npz '{path}': cannot be read ({exc}); save it with np.savez") from None
    if len(x) != len(y):
        raise DataError(f"npz '{path}': x has {len(x)} examples but y has {len(y)}; "
                        "they must have the same length")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise DataError(f"npz '{path}': x must have shape (n, height, width[, channels]), got "
                        f"{x.shape}; reshape it")
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise DataError(f"npz '{path}': x must hold finite numbers; clean NaN/inf values")
    y, found_names = _encode_labels(y, f"npz '{path}'")
    names = names or found_names
    if len(names) != int(y.max()) + 1:
        raise DataError(f"npz '{path}': class_names has {len(names)} entries for "
                        f"{int(y.max()) + 1} classes; make them agree")
    xmax = float(x.max()) if x.size else 1.0
    scale = 1.0 / 255.0 if (x.dtype == np.uint8 or xmax > 1.0) else 1.0
    if xmax > 255.0:
        scale = 1.0 / xmax
    x = x if x.dtype == np.uint8 else x.astype("float32")  # uint8 stays 4x smaller
    return x, y, names, scale, path.stem


def _encode_labels(y: np.ndarray, where: str):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    classes, encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"{where}: found {len(classes)} class; a classifier needs at least 2")
    return encoded.astype("int64"), [str(c) for c in classes]


def _load_folder(path: Path, image_size, color_mode):
    if not path.is_dir():
        raise DataError(f"image folder '{path}' is a file; give a folder with one sub-folder "
                        "per class")
    class_dirs = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(class_dirs) < 2:
        raise DataError(f"image folder '{path}': found {len(class_dirs)} class sub-folder(s); "
                        "a classifier needs at least 2 (one sub-folder per class)")
    files, labels = [], []
    for i, d in enumerate(class_dirs):
        imgs = sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not imgs:
            raise DataError(f"image folder '{path}': class '{d.name}' has no images "
                            f"({', '.join(sorted(IMAGE_SUFFIXES))}); add some or remove it")
        files += imgs
        labels += [i] * len(imgs)
    images = _decode_images(files, image_size, color_mode)
    return images, np.array(labels, dtype="int64"), [d.name for d in class_dirs], 1.0 / 255.0, \
        path.name


def _decode_images(files: list[Path], image_size, color_mode) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    def read(f: Path) -> Image.Image:
        try:
            with Image.open(f) as im:
                return im.convert("L" if mode == "grayscale" else "RGB") if mode else im.copy()
        except (UnidentifiedImageError, OSError) as exc:
            raise DataError(f"image '{f}' cannot be decoded ({exc}); remove or replace it") \
                from None

    mode = color_mode
    first = read(files[0])
    if mode is None:
        mode = "grayscale" if first.mode in ("L", "1", "I;16", "I") else "rgb"
        first = first.convert("L" if mode == "grayscale" else "RGB")
    size = tuple(image_size) if image_size else (first.height, first.width)
    out = np.empty((len(files), size[0], size[1], 1 if mode == "grayscale" else 3), "uint8")
    for i, f in enumerate(files):
        im = first if i == 0 else read(f)
        if (im.height, im.width) != size:
            im = im.resize((size[1], size[0]), Image.BILINEAR)
        arr = np.asarray(im, dtype="uint8")
        out[i] = arr[..., None] if arr.ndim == 2 else arr
    return out


# ----------------------------------------------------------------------------- pipelines


def pipeline(split: Split, batch_size: int, *, training: bool, seed: int):
    """A tf.data pipeline over one split: cache, (shuffle), batch, prefetch."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((split.x, split.y)).cache()
    if training:
        ds = ds.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
