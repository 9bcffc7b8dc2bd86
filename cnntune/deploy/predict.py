"""``cnntune predict``: an exported model on image files, image folders or an .npz.

Inputs are read as the export's ``cnntune.json`` says its data was (image size, grey or
colour); the model does its own rescaling. The result is a pandas table: input, then what
the task predicts (``Task.rows``): class and probability (and the next classes with
``top``), a regression's value per target, or a multi-label model's label set (at the
thresholds cnntune.json keeps) and each label's probability.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data import IMAGE_SUFFIXES
from ..errors import DataError
from ..errors import ModelFileError
from ..formats.runtimes import load_predictor, model_file
from ..tasks import task


def read_metadata(model: str | Path) -> dict:
    p = Path(model)
    meta = (p if p.is_dir() else model_file(p).parent) / "cnntune.json"
    if not meta.exists() and not p.is_dir():
        meta = p.parent / "cnntune.json"
    if not meta.exists():
        raise ModelFileError(f"model '{model}': no cnntune.json beside it (written by cnntune "
                             "export); it says which classes and input shape the model has")
    try:
        return json.loads(meta.read_text())
    except ValueError as exc:
        raise ModelFileError(f"'{meta}' is not valid JSON ({exc}); re-export the model") \
            from None


def predict_files(model: str | Path, inputs, *, top: int = 1):
    import pandas as pd

    meta = read_metadata(model)
    shape = meta["input"]["shape"][1:]
    # image files hold 0-255 pixels; the model takes the raw values its data held, which it
    # multiplies by `scale` to reach [0, 1] (digits: 0-16, scale 1/16)
    pixel_factor = 1.0 / 255.0 / float(meta["preprocessing"].get("scale", 1 / 255))
    names, x = read_inputs(inputs, shape, pixel_factor)
    from .._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    preds = load_predictor(model).predict(x)
    rows = task(meta.get("task")).rows(preds, meta["class_names"], top, meta.get("decision"))
    return pd.DataFrame([{"input": name, **row} for name, row in zip(names, rows)])


def read_inputs(inputs, shape: list[int], pixel_factor: float) -> tuple[list[str], np.ndarray]:
    names: list[str] = []
    arrays: list[np.ndarray] = []
    for item in inputs:
        p = Path(item)
        if not p.exists():
            raise DataError(f"input '{item}' does not exist; give image files, a folder of "
                            "images or an .npz")
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as f:
                if "x" not in f.files:
                    raise DataError(f"npz '{p}': needs an array 'x'; save with np.savez(path, "
                                    "x=...)")
                x = f["x"]
            if x.ndim == len(shape):  # one channel left implicit
                x = x[..., None]
            if list(x.shape[1:]) != list(shape):
                raise DataError(f"npz '{p}': x has examples of shape {list(x.shape[1:])}, the "
                                f"model takes {shape}; reshape or resize them")
            names += [f"{p.name}[{i}]" for i in range(len(x))]
            arrays.append(x.astype("float32"))
        else:
            files = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES) \
                if p.is_dir() else [p]
            if not files:
                raise DataError(f"folder '{p}' holds no images "
                                f"({', '.join(sorted(IMAGE_SUFFIXES))}); give another")
            arrays.append(_read_images(files, shape) * pixel_factor)
            names += [str(f) for f in files]
    return names, np.concatenate(arrays).astype("float32")


def _read_images(files: list[Path], shape: list[int]) -> np.ndarray:
    from ..data import decode_images

    if len(shape) != 3:
        raise DataError(f"the model takes sequences of shape {shape}, not images; give an .npz")
    h, w, c = shape
    return decode_images(files, (h, w), "grayscale" if c == 1 else "rgb").astype("float32")
