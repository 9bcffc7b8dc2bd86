"""The one way in: a source (and its settings) -> a split Dataset; and back from the
description a study keeps of its data (``describe`` -> ``load_described``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import tasks
from ..catalog import IN_MEMORY
from ..errors import DataError
from .dataset import Dataset, Split, StoredSplit
from .registry import source_for, source_named
from .images import Listing, decode_array, image_format, list_images, list_masked, resize_masks
from .splits import PARTS, assemble, split
from .store import ImageStore, streams


def load_dataset(source: str | None, path: str | Path | None, *, val_fraction: float,
                 test_fraction: float, seed: int, image_size=None, color_mode=None,
                 base_dir: Path | None = None, kind: str | None = None,
                 label_column: str | list[str] = "label", channels: int = 1,
                 labels: str | None = None, file_column: str = "file", in_memory: str = "auto",
                 task: str | None = None, min_labels: int = 0,
                 masks: str | None = None) -> Dataset:
    """Load a source and split it. ``source`` None means: infer from ``path`` (or digits);
    ``task`` None: the embedded set's own task, else classification; ``min_labels``: the
    labels each example of multi-label data must have at least."""
    path = _resolve(path, base_dir)
    src = source_for(path, kind) if source is None else source_named(source)
    source, own = src.name, src.task
    if own is not None and task is not None and task != own:
        raise DataError(f"data '{source}' is a {own} set and the space's task is {task}; give "
                        f"{task} data (--data) or set task: {own}")
    try:
        learn = tasks.task(own or task).configured(min_labels=min_labels)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    in_memory = {True: "true", False: "false"}.get(in_memory, str(in_memory))  # YAML's bools
    if in_memory not in IN_MEMORY:
        raise DataError(f"data.in_memory is {in_memory!r}; use {', '.join(IN_MEMORY)}")
    labels_path = None
    if labels is not None:
        labels_path = _existing(_resolve(labels, base_dir), "labels csv")
        if not src.folder or not path.is_dir():
            raise DataError(f"data.labels '{labels}' labels the images of a folder; give "
                            "data.path (or --data) an image folder")
    masks_path = None
    if masks is not None or learn.per_pixel and src.folder:
        if not learn.per_pixel:
            raise DataError(f"data.masks labels pixels, and the space's task is {learn.name}; "
                            "set task: segmentation or drop data.masks")
        if masks is None:
            raise DataError(f"image folder '{path}': a segmentation needs a mask per image; "
                            "set data.masks to the folder of mask PNGs named as the images")
        masks_path = _existing(_resolve(masks, base_dir), "mask folder")
        if not src.folder or not path.is_dir():
            raise DataError(f"data.masks '{masks}' labels the images of a folder; give "
                            "data.path (or --data) an image folder")
    fractions = dict(val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    meta: dict = {}
    if src.folder:
        listing = (list_masked(_existing(path, "image folder"), masks_path, learn)
                   if masks_path else
                   list_images(_existing(path, "image folder"), labels_path, file_column,
                               label_column, learn))
        splits, origin, meta = _image_splits(listing, image_size, color_mode, in_memory,
                                             fractions, learn)
        names, scale, name, data_kind = listing.names, 1.0 / 255.0, listing.name, "image"
    else:
        got = src.arrays(_existing(path, f"{src.name} file") if src.needs_path else None,
                         kind=kind, label_column=label_column, channels=channels, task=learn)
        parts, names, scale, name, data_kind = got.parts, got.names, got.scale, got.name, \
            got.kind
        places, origin = _place({p: learn.strata(y) for p, (_, y) in parts.items()},
                                fractions, name)
        splits = {part: Split(parts[src][0][idx], parts[src][1][idx])
                  for part, (src, idx) in places.items()}
    if kind is not None and kind != data_kind:
        raise DataError(f"data '{name}' holds {data_kind}s but the space says kind: {kind}; "
                        f"give {kind} data or change data.kind")
    load = {"source": source, "path": str(Path(path).resolve()) if path else None,
            "kind": data_kind, "image_size": list(image_size) if image_size else None,
            "color_mode": color_mode, "label_column": label_column, "channels": channels,
            "labels": str(labels_path.resolve()) if labels_path else None,
            "masks": str(masks_path.resolve()) if masks_path else None,
            "file_column": file_column, "in_memory": in_memory, "task": learn.name,
            "min_labels": min_labels,
            "val_fraction": val_fraction, "test_fraction": test_fraction, "seed": seed}
    return Dataset(name=name, train=splits["train"], val=splits["val"], test=splits["test"],
                   class_names=names, scale=scale,
                   meta={"source": source, "path": str(path) if path else None,
                         "n": sum(len(s) for s in splits.values()), "load": load,
                         "splits": origin, **meta},
                   kind=data_kind, task=learn)


def _place(labels: dict[str, np.ndarray], fractions: dict, name: str):
    """Where each of train, val and test comes from: split -> (source part, indices into
    it), and a description of each. A source that brings only train is split three ways;
    one that brings more keeps it and splits what is missing from its train part."""
    if set(labels) == {"train"}:
        idx = split(labels["train"], name=name, **fractions)
        return {p: ("train", idx[p]) for p in PARTS}, {p: "split" for p in PARTS}
    taken, origin = assemble(labels["train"], set(labels) - {"train"}, name=name, **fractions)
    places = {p: ("train", i) for p, i in taken.items()}
    for p in PARTS:
        if p not in places:
            places[p] = (p, np.arange(len(labels[p])))
    return places, origin


def _image_splits(listing: Listing, image_size, color_mode, in_memory: str, fractions, task):
    """Decode an image listing's splits: into memory, or into a store on disk when they do
    not fit (``store.streams``). Unreadable files are left out and reported."""
    places, origin = _place({p: task.strata(y) for p, (_, y) in listing.parts.items()},
                            fractions, listing.name)
    files = {p: [listing.parts[src][0][i] for i in idx] for p, (src, idx) in places.items()}
    labels = {p: listing.parts[src][1][idx] for p, (src, idx) in places.items()}
    size, mode = image_format([f for p in PARTS for f in files[p]], image_size, color_mode)
    if task.per_pixel:  # masks to the size the images are decoded to (nearest neighbour)
        labels = {p: resize_masks(m, size) for p, m in labels.items()}
    shape = (*size, 1 if mode == "grayscale" else 3)
    n = sum(len(f) for f in files.values())

    def check(kept: dict[str, np.ndarray]) -> None:
        if not task.classes:
            return
        counts = np.bincount(labels["train"][kept["train"]], minlength=len(listing.names))
        if counts.min() == 0:
            c = listing.names[int(counts.argmin())]
            raise DataError(f"data '{listing.name}': no image of class '{c}' in its training "
                            "part can be read; replace the broken files or remove the class")

    if streams(in_memory, n, shape):
        store = ImageStore(files, size, mode)
        kept, skipped = store.open() or store.build(check)
        splits = {p: StoredSplit(labels[p][kept[p]], (store.file(p),), (int(kept[p].sum()),),
                                 shape) for p in PARTS}
        storage = f"stored in {store.dir}"
    else:
        splits, kept, skipped = {}, {}, []
        for p in PARTS:
            images, kept[p], bad = decode_array(files[p], size, mode)
            skipped += bad
            splits[p] = Split(images, labels[p][kept[p]])
        check(kept)
        storage = "in memory"
    return splits, origin, {"skipped": skipped, "storage": storage}


def describe(ds: Dataset) -> dict:
    """Everything needed to load ``ds`` again and check it is the same (``data.json`` of a
    study's MLflow run): the load arguments, fingerprint, classes, input shape and dtype, the
    preprocessing a model applies, and the files left out as unreadable."""
    return {**ds.meta["load"], "name": ds.name, "fingerprint": ds.fingerprint,
            "class_names": ds.class_names, "input_shape": list(ds.input_shape),
            "dtype": ds.train.dtype, "prep": ds.prep, "skipped": ds.skipped}


def load_described(spec: dict) -> Dataset:
    """Load the data a ``describe()`` dict names; DataError when it is gone or has changed."""
    ds = load_dataset(spec["source"], spec["path"], val_fraction=spec["val_fraction"],
                      test_fraction=spec["test_fraction"], seed=spec["seed"],
                      image_size=spec.get("image_size"), color_mode=spec.get("color_mode"),
                      kind=spec.get("kind"), label_column=spec.get("label_column", "label"),
                      channels=spec.get("channels", 1), labels=spec.get("labels"),
                      file_column=spec.get("file_column", "file"),
                      in_memory=spec.get("in_memory", "auto"), task=spec.get("task"),
                      min_labels=spec.get("min_labels", 0), masks=spec.get("masks"))
    if ds.fingerprint != spec["fingerprint"]:
        raise DataError(f"data '{spec['name']}' has changed since the study ran on it "
                        f"(fingerprint {ds.fingerprint}, was {spec['fingerprint']}); restore it "
                        "or run a new study")
    return ds


def _resolve(path, base_dir: Path | None) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    if not p.is_absolute() and base_dir is not None and not p.exists():
        p = base_dir / p
    return p


def _existing(path: Path | None, what: str) -> Path:
    if path is None:
        raise DataError(f"no {what} given; pass --data PATH or set data.path in the space")
    if not path.exists():
        raise DataError(f"{what} '{path}' does not exist; check the path")
    return path
