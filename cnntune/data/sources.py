"""Sources that load as arrays: scikit-learn's digits, the generated waveforms, discs and tags,
``.npz`` files (one labelled set, or the splits it brings) and CSV sequences."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from ..tasks import CLASSIFICATION
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


def load_npz(path: Path, sequence: bool = False, task=CLASSIFICATION):
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            t = task.targets_key  # y, or a segmentation's masks
            if not {"x", t} <= keys:
                raise DataError(f"npz '{path}': needs arrays 'x' and '{t}', found "
                                f"{sorted(keys) or 'none'}; save with np.savez(path, x=..., "
                                f"{t}=...)")
            x, y = f["x"], f[t]
            key = task.names_key
            names = [str(n) for n in f[key]] if key in keys else None
    except DataError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError (pickled objects), OSError
        raise DataError(f"npz '{path}': cannot be read ({exc}); save it with np.savez") from None
    if len(x) != len(y):
        raise DataError(f"npz '{path}': x has {len(x)} examples but {t} has {len(y)}; "
                        "they must have the same length")
    x = _check_x(x, f"npz '{path}', x", sequence)
    y, names = task.targets(y, f"npz '{path}', {t}", names)
    task.check_pair(x, y, f"npz '{path}', {t}")
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


def load_csv(path: Path, label_column: str | list[str], channels: int, task=CLASSIFICATION):
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except Exception as exc:  # ParserError, UnicodeDecodeError, EmptyDataError, OSError
        raise DataError(f"csv '{path}': cannot be read ({str(exc).splitlines()[0]}); save it "
                        "as comma-separated values with a header row") from None
    columns = label_columns(label_column, task, f"csv '{path}'")
    for c in columns:
        if c not in df.columns:
            raise DataError(f"csv '{path}': no label column '{c}' (columns: "
                            f"{', '.join(map(str, df.columns[:8]))}...); set data.label_column")
    values = df.drop(columns=columns)
    bad = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
    if bad:
        raise DataError(f"csv '{path}': column '{bad[0]}' is not numeric; every column but the "
                        f"label '{', '.join(columns)}' must hold numbers")
    x = values.to_numpy(dtype="float32")
    if not np.isfinite(x).all():
        row = int(np.argwhere(~np.isfinite(x))[0][0])
        raise DataError(f"csv '{path}': row {row + 2} has a missing or non-finite value; fill "
                        "or drop it")
    if x.shape[1] % channels:
        raise DataError(f"csv '{path}': {x.shape[1]} value columns do not split into "
                        f"{channels} channels; fix data.channels")
    x = x.reshape(len(x), x.shape[1] // channels, channels)
    y, names = task.targets(df[columns].to_numpy(), f"csv '{path}', column "
                            f"'{', '.join(columns)}'", columns=columns, first_row=2)
    return x, y, names, 1.0, path.stem


def label_columns(label_column: str | list[str], task, where: str) -> list[str]:
    """``data.label_column`` as a list: one column, or for a regression one per target."""
    columns = [label_column] if isinstance(label_column, str) else list(label_column)
    if len(columns) > 1 and task.classes:
        raise DataError(f"{where}: data.label_column names {len(columns)} columns, and a "
                        "classification has one label per example; name one column (several "
                        "value columns are targets of task: regression)")
    return columns


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


def make_discs(n: int = 2000, size: int = 32, seed: int = 0):
    """A seeded regression set: grey images (size x size, uint8) of 1-6 bright discs of radius
    2-6 pixels at random places (they may overlap) on a noisy background of random brightness;
    the targets are how many discs there are and their mean radius."""
    rng = np.random.default_rng(seed)
    most = 6
    count = rng.integers(1, most + 1, n)
    radius = rng.uniform(2.0, 6.0, (n, most))
    centre = rng.uniform(3.0, size - 3.0, (n, most, 2))
    present = np.arange(most)[None, :] < count[:, None]
    yy, xx = np.mgrid[0:size, 0:size].astype("float32")
    inside = ((yy - centre[..., 0, None, None]) ** 2 + (xx - centre[..., 1, None, None]) ** 2
              <= radius[..., None, None] ** 2) & present[..., None, None]
    level = rng.uniform(150, 255, (n, most))[..., None, None]
    disc = np.where(inside, level, 0.0).max(axis=1)
    background = rng.uniform(0, 90, (n, 1, 1)) + rng.normal(0, 20, (n, size, size))
    x = np.clip(np.maximum(disc, background), 0, 255).astype("uint8")[..., None]
    mean_radius = (radius * present).sum(1) / count
    y = np.stack([count.astype("float32"), mean_radius.astype("float32")], axis=1)
    return x, y, ["count", "mean_radius"], 1.0 / 255.0, "discs"


TAG_KINDS = ("disc", "square", "triangle", "cross", "ring")


def make_tags(n: int = 2400, size: int = 32, seed: int = 0, p: float = 0.35):
    """A seeded multi-label set: colour images (size x size x 3, uint8), each with none, one
    or several of five kinds of shape (``TAG_KINDS``, each there with probability ``p``, at
    most one of a kind), of radius 3.5-7 px in a random bright colour at random places (they
    may overlap), on a random dark background with noise and a thin distractor stroke; the
    labels are which kinds are there (a 0/1 matrix)."""
    x, y, _ = draw_shapes(n, size, seed, p)
    return x, y, list(TAG_KINDS), 1.0 / 255.0, "tags"


def make_scenes(n: int = 1200, size: int = 32, seed: int = 0, p: float = 0.5):
    """A seeded segmentation set: the tags set's images (``draw_shapes``), with masks of
    which kind of shape each pixel shows (0: background, 1-5: ``TAG_KINDS``; where shapes
    overlap, the one drawn last)."""
    x, _, masks = draw_shapes(n, size, seed, p)
    return x, masks, ["background", *TAG_KINDS], 1.0 / 255.0, "scenes"


def draw_shapes(n: int, size: int, seed: int, p: float):
    """(images uint8 (n, size, size, 3), which kinds each holds (n, kinds) 0/1, masks uint8
    (n, size, size) of the kind each pixel shows, 0 for none); see ``make_tags``."""
    rng = np.random.default_rng(seed)
    k = len(TAG_KINDS)
    y = (rng.random((n, k)) < p).astype("float32")
    yy, xx = np.mgrid[0:size, 0:size].astype("float32")
    img = rng.uniform(0, 110, (n, 1, 1, 3)) + rng.normal(0, 18, (n, size, size, 3))
    # a stroke of clutter on every image: a thin line of random colour, angle and length
    a, c = rng.uniform(0, np.pi, (n, 1, 1)), rng.uniform(0, size, (n, 2, 1, 1))
    u = (yy - c[:, 0]) * np.cos(a) - (xx - c[:, 1]) * np.sin(a)
    v = (yy - c[:, 0]) * np.sin(a) + (xx - c[:, 1]) * np.cos(a)
    stroke = (np.abs(u) <= 0.6) & (np.abs(v) <= rng.uniform(3, 9, (n, 1, 1)))
    img = np.where(stroke[..., None], rng.uniform(0, 255, (n, 1, 1, 3)), img)
    masks = np.zeros((n, size, size), "uint8")
    for j in range(k):
        r = rng.uniform(3.5, 7.0, (n, 1, 1))
        cy, cx = (rng.uniform(r[:, 0, 0] + 1, size - r[:, 0, 0] - 1)[:, None, None]
                  for _ in range(2))
        u, v = yy - cy, xx - cx
        d = np.hypot(u, v)
        mask = [d <= r,
                (np.abs(u) <= r * 0.8) & (np.abs(v) <= r * 0.8),
                (u <= r * 0.7) & (u >= -r) & (np.abs(v) <= (u + r) / 1.7),
                ((np.abs(u) <= r / 4) & (np.abs(v) <= r)) | ((np.abs(v) <= r / 4) &
                                                             (np.abs(u) <= r)),
                (d <= r) & (d >= r * 0.55)][j] & (y[:, j] > 0)[:, None, None]
        img = np.where(mask[..., None], rng.uniform(130, 255, (n, 1, 1, 3)), img)
        masks[mask] = j + 1
    return np.clip(img, 0, 255).astype("uint8"), y, masks


def npz_has_splits(path: Path) -> bool:
    try:
        with np.load(path, allow_pickle=False) as f:
            return any(k.startswith(("x_", "y_", "masks_")) for k in f.files)
    except Exception:  # unreadable: load_npz says why
        return False


def load_npz_splits(path: Path, sequence: bool, task=CLASSIFICATION):
    """An npz with x_train/y_train and optional x_val/y_val, x_test/y_test, labelled alike
    (a segmentation's masks_train, masks_val, masks_test)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            arrays = {k: f[k] for k in keys}
    except Exception as exc:  # zipfile.BadZipFile, ValueError (pickled objects), OSError
        raise DataError(f"npz '{path}': cannot be read ({exc}); save it with np.savez") from None
    t = task.targets_key
    for names in SPLIT_NAMES.values():
        for n in names:
            has_x, has_y = f"x_{n}" in keys, f"{t}_{n}" in keys
            if has_x != has_y:
                have, lack = ("x", t) if has_x else (t, "x")
                raise DataError(f"npz '{path}' has {have}_{n} but no {lack}_{n}; save both "
                                f"(np.savez(path, x_{n}=..., {t}_{n}=...))")
    if "x_train" not in keys:
        raise DataError(f"npz '{path}' has split arrays but no x_train/{t}_train; save the "
                        f"training part as x_train and {t}_train")
    found = {part: next(n for n in names if f"x_{n}" in keys)
             for part, names in SPLIT_NAMES.items() if any(f"x_{n}" in keys for n in names)}
    key = task.names_key
    given = [str(c) for c in arrays[key]] if key in keys else None
    y_train, names = task.targets(arrays[f"{t}_train"], f"npz '{path}', {t}_train", given)
    parts = {}
    for part, n in found.items():
        x = _check_x(arrays[f"x_{n}"], f"npz '{path}', x_{n}", sequence)
        if len(arrays[f"{t}_{n}"]) != len(x):
            raise DataError(f"npz '{path}': x_{n} has {len(x)} examples but {t}_{n} has "
                            f"{len(arrays[f'{t}_{n}'])}; they must have the same length")
        # labelled as train is: by value, or by one-hot column
        y = y_train if part == "train" else task.targets_like(
            arrays[f"{t}_{n}"], arrays[f"{t}_train"], f"npz '{path}': {t}_{n}", part)
        task.check_pair(x, y, f"npz '{path}', {t}_{n}")
        parts[part] = (x, y)
    if sequence:
        return ({k: (x.astype("float32"), y) for k, (x, y) in parts.items()}, names, 1.0,
                path.stem)
    scale = pixel_scale([x for x, _ in parts.values()])  # train first: its dtype decides
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
