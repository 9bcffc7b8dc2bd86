"""``cnntune predict``: an exported model on image files, image folders or an .npz.

Inputs are read as the export's ``cnntune.json`` says its data was (image size, grey or
colour); the model does its own rescaling. The result is a pandas table: input, then what
the task predicts (``Task.rows``): class and probability (and the next classes with
``top``), a regression's value per target, a multi-label model's label set (at the
thresholds cnntune.json keeps) and each label's probability, or a segmentation's mask file
(with an overlay beside it) and each class's share of the pixels.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..data import IMAGE_SUFFIXES
from ..errors import DataError
from ..errors import ModelFileError
from ..formats.registry import load_predictor, model_file
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


def predict_files(model: str | Path, inputs, *, top: int = 1, masks_dir="masks"):
    """The predictions table; a segmentation's masks (PNGs of class indices) and overlays
    are written to ``masks_dir`` and the table names them."""
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
    learn = task(meta.get("task"))
    rows = learn.rows(preds, meta["class_names"], top, meta.get("decision"))
    if learn.per_pixel:
        scale = float(meta["preprocessing"].get("scale", 1 / 255))
        files = write_masks(Path(masks_dir), names, x * scale, preds.argmax(-1),
                            len(meta["class_names"]))
        rows = [{"mask": f, **row} for f, row in zip(files, rows)]
    return pd.DataFrame([{"input": name, **row} for name, row in zip(names, rows)])


def write_masks(folder: Path, names: list[str], images, masks, classes: int) -> list[str]:
    """Each mask as a PNG of class indices (``<name>_mask.png``) and drawn over its image
    in a colour per class (``<name>_overlay.png``); returns the mask files."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    colours = class_colours(classes)
    out = []
    for name, img, mask in zip(names, images, masks):
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(name).name)
        path = folder / f"{stem}_mask.png"
        Image.fromarray(mask.astype("uint8")).save(path)
        Image.fromarray(overlay(img, mask, colours)).save(folder / f"{stem}_overlay.png")
        out.append(str(path))
    return out


def class_colours(classes: int) -> np.ndarray:
    """A distinct RGB colour per class (uint8 (classes, 3)); class 0 (background) black."""
    import colorsys

    hues = [colorsys.hsv_to_rgb(i / max(1, classes - 1) * 0.85, 0.9, 1.0)
            for i in range(classes)]
    out = (np.array(hues) * 255).astype("uint8")
    out[0] = 0
    return out


def overlay(image, mask, colours, alpha: float = 0.5) -> np.ndarray:
    """``image`` (values 0-1, grey or RGB) with each non-background pixel of ``mask`` tinted
    its class's colour (a void pixel of a truth mask: white): uint8 RGB."""
    img = np.clip(np.asarray(image, "float64"), 0, 1)
    img = np.repeat(img, 3, axis=-1) if img.shape[-1] == 1 else img[..., :3]
    mask = np.asarray(mask)
    void = mask >= len(colours)  # a truth mask's VOID pixels: white
    tint = np.where(void[..., None], 1.0, colours[np.where(void, 0, mask)] / 255.0)
    fg = (mask > 0)[..., None]
    return (np.where(fg, (1 - alpha) * img + alpha * tint, img) * 255).astype("uint8")


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
