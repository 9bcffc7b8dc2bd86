"""What an estimator is handed, as the data settings of a search space: arrays (numpy, a
``tf.data.Dataset``, anything ``np.asarray`` takes) become an ``.npz`` of given splits, written
once beside the study's stores and named by its contents; a path is used as it is; a pandas
DataFrame of image paths becomes a labels CSV over their common folder.

The checks here run before anything is written, with one-line errors that say where
(``fit(x, y)``) and how to fix it; the npz loader checks the rest as it does for the CLI.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog import EMBEDDED
from ..errors import InputError

FILE_COLUMNS = ("file", "path", "filename", "image")  # a DataFrame's image column, by name


@dataclass
class Inputs:
    """A search's data: the space's ``data:`` settings, and what fit learnt of the labels."""

    settings: dict[str, Any]  # DataSettings keys (source, path, labels, ...)
    name: str  # the data's name: the study is named after it
    classes: np.ndarray | None = None  # the labels as the user gave them, sorted
    shape: tuple[int, ...] | None = None  # one example's shape, arrays only
    extra: dict[str, Any] = field(default_factory=dict)


def inputs_of(x, y, validation_data, *, task, kind: str = "image", folder: Path,
              where: str = "fit", test_data=None) -> Inputs:
    """``fit``'s data as a space's data settings; writes an npz (arrays) or a labels CSV
    (a DataFrame) into ``folder`` when it is not there yet. ``test_data``: (x, y) the trials'
    test figures are scored on (default: a split held out of x)."""
    if isinstance(x, (str, Path)):
        if y is not None or validation_data is not None or test_data is not None:
            raise InputError(f"{where}(x, ...): x is a path ('{x}'), which brings its own labels "
                             "and splits; drop y and validation_data, or pass arrays")
        if str(x) in EMBEDDED:
            return Inputs({"source": str(x)}, str(x))
        path = Path(x).expanduser()
        if not path.exists():
            raise InputError(f"{where}(x): '{x}' does not exist; give an .npz file, an image "
                             "folder, a CSV or arrays")
        return Inputs({"path": str(path.resolve())}, path.stem)
    if _is_dataframe(x):
        if test_data is not None:
            raise InputError(f"{where}(DataFrame, test_data=...): test_data is for arrays; put "
                             "the test images in the frame's folder as test/")
        return _frame(x, y, validation_data, folder=folder, where=where)
    x, y = arrays_of(x, y, kind, where)
    parts = {"train": (x, y)}
    for part, arg, given in (("val", "validation_data", validation_data),
                             ("test", "test_data", test_data)):
        if given is None:
            continue
        if not isinstance(given, (tuple, list)) or len(given) != 2:
            raise InputError(f"{where}({arg}=...): give a tuple (x_{part}, y_{part})")
        xp, yp = arrays_of(*given, kind, f"{where}({arg})")
        if xp.shape[1:] != x.shape[1:]:
            raise InputError(f"{where}({arg}): x_{part} holds examples of shape "
                             f"{xp.shape[1:]}, x of {x.shape[1:]}; give both the same shape")
        parts[part] = (xp, yp)
    classes = None
    if task.classes:
        classes = np.unique(y)
        if len(classes) < 2:
            raise InputError(f"{where}(x, y): y holds one class ({classes[0]!r}); a classifier "
                             "needs examples of at least two")
        for part, arg in (("val", "validation_data"), ("test", "test_data")):
            if part in parts:
                unknown = np.setdiff1d(parts[part][1], classes)
                if len(unknown):
                    raise InputError(f"{where}({arg}): y_{part} holds class {unknown[0]!r}, "
                                     f"which y does not; every class of y_{part} must be in y")
    digest = hashlib.sha256()
    for part in sorted(parts):
        for a in parts[part]:
            digest.update(str((a.shape, a.dtype.str)).encode())
            digest.update(np.ascontiguousarray(a).tobytes())
    name = f"arrays-{digest.hexdigest()[:10]}"
    path = folder / f"{name}.npz"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.npz")
        arrays = {f"{k}_{p}": a for p, (xa, ya) in parts.items()
                  for k, a in ((("x", xa), (task.targets_key, ya)))}
        if classes is not None:
            arrays[task.names_key] = classes.astype(str)
        np.savez(tmp, **arrays)
        tmp.replace(path)
    settings = {"source": "npz", "path": str(path)}
    if kind == "sequence":
        settings["kind"] = "sequence"
    return Inputs(settings, name, classes, tuple(x.shape[1:]))


RANKS = {"image": (3, 4), "sequence": (2, 3)}  # x's rank: (n, h, w[, c]), (n, steps[, c])


def arrays_of(x, y, kind: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) as numpy arrays, checked: same length, a rank ``kind`` takes, finite."""
    if _is_tf_dataset(x):
        if y is not None:
            raise InputError(f"{where}(x, y): x is a tf.data.Dataset of (x, y) pairs, which "
                             "brings its own labels; drop y")
        x, y = _from_tf_dataset(x, where)
    if y is None:
        raise InputError(f"{where}(x, y): y is missing; give the labels (targets, masks) of x")
    try:
        x, y = np.asarray(x), np.asarray(y)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{where}(x, y): cannot be read as arrays ({exc}); give numpy "
                         "arrays") from None
    if x.ndim == 0 or len(x) != len(y):
        raise InputError(f"{where}(x, y): x has {len(x) if x.ndim else 0} examples but y has "
                         f"{len(y)}; give one label (target, mask) per example")
    if not np.issubdtype(x.dtype, np.number):
        raise InputError(f"{where}(x): holds {x.dtype} values; give numbers (uint8 pixels, "
                         "floats)")
    if x.ndim not in RANKS[kind]:
        want = "(n, height, width[, channels]) images" if kind == "image" else \
            "(n, steps[, channels]) sequences"
        raise InputError(f"{where}(x): has shape {x.shape}; give {want}"
                         + (" (sequences: SequenceClassifier)" if kind == "image" and x.ndim == 2
                            else ""))
    if not np.isfinite(x).all():
        raise InputError(f"{where}(x): holds NaN or inf values; clean or drop those examples")
    return x, y


def _frame(df, y, validation_data, *, folder: Path, where: str) -> Inputs:
    """A DataFrame of image paths and labels: ``y`` names the label column."""
    if validation_data is not None:
        raise InputError(f"{where}(DataFrame, ...): validation_data is for arrays; put the "
                         "validation images in the frame's folder as val/, or use "
                         "validation_split")
    label = y if isinstance(y, str) else "label"
    if label not in df.columns:
        raise InputError(f"{where}(DataFrame, y={label!r}): the frame has no column {label!r} "
                         f"(it has {', '.join(map(str, df.columns))}); name the label column "
                         "with y")
    files = [c for c in FILE_COLUMNS if c in df.columns]
    if not files:
        others = [c for c in df.columns if c != label]
        if len(others) != 1:
            raise InputError(f"{where}(DataFrame): no image column; name it one of "
                             f"{', '.join(FILE_COLUMNS)}")
        files = others
    paths = [Path(p).expanduser().resolve() for p in df[files[0]].astype(str)]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"{where}(DataFrame): image '{missing[0]}' ({len(missing)} of "
                         f"{len(paths)}) does not exist; fix the frame's paths")
    import os

    root = Path(os.path.commonpath([str(p.parent) for p in paths]))
    rel = [str(p.relative_to(root)) for p in paths]
    table = df.assign(**{"file": rel})[["file", label]]
    digest = hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()[:10]
    name = f"frame-{digest}"
    csv = folder / f"{name}.csv"
    if not csv.exists():
        folder.mkdir(parents=True, exist_ok=True)
        table.to_csv(csv, index=False)
    return Inputs({"source": "folder", "path": str(root), "labels": str(csv),
                   "file_column": "file", "label_column": label}, name,
                  np.unique(df[label].to_numpy()))


def _is_dataframe(x) -> bool:
    return type(x).__name__ == "DataFrame" and hasattr(x, "columns")


def _is_tf_dataset(x) -> bool:
    return any(c.__name__ == "DatasetV2" for c in type(x).__mro__)


def _from_tf_dataset(ds, where: str) -> tuple[np.ndarray, np.ndarray]:
    """All (x, y) elements of a tf.data.Dataset, batched or not, as two arrays."""
    spec = ds.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2:
        raise InputError(f"{where}(x): the tf.data.Dataset yields {spec}; it must yield "
                         "(x, y) pairs")
    xs, ys = spec[0].shape, spec[1].shape
    # batched: an unknown leading size, or one x and y share (a batch's, drop_remainder)
    batched = xs.rank is not None and xs.rank >= 1 and (
        xs[0] is None or (ys.rank is not None and ys.rank >= 1 and xs[0] == ys[0]))
    parts = [(xb, yb) if batched else (xb[None], np.asarray(yb)[None])
             for xb, yb in ds.as_numpy_iterator()]
    if not parts:
        raise InputError(f"{where}(x): the tf.data.Dataset is empty")
    y = np.concatenate([p[1] for p in parts])
    # tf.data holds strings as bytes (a batch of them as an object array): the labels as given
    if y.dtype.kind == "S" or (y.dtype == object and y.size and isinstance(y.flat[0], bytes)):
        y = np.array([v.decode() for v in y.ravel()]).reshape(y.shape)
    return np.concatenate([p[0] for p in parts]), y
