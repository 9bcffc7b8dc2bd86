"""Sources that load as arrays: scikit-learn's digits, the generated waveforms, ``.npz`` files
(one labelled set, or the splits it brings) and CSV sequences."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .splits import SPLIT_NAMES


def load_digits():
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


def load_npz(path: Path, sequence: bool = False):
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
    y, found_names = encode_labels(y, f"npz '{path}'")
    names = names or found_names
    if len(names) != int(y.max()) + 1:
        raise DataError(f"npz '{path}': class_names has {len(names)} entries for "
                        f"{int(y.max()) + 1} classes; make them agree")
    if sequence:
        return x.astype("float32"), y, names, 1.0, path.stem
    return _compact(x), y, names, pixel_scale([x]), path.stem


def pixel_scale(xs: list[np.ndarray]) -> float:
    """What maps the pixel values of ``xs`` (one data set's arrays) to [0, 1]: 1/255 for
    uint8 or values above 1, 1/max above 255, else 1."""
    xmax = max((float(x.max()) for x in xs if x.size), default=1.0)
    if xmax > 255.0:
        return 1.0 / xmax
    return 1.0 / 255.0 if (xs[0].dtype == np.uint8 or xmax > 1.0) else 1.0


def _compact(x: np.ndarray) -> np.ndarray:
    return x if x.dtype == np.uint8 else x.astype("float32")  # uint8 stays 4x smaller


def load_csv(path: Path, label_column: str, channels: int):
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
    y, names = encode_labels(df[label_column].to_numpy(), f"csv '{path}'")
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


def npz_has_splits(path: Path) -> bool:
    try:
        with np.load(path, allow_pickle=False) as f:
            return any(k.startswith(("x_", "y_")) for k in f.files)
    except Exception:  # unreadable: load_npz says why
        return False


def load_npz_splits(path: Path, sequence: bool):
    """An npz with x_train/y_train and optional x_val/y_val, x_test/y_test, labelled alike."""
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            arrays = {k: f[k] for k in keys}
    except Exception as exc:  # zipfile.BadZipFile, ValueError (pickled objects), OSError
        raise DataError(f"npz '{path}': cannot be read ({exc}); save it with np.savez") from None
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
    y_train, names = encode_labels(arrays["y_train"], f"npz '{path}', y_train")
    classes = np.unique(_label_values(arrays["y_train"]))  # what y_train's codes stand for
    parts = {}
    for part, n in found.items():
        x = _check_x(arrays[f"x_{n}"], f"npz '{path}', x_{n}", sequence)
        raw = _label_values(arrays[f"y_{n}"])
        if len(raw) != len(x):
            raise DataError(f"npz '{path}': x_{n} has {len(x)} examples but y_{n} has "
                            f"{len(raw)}; they must have the same length")
        if part == "train":
            y = y_train
        else:  # labelled as train is: by value, or by one-hot column
            unknown = sorted(set(raw.tolist()) - set(classes.tolist()))
            if unknown:
                raise DataError(f"npz '{path}': y_{n} has class {unknown[0]!r}, which y_train "
                                f"does not have; every {part} class must be in train")
            y = np.searchsorted(classes, raw).astype("int64")
        parts[part] = (x, y)
    if "class_names" in keys:
        names = [str(c) for c in arrays["class_names"]]
        if len(names) != len(classes):
            raise DataError(f"npz '{path}': class_names has {len(names)} entries for "
                            f"{len(classes)} classes in y_train; make them agree")
    if sequence:
        return ({k: (x.astype("float32"), y) for k, (x, y) in parts.items()}, names, 1.0,
                path.stem)
    scale = pixel_scale([x for x, _ in parts.values()])  # train first: its dtype decides
    return {k: (_compact(x), y) for k, (x, y) in parts.items()}, names, scale, path.stem


def _label_values(y) -> np.ndarray:
    """Labels as one value per example: a one-hot row becomes its column."""
    y = np.asarray(y)
    return (y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y).reshape(-1)


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


def encode_labels(y: np.ndarray, where: str):
    """Labels (values, or one-hot rows) -> codes 0..k-1 and the class names, sorted."""
    y = _label_values(y)
    classes, encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"{where}: found {len(classes)} class; a classifier needs at least 2")
    return encoded.astype("int64"), [str(c) for c in classes]

