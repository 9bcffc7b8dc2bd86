"""Data sources -> in-memory arrays with stratified, seeded train/val/test splits -> tf.data.

Sources:
  * ``digits`` - scikit-learn's load_digits (1,797 8x8 handwritten digits), shipped with
    scikit-learn, so the default works offline.
  * ``npz``    - a NumPy ``.npz`` file with arrays ``x`` (n, h, w[, c]) and ``y`` (n,).
  * ``folder`` - an image folder with one sub-folder per class (png, jpg, bmp, gif).
  * ``waveforms`` - generated, seeded sequences (sine, square, triangle, sawtooth under noise;
    1,600 x 128 steps x 1 channel): the embedded default for sequence families.
  * ``csv``    - sequences, one per row: a label column and the values, time-major
    (t0c0, t0c1, ..., t1c0, ...), reshaped to (steps, channels).
  * ``npz`` with ``kind: sequence`` - ``x`` (n, steps[, channels]) and ``y`` (n,).

A folder with ``train/`` and ``val/`` (or ``validation/``) and/or ``test/`` sub-folders, each
with class folders, and an ``.npz`` with ``x_train``/``y_train`` (and ``x_val``/``y_val``,
``x_test``/``y_test``) keep the splits they bring; a missing one is split from the training
part, stratified and seeded. ``Dataset.meta["splits"]`` says where each split came from.

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
    scale: float  # multiply raw pixel values by this to get [0, 1] (images)
    meta: dict = field(default_factory=dict)
    kind: str = "image"  # image (n, h, w, c) | sequence (n, steps, channels)

    @property
    def prep(self) -> dict:
        """What a model's first layers need: the pixel scale, or for sequences the training
        split's per-channel mean and standard deviation."""
        if self.kind != "sequence":
            return {"scale": self.scale}
        x = self.train.x.astype("float64")
        std = x.std(axis=(0, 1))
        return {"scale": 1.0, "mean": x.mean(axis=(0, 1)).tolist(),
                "std": np.where(std > 1e-6, std, 1.0).tolist()}

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def describe_splits(self) -> str:
        """Where each split came from: "train: given (800), val: split from train (15%) (141),
        test: given (200)"."""
        origin = self.meta.get("splits", {})
        return ", ".join(f"{part}: {origin.get(part, 'split')} ({len(getattr(self, part))})"
                         for part in ("train", "val", "test"))

    def class_weights(self, setting, where: str = "training.class_weight"
                      ) -> dict[int, float] | None:
        """``training.class_weight`` as Keras takes it (class index -> weight), or None for
        ``none``. ``balanced`` weighs each class n / (classes * its count in train), so every
        class adds up to the same total; a mapping names classes as ``class_names`` does."""
        if setting in (None, "none"):
            return None
        if setting == "balanced":
            counts = np.bincount(self.train.y, minlength=self.num_classes).astype("float64")
            return {i: float(len(self.train) / (self.num_classes * c)) if c else 1.0
                    for i, c in enumerate(counts)}
        index = {str(n): i for i, n in enumerate(self.class_names)}
        unknown = [k for k in setting if str(k) not in index]
        if unknown:
            raise DataError(f"{where} names class {unknown[0]!r}, which data '{self.name}' "
                            f"does not have; its classes are {', '.join(map(str, index))}")
        return {i: float(setting.get(name, 1.0)) for name, i in index.items()}

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for s in (self.train, self.val, self.test):
            h.update(np.ascontiguousarray(s.x).tobytes())
            h.update(np.ascontiguousarray(s.y).tobytes())
        return h.hexdigest()[:12]


def load_dataset(source: str | None, path: str | Path | None, *, val_fraction: float,
                 test_fraction: float, seed: int, image_size=None, color_mode=None,
                 base_dir: Path | None = None, kind: str | None = None,
                 label_column: str = "label", channels: int = 1, labels: str | None = None,
                 file_column: str = "file") -> Dataset:
    """Load a source and split it. ``source`` None means: infer from ``path`` (or digits)."""
    if path is not None:
        p = Path(path)
        if not p.is_absolute() and base_dir is not None and not p.exists():
            p = base_dir / p
        path = p
    if source is None:
        if path is None:
            source = "waveforms" if kind == "sequence" else "digits"
        elif path.suffix == ".npz":
            source = "npz"
        elif path.suffix == ".csv":
            source = "csv"
        else:
            source = "folder"
    data_kind = "image"
    parts = None  # the splits the data brings, when it brings them
    labels_path = None
    if labels is not None:
        labels_path = Path(labels)
        if not labels_path.is_absolute() and base_dir is not None and not labels_path.exists():
            labels_path = base_dir / labels_path
        labels_path = _existing(labels_path, "labels csv")
        if source != "folder" or not path.is_dir():
            raise DataError(f"data.labels '{labels}' labels the images of a folder; give "
                            "data.path (or --data) an image folder")
    if source == "digits":
        x, y, names, scale, name = _load_digits()
    elif source == "waveforms":
        x, y, names, scale, name = make_waveforms()
        data_kind = "sequence"
    elif source == "npz" and _npz_splits(_existing(path, "npz file")):
        parts, names, scale, name = _load_npz_splits(path, sequence=kind == "sequence")
        data_kind = kind or "image"
    elif source == "npz" and kind == "sequence":
        x, y, names, scale, name = _load_npz(_existing(path, "npz file"), sequence=True)
        data_kind = "sequence"
    elif source == "npz":
        x, y, names, scale, name = _load_npz(_existing(path, "npz file"))
    elif source == "csv":
        x, y, names, scale, name = _load_csv(_existing(path, "csv file"), label_column,
                                             channels)
        data_kind = "sequence"
    elif source == "folder" and labels_path is not None:
        x, y, names, scale, name = _load_labelled(_existing(path, "image folder"), labels_path,
                                                  file_column, label_column, image_size,
                                                  color_mode)
    elif source == "folder" and _split_dirs(_existing(path, "image folder")):
        parts, names, scale, name = _load_split_folders(path, _split_dirs(path), image_size,
                                                        color_mode)
    elif source == "folder":
        x, y, names, scale, name = _load_folder(_existing(path, "image folder"), image_size,
                                                color_mode)
    else:
        raise DataError(f"data source '{source}' is unknown; use digits, waveforms, npz, csv "
                        "or folder")
    if kind is not None and kind != data_kind:
        raise DataError(f"data '{name}' holds {data_kind}s but the space says kind: {kind}; "
                        f"give {kind} data or change data.kind")
    if parts is None:
        train, val, test = split(x, y, val_fraction=val_fraction, test_fraction=test_fraction,
                                 seed=seed, name=name)
        origin = {"train": "split", "val": "split", "test": "split"}
        n = len(y)
    else:
        train, val, test, origin = assemble(parts, val_fraction=val_fraction,
                                            test_fraction=test_fraction, seed=seed, name=name)
        n = len(train) + len(val) + len(test)
    load = {"source": source, "path": str(Path(path).resolve()) if path else None,
            "kind": data_kind, "image_size": list(image_size) if image_size else None,
            "color_mode": color_mode, "label_column": label_column, "channels": channels,
            "labels": str(labels_path.resolve()) if labels_path else None,
            "file_column": file_column,
            "val_fraction": val_fraction, "test_fraction": test_fraction, "seed": seed}
    return Dataset(name=name, train=train, val=val, test=test, class_names=names, scale=scale,
                   meta={"source": source, "path": str(path) if path else None, "n": n,
                         "load": load, "splits": origin},
                   kind=data_kind)


def describe(ds: Dataset) -> dict:
    """Everything needed to load ``ds`` again and check it is the same (``data.json`` of a
    study's MLflow run): the load arguments, fingerprint, classes, input shape and dtype, and
    the preprocessing a model applies."""
    return {**ds.meta["load"], "name": ds.name, "fingerprint": ds.fingerprint,
            "class_names": ds.class_names, "input_shape": list(ds.input_shape),
            "dtype": str(ds.train.x.dtype), "prep": ds.prep}


def load_described(spec: dict) -> Dataset:
    """Load the data a ``describe()`` dict names; DataError when it is gone or has changed."""
    ds = load_dataset(spec["source"], spec["path"], val_fraction=spec["val_fraction"],
                      test_fraction=spec["test_fraction"], seed=spec["seed"],
                      image_size=spec.get("image_size"), color_mode=spec.get("color_mode"),
                      kind=spec.get("kind"), label_column=spec.get("label_column", "label"),
                      channels=spec.get("channels", 1), labels=spec.get("labels"),
                      file_column=spec.get("file_column", "file"))
    if ds.fingerprint != spec["fingerprint"]:
        raise DataError(f"data '{spec['name']}' has changed since the study ran on it "
                        f"(fingerprint {ds.fingerprint}, was {spec['fingerprint']}); restore it "
                        "or run a new study")
    return ds


def split(x, y, *, val_fraction: float, test_fraction: float, seed: int, name: str):
    counts = np.bincount(y)
    n_classes = len(counts)
    n_test = int(round(len(y) * test_fraction))
    n_val = int(round(len(y) * val_fraction))
    if min(n_test, n_val) < n_classes or counts.min() < 3:
        raise DataError(f"data '{name}': {len(y)} examples, smallest class {counts.min()}: too "
                        f"few to split into train/val/test with every class in each; "
                        f"give at least 3 examples per class (more is better)")
    rest, test = stratified_split(y, n_test, seed)
    train, val = (rest[i] for i in stratified_split(y[rest], n_val, seed))
    return Split(x[train], y[train]), Split(x[val], y[val]), Split(x[test], y[test])


def assemble(parts: dict[str, tuple[np.ndarray, np.ndarray]], *, val_fraction: float,
             test_fraction: float, seed: int, name: str):
    """The splits a source brings (``train`` and any of ``val``, ``test``), the missing ones
    split from train (stratified, seeded; the fractions are of the training part); returns
    train, val, test and where each came from."""
    x, y = parts["train"]
    origin = {"train": "given"}
    out = {}
    rest = np.arange(len(y))
    for part, fraction in (("test", test_fraction), ("val", val_fraction)):
        if part in parts:
            out[part] = Split(*parts[part])
            origin[part] = "given"
            continue
        counts = np.bincount(y[rest])
        n_take = int(round(len(y) * fraction))
        if n_take < len(counts) or counts.min() < 3:
            raise DataError(f"data '{name}': its training part ({len(rest)} examples, smallest "
                            f"class {counts.min()}) is too small to split a {part} set from "
                            f"with every class in it; give {part} data of its own or more "
                            "training examples")
        keep, take = stratified_split(y[rest], n_take, seed)
        out[part] = Split(x[rest[take]], y[rest[take]])
        origin[part] = f"split from train ({fraction:.0%})"
        rest = rest[keep]
    return Split(x[rest], y[rest]), out["val"], out["test"], origin


def _existing(path: Path | None, what: str) -> Path:
    if path is None:
        raise DataError(f"no {what} given; pass --data PATH or set data.path in the space")
    if not path.exists():
        raise DataError(f"{what} '{path}' does not exist; check the path")
    return path


def _load_digits():
    """scikit-learn's digits (1,797 8x8 images, values 0..16), read from the file it ships
    without importing scikit-learn (~2-3 s of imports the study would wait for); its own
    loader where that file is not where scikit-learn keeps it."""
    import gzip
    from importlib.util import find_spec

    spec = find_spec("sklearn")
    csv = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / \
        "digits.csv.gz" if spec and spec.submodule_search_locations else None
    if csv is not None and csv.is_file():
        with gzip.open(csv, "rt") as f:
            table = np.loadtxt(f, delimiter=",")
        images, target = table[:, :-1].reshape(-1, 8, 8), table[:, -1]
    else:
        from sklearn.datasets import load_digits

        d = load_digits()
        images, target = d.images, d.target
    x = images.astype("float32")[..., None]  # (1797, 8, 8, 1), values 0..16
    y = target.astype("int64")
    return x, y, [str(i) for i in range(10)], 1.0 / 16.0, "digits"


def _load_npz(path: Path, sequence: bool = False):
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
    x = _check_x(x, f"npz '{path}', x", sequence)
    y, found_names = _encode_labels(y, f"npz '{path}'")
    names = names or found_names
    if len(names) != int(y.max()) + 1:
        raise DataError(f"npz '{path}': class_names has {len(names)} entries for "
                        f"{int(y.max()) + 1} classes; make them agree")
    if sequence:
        return x.astype("float32"), y, names, 1.0, path.stem
    return _compact(x), y, names, _pixel_scale([x]), path.stem


def _pixel_scale(xs: list[np.ndarray]) -> float:
    """What maps the pixel values of ``xs`` (one data set's arrays) to [0, 1]: 1/255 for
    uint8 or values above 1, 1/max above 255, else 1."""
    xmax = max((float(x.max()) for x in xs if x.size), default=1.0)
    if xmax > 255.0:
        return 1.0 / xmax
    return 1.0 / 255.0 if (xs[0].dtype == np.uint8 or xmax > 1.0) else 1.0


def _compact(x: np.ndarray) -> np.ndarray:
    return x if x.dtype == np.uint8 else x.astype("float32")  # uint8 stays 4x smaller


def _load_csv(path: Path, label_column: str, channels: int):
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except Exception as exc:  # ParserError, UnicodeDecodeError, EmptyDataError, OSError
        raise DataError(f"csv '{path}': cannot be read ({str(exc).splitlines()[0]}); save it "
                        "as comma-separated values with a header row") from None
    if label_column not in df.columns:
        raise DataError(f"csv '{path}': no label column '{label_column}' (columns: "
                        f"{', '.join(map(str, df.columns[:8]))}...); set data.label_column")
    values = df.drop(columns=[label_column])
    bad = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
    if bad:
        raise DataError(f"csv '{path}': column '{bad[0]}' is not numeric; every column but the "
                        f"label '{label_column}' must hold numbers")
    x = values.to_numpy(dtype="float32")
    if not np.isfinite(x).all():
        row = int(np.argwhere(~np.isfinite(x))[0][0])
        raise DataError(f"csv '{path}': row {row + 2} has a missing or non-finite value; fill "
                        "or drop it")
    if x.shape[1] % channels:
        raise DataError(f"csv '{path}': {x.shape[1]} value columns do not split into "
                        f"{channels} channels; fix data.channels")
    x = x.reshape(len(x), x.shape[1] // channels, channels)
    y, names = _encode_labels(df[label_column].to_numpy(), f"csv '{path}'")
    return x, y, names, 1.0, path.stem


def make_waveforms(n: int = 1600, steps: int = 128, seed: int = 0):
    """A seeded sequence set: four wave shapes (sine, square, triangle, sawtooth) with random
    frequency (1-6 cycles), phase, amplitude and offset, under Gaussian noise (sigma 0.4)."""
    rng = np.random.default_rng(seed)
    names = ["sine", "square", "triangle", "sawtooth"]
    y = np.arange(n) % len(names)
    t = np.linspace(0, 1, steps, endpoint=False)[None, :]
    cycles = rng.uniform(1, 6, (n, 1))
    phase = rng.uniform(0, 1, (n, 1))
    u = (cycles * t + phase) % 1.0  # position within the cycle, 0..1
    waves = np.stack([np.sin(2 * np.pi * u), np.where(u < 0.5, 1.0, -1.0),
                      4 * np.abs(u - 0.5) - 1, 2 * u - 1])
    x = waves[y, np.arange(n)] * rng.uniform(0.5, 1.5, (n, 1)) + rng.uniform(-1, 1, (n, 1))
    x = x + rng.normal(0, 0.4, x.shape)
    return x[..., None].astype("float32"), y.astype("int64"), names, 1.0, "waveforms"


# the sub-folders (and npz keys) that name splits a source brings: the split -> its names
SPLIT_NAMES = {"train": ("train",), "val": ("val", "validation"), "test": ("test",)}


def _split_dirs(path: Path) -> dict[str, Path] | None:
    """An image folder's split sub-folders, or None when it holds class folders only: it
    brings splits when it has ``train/`` and ``val/``, ``validation/`` or ``test/``."""
    if not path.is_dir():
        return None
    found: dict[str, Path] = {}
    for part, names in SPLIT_NAMES.items():
        dirs = [path / n for n in names if (path / n).is_dir()]
        if len(dirs) > 1:
            raise DataError(f"image folder '{path}' has both {dirs[0].name}/ and "
                            f"{dirs[1].name}/; keep one of them")
        if dirs:
            found[part] = dirs[0]
    if "train" not in found or len(found) < 2:
        return None
    return found


def _load_split_folders(path: Path, dirs: dict[str, Path], image_size, color_mode):
    """Each split folder's class folders, decoded alike (train's image size and colour)."""
    classes = sorted(d.name for d in dirs["train"].iterdir()
                     if d.is_dir() and not d.name.startswith("."))
    for folder in dirs.values():
        found = sorted(d.name for d in folder.iterdir()
                       if d.is_dir() and not d.name.startswith("."))
        extra = [c for c in found if c not in classes]
        if extra:
            raise DataError(f"image folder '{path}': class '{extra[0]}' is in {folder.name}/ "
                            f"but not in train/; add train/{extra[0]}/ with images, or remove "
                            f"{folder.name}/{extra[0]}/")
    x, y, names, scale, _ = _load_folder(dirs["train"], image_size, color_mode,
                                         where=f"image folder '{dirs['train']}'")
    size = x.shape[1:3]
    mode = "grayscale" if x.shape[-1] == 1 else "rgb"
    parts = {"train": (x, y)}
    for part in ("val", "test"):
        if part in dirs:
            px, py, found, _, _ = _load_folder(dirs[part], size, mode, min_classes=1,
                                               where=f"image folder '{dirs[part]}'")
            parts[part] = (px, np.array([names.index(found[i]) for i in py], dtype="int64"))
    return parts, names, scale, path.name


def _npz_splits(path: Path) -> bool:
    try:
        with np.load(path, allow_pickle=False) as f:
            return any(k.startswith(("x_", "y_")) for k in f.files)
    except Exception:  # unreadable: _load_npz says why
        return False


def _load_npz_splits(path: Path, sequence: bool):
    """An npz with x_train/y_train and optional x_val/y_val, x_test/y_test, labelled alike."""
    with np.load(path, allow_pickle=False) as f:
        keys = set(f.files)
        arrays = {k: f[k] for k in keys}
    for names in SPLIT_NAMES.values():
        for n in names:
            has_x, has_y = f"x_{n}" in keys, f"y_{n}" in keys
            if has_x != has_y:
                have, lack = ("x", "y") if has_x else ("y", "x")
                raise DataError(f"npz '{path}' has {have}_{n} but no {lack}_{n}; save both "
                                f"(np.savez(path, x_{n}=..., y_{n}=...))")
    if "x_train" not in keys:
        raise DataError(f"npz '{path}' has split arrays but no x_train/y_train; save the "
                        "training part as x_train and y_train")
    found = {part: next(n for n in names if f"x_{n}" in keys)
             for part, names in SPLIT_NAMES.items() if any(f"x_{n}" in keys for n in names)}
    y_train, names = _encode_labels(arrays["y_train"], f"npz '{path}', y_train")
    classes = np.unique(np.asarray(arrays["y_train"]).reshape(-1)) \
        if np.asarray(arrays["y_train"]).ndim == 1 else None
    parts, scale = {}, None
    for part, n in found.items():
        x = _check_x(arrays[f"x_{n}"], f"npz '{path}', x_{n}", sequence)
        raw = np.asarray(arrays[f"y_{n}"])
        if len(raw) != len(x):
            raise DataError(f"npz '{path}': x_{n} has {len(x)} examples but y_{n} has "
                            f"{len(raw)}; they must have the same length")
        if part == "train":
            y = y_train
        elif raw.ndim == 2 and raw.shape[1] > 1:  # one-hot, over train's classes
            y = raw.argmax(axis=1).astype("int64")
        else:
            raw = raw.reshape(-1)
            unknown = sorted(set(raw.tolist()) - set(classes.tolist()))
            if unknown:
                raise DataError(f"npz '{path}': y_{n} has class {unknown[0]!r}, which y_train "
                                f"does not have; every {part} class must be in train")
            y = np.searchsorted(classes, raw).astype("int64")
        parts[part] = (x, y)
    if "class_names" in keys:
        names = [str(c) for c in arrays["class_names"]]
    if sequence:
        return ({k: (x.astype("float32"), y) for k, (x, y) in parts.items()}, names, 1.0,
                path.stem)
    scale = _pixel_scale([x for x, _ in parts.values()])  # train first: its dtype decides
    return {k: (_compact(x), y) for k, (x, y) in parts.items()}, names, scale, path.stem


def _check_x(x: np.ndarray, where: str, sequence: bool) -> np.ndarray:
    if sequence:
        x = x[..., None] if x.ndim == 2 else x
        if x.ndim != 3:
            raise DataError(f"{where}: sequences must have shape (n, steps[, channels]), got "
                            f"{x.shape}; reshape it")
    else:
        x = x[..., None] if x.ndim == 3 else x
        if x.ndim != 4:
            raise DataError(f"{where}: images must have shape (n, height, width[, channels]), "
                            f"got {x.shape}; reshape it (sequences: set data.kind: sequence)")
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise DataError(f"{where}: must hold finite numbers; clean NaN/inf values")
    return x


def _load_labelled(path: Path, labels: Path, file_column: str, label_column: str,
                   image_size, color_mode):
    """A flat image folder labelled by a CSV: one row per image, its file name (relative to
    the folder) and its label. Every row must name an image there, and every image there
    must have a row."""
    import csv

    where = f"labels csv '{labels}'"
    with open(labels, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        for col, key in ((file_column, "file_column"), (label_column, "label_column")):
            if col not in columns:
                raise DataError(f"{where}: no column '{col}' (columns: {', '.join(columns)}); "
                                f"set data.{key}")
        rows = [(line, r[file_column].strip(), r[label_column].strip())
                for line, r in enumerate(reader, start=2)]
    seen: dict[str, int] = {}
    for line, name, label in rows:
        if name in seen:
            raise DataError(f"{where}, row {line}: file '{name}' is listed again (first on "
                            f"row {seen[name]}); keep one row per image")
        seen[name] = line
        if not label:
            raise DataError(f"{where}, row {line}: file '{name}' has no label; fill it in or "
                            "drop the row")
        if not (path / name).is_file():
            raise DataError(f"{where}, row {line}: file '{name}' is not in '{path}'; fix the "
                            "name or drop the row")
    unlisted = sorted(f.name for f in path.iterdir()
                      if f.suffix.lower() in IMAGE_SUFFIXES and f.name not in seen)
    if unlisted:
        raise DataError(f"{where}: {len(unlisted)} image(s) in '{path}' have no row, such as "
                        f"'{unlisted[0]}'; add rows for them or move them out")
    y, names = _encode_labels(np.array([label for _, _, label in rows]), where)
    x = decode_images([path / name for _, name, _ in rows], image_size, color_mode)
    return x, y, names, 1.0 / 255.0, path.name


def _encode_labels(y: np.ndarray, where: str):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    classes, encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"{where}: found {len(classes)} class; a classifier needs at least 2")
    return encoded.astype("int64"), [str(c) for c in classes]


def _load_folder(path: Path, image_size, color_mode, *, min_classes: int = 2,
                 where: str | None = None):
    if not path.is_dir():
        raise DataError(f"image folder '{path}' is a file; give a folder with one sub-folder "
                        "per class")
    class_dirs = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(class_dirs) < min_classes:
        where = where or f"image folder '{path}'"
        raise DataError(f"{where}: found {len(class_dirs)} class "
                        "sub-folder(s); a classifier needs at least 2 (one sub-folder per "
                        "class)")
    files, labels = [], []
    for i, d in enumerate(class_dirs):
        imgs = sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not imgs:
            raise DataError(f"image folder '{path}': class '{d.name}' has no images "
                            f"({', '.join(sorted(IMAGE_SUFFIXES))}); add some or remove it")
        files += imgs
        labels += [i] * len(imgs)
    images = decode_images(files, image_size, color_mode)
    return images, np.array(labels, dtype="int64"), [d.name for d in class_dirs], 1.0 / 255.0, \
        path.name


def decode_images(files: list[Path], image_size, color_mode) -> np.ndarray:
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


def pipeline(split: Split, batch_size: int, *, training: bool, seed: int,
             one_hot: int | None = None):
    """A tf.data pipeline over one split: cache, (shuffle), batch, prefetch. ``one_hot`` (the
    number of classes) turns labels into one-hot rows, for losses with label smoothing."""
    import tensorflow as tf

    y = split.y if one_hot is None else np.eye(one_hot, dtype="float32")[split.y]
    ds = tf.data.Dataset.from_tensor_slices((split.x, y)).cache()
    if training:
        ds = ds.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def stratified_split(y: np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rest, test) with ``n_test`` in test and every class in the same proportion in
    both: exactly scikit-learn's ``train_test_split(..., test_size=n_test, stratify=y,
    random_state=seed)`` (its StratifiedShuffleSplit draws, in its order), so that splits -
    and the data fingerprints studies are resumed and exported by - are what they were when
    cnntune split with scikit-learn, without importing it (~2 s)."""
    rng = np.random.RandomState(seed)
    classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    by_class = np.split(np.argsort(y_idx, kind="stable"), np.cumsum(counts)[:-1])
    n_rest = len(y) - n_test
    n_i = _approximate_mode(counts, n_rest, rng)
    t_i = _approximate_mode(counts - n_i, n_test, rng)
    rest, test = [], []
    for i in range(len(classes)):
        members = by_class[i].take(rng.permutation(counts[i]), mode="clip")
        rest.extend(members[:n_i[i]])
        test.extend(members[n_i[i]:n_i[i] + t_i[i]])
    return rng.permutation(rest), rng.permutation(test)


def _approximate_mode(counts: np.ndarray, n_draws: int, rng) -> np.ndarray:
    """How many of each class ``n_draws`` stratified draws take: the floor of each class's
    share, the remainder to the largest leftovers, ties broken by ``rng`` (scikit-learn's
    ``_approximate_mode``, the same draws)."""
    continuous = counts / counts.sum() * n_draws
    floored = np.floor(continuous)
    need = int(n_draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add = min(len(inds), need)
            floored[rng.choice(inds, size=add, replace=False)] += 1
            need -= add
            if need == 0:
                break
    return floored.astype(int)
