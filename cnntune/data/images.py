"""Image folders: which files, with which labels (class folders, split folders, a labels
CSV), and decoding them: EXIF orientation, grayscale, RGB, alpha and 16-bit images, resized
to one size; files that cannot be decoded are skipped and reported, not fatal."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..tasks import CLASSIFICATION
from .splits import SPLIT_NAMES

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
DECODE_BATCH = 256  # files decoded at a time (in parallel threads)


@dataclass
class Listing:
    """An image source before decoding: each part's files and labels (indices into
    ``names``), the class names, and the data set's name."""

    parts: dict[str, tuple[list[Path], np.ndarray]]
    names: list[str]
    name: str


def list_images(path: Path, labels: Path | None = None, file_column: str = "file",
                label_column: str | list[str] = "label", task=CLASSIFICATION) -> Listing:
    """The files of an image folder: class folders, split folders (``train/`` with ``val/``,
    ``validation/`` or ``test/``, each of class folders) or a flat folder labelled by a CSV
    (the only way a regression's folder is labelled)."""
    if not path.is_dir():
        raise DataError(f"image folder '{path}' is a file; give a folder with one sub-folder "
                        "per class")
    if labels is not None:
        return _list_labelled(path, labels, file_column, label_column, task)
    if not task.classes:
        raise DataError(f"image folder '{path}': its sub-folders name classes, and task "
                        f"{task.name} needs a {task.output_word} per image; give a labels CSV "
                        "(data.labels) with a file column and the value column(s)")
    dirs = split_dirs(path)
    if dirs is None:
        files, y, names = _list_classes(path)
        return Listing({"train": (files, y)}, names, path.name)
    return _list_split_folders(path, dirs)


def split_dirs(path: Path) -> dict[str, Path] | None:
    """An image folder's split sub-folders, or None when it holds class folders only: it
    brings splits when it has ``train/`` and ``val/``, ``validation/`` or ``test/``."""
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


def _class_dirs(path: Path) -> list[Path]:
    return sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))


def _list_classes(path: Path, *, min_classes: int = 2, where: str | None = None):
    where = where or f"image folder '{path}'"
    class_dirs = _class_dirs(path)
    if len(class_dirs) < min_classes:
        raise DataError(f"{where}: found {len(class_dirs)} class sub-folder(s); a classifier "
                        "needs at least 2 (one sub-folder per class)")
    files, labels = [], []
    for i, d in enumerate(class_dirs):
        imgs = sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not imgs:
            raise DataError(f"{where}: class '{d.name}' has no images "
                            f"({', '.join(sorted(IMAGE_SUFFIXES))}); add some or remove it")
        files += imgs
        labels += [i] * len(imgs)
    return files, np.array(labels, dtype="int64"), [d.name for d in class_dirs]


def _list_split_folders(path: Path, dirs: dict[str, Path]) -> Listing:
    """Each split folder's class folders, labelled by train's classes."""
    names = [d.name for d in _class_dirs(dirs["train"])]
    for folder in dirs.values():
        extra = [d.name for d in _class_dirs(folder) if d.name not in names]
        if extra:
            raise DataError(f"image folder '{path}': class '{extra[0]}' is in {folder.name}/ "
                            f"but not in train/; add train/{extra[0]}/ with images, or remove "
                            f"{folder.name}/{extra[0]}/")
    parts = {}
    for part, folder in dirs.items():
        files, y, found = _list_classes(folder, min_classes=2 if part == "train" else 1,
                                        where=f"image folder '{folder}'")
        parts[part] = (files, np.array([names.index(found[i]) for i in y], dtype="int64"))
    return Listing(parts, names, path.name)


def _list_labelled(path: Path, labels: Path, file_column: str, label_column: str | list[str],
                   task) -> Listing:
    """A flat image folder labelled by a CSV: one row per image, its file name (relative to
    the folder) and its label (a regression: its value in each value column). Every row must
    name an image there, and every image there must have a row."""
    import csv

    from .sources import label_columns

    where = f"labels csv '{labels}'"
    targets = label_columns(label_column, task, where)
    with open(labels, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        for col, key in ((file_column, "file_column"), *((c, "label_column") for c in targets)):
            if col not in columns:
                raise DataError(f"{where}: no column '{col}' (columns: {', '.join(columns)}); "
                                f"set data.{key}")
        rows = [(line, r[file_column].strip(), [(r[c] or "").strip() for c in targets])
                for line, r in enumerate(reader, start=2)]
    seen: dict[str, int] = {}
    for line, name, label in rows:
        if name in seen:
            raise DataError(f"{where}, row {line}: file '{name}' is listed again (first on "
                            f"row {seen[name]}); keep one row per image")
        seen[name] = line
        # a blank label set is the empty set; a blank 0/1 column is a missing value
        if not all(label) and not (task.sets and len(targets) == 1):
            raise DataError(f"{where}, row {line}: file '{name}' has no "
                            f"{'label' if task.classes else 'value'} in column "
                            f"'{targets[[bool(v) for v in label].index(False)]}'; fill it in "
                            "or drop the row")
        if not (path / name).is_file():
            raise DataError(f"{where}, row {line}: file '{name}' is not in '{path}'; fix the "
                            "name or drop the row")
    unlisted = sorted(f.name for f in path.iterdir()
                      if f.suffix.lower() in IMAGE_SUFFIXES and f.name not in seen)
    if unlisted:
        raise DataError(f"{where}: {len(unlisted)} image(s) in '{path}' have no row, such as "
                        f"'{unlisted[0]}'; add rows for them or move them out")
    raw = np.array([label for _, _, label in rows])
    y, names = task.targets(raw, f"{where}, column '{', '.join(targets)}'", columns=targets,
                            first_row=2)
    return Listing({"train": ([path / name for _, name, _ in rows], y)}, names, path.name)


def list_masked(path: Path, masks: Path, task) -> Listing:
    """A flat image folder and a folder of masks, one per image with the same file stem (a
    mask is a single-channel PNG of class indices, the size of its image): the images, and
    their masks decoded, as the targets."""
    from PIL import Image

    images = sorted(f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DataError(f"image folder '{path}' holds no images "
                        f"({', '.join(sorted(IMAGE_SUFFIXES))}); give another")
    found = {f.stem: f for f in masks.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES}
    orphans = sorted(set(found) - {f.stem for f in images})
    if orphans:
        raise DataError(f"mask folder '{masks}': mask '{found[orphans[0]].name}' has no image "
                        f"in '{path}'; remove it or add the image")
    out = []
    for f in images:
        m = found.get(f.stem)
        if m is None:
            raise DataError(f"image '{f}' has no mask in '{masks}' (looked for "
                            f"'{f.stem}.png'); add one or move the image out")
        try:
            with Image.open(m) as im:
                if im.mode not in ("L", "P", "I", "I;16", "1"):
                    raise DataError(f"mask '{m}' is {im.mode}, not a single-channel image of "
                                    "class indices; save it as a grey or palette PNG")
                mask = np.asarray(im).astype("int64")
            with Image.open(f) as im:
                shape = _oriented_size(im)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"mask '{m}' or image '{f}' cannot be read ({exc}); replace it") \
                from None
        if tuple(mask.shape) != tuple(shape):
            raise DataError(f"mask '{m}' is {mask.shape[0]}x{mask.shape[1]} and its image "
                            f"'{f.name}' {shape[0]}x{shape[1]}; a mask must be the size of its "
                            "image")
        out.append(mask)
    sizes = {m.shape for m in out}
    y = np.stack(out) if len(sizes) == 1 else np.array(out, dtype=object)
    if y.dtype == object:  # masks of several sizes: resized with their images later
        size = out[0].shape
        y = np.stack([resize_masks(m[None], size)[0] for m in out])
    y, names = task.targets(y, f"mask folder '{masks}'")
    return Listing({"train": (images, y)}, names, path.name)


def resize_masks(masks: np.ndarray, size) -> np.ndarray:
    """Masks (n, h, w) resized to ``size`` (height, width) by nearest neighbour."""
    from PIL import Image

    masks = np.asarray(masks)
    if tuple(masks.shape[1:3]) == tuple(size):
        return masks
    return np.stack([np.asarray(Image.fromarray(m.astype("uint8")).resize(
        (size[1], size[0]), Image.NEAREST)) for m in masks]).astype(masks.dtype)


# ---------------------------------------------------------------------------- decoding


def image_format(files: list[Path], image_size, color_mode) -> tuple[tuple[int, int], str]:
    """The (height, width) and colour mode every image is decoded to: as given, else the
    first readable image's size, and ``rgb`` when any image has colour (read from the file
    headers only), else ``grayscale``."""
    from PIL import Image

    size = tuple(image_size) if image_size else None
    mode = color_mode
    for f in files:
        if size is not None and mode is not None:
            break
        try:
            with Image.open(f) as im:
                if size is None:
                    size = _oriented_size(im)
                if mode is None and im.mode not in GRAY_MODES:
                    mode = "rgb"
        except Exception:  # unreadable: the decoding pass skips and reports it
            continue
    if size is None:
        raise DataError(f"none of the {len(files)} images under '{files[0].parent.parent}' can "
                        "be read; check the files")
    return size, mode or "grayscale"


def _oriented_size(im) -> tuple[int, int]:
    """(height, width) as shown: EXIF orientations 5-8 turn the image by 90 degrees."""
    try:
        turned = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:
        turned = False
    return (im.width, im.height) if turned else (im.height, im.width)


def decode_one(path: Path, size: tuple[int, int], mode: str) -> np.ndarray:
    """One image as uint8 (height, width, 1 or 3): turned upright as its EXIF says, 16-bit
    values scaled to 8 bits, transparency over black, resized (bilinear) to ``size``."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode in ("I", "F") or im.mode.startswith("I;16"):
            wide = np.asarray(im, dtype="float64")
            if im.mode.startswith("I;16"):
                top = 65535.0
            elif im.mode == "F" and wide.max() <= 1.0:
                top = 1.0
            else:
                top = 65535.0 if wide.max() > 255 else 255.0
            im = Image.fromarray(np.clip(wide * (255.0 / top), 0, 255).round().astype("uint8"))
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
            im = Image.alpha_composite(black, rgba)
        im = im.convert("L" if mode == "grayscale" else "RGB")
        if (im.height, im.width) != tuple(size):
            im = im.resize((size[1], size[0]), Image.BILINEAR)
        arr = np.asarray(im, dtype="uint8")
    return arr[..., None] if arr.ndim == 2 else arr


def decode_into(files: list[Path], size: tuple[int, int], mode: str, write
                ) -> tuple[np.ndarray, list[dict]]:
    """Decode ``files`` in parallel threads (PIL releases the interpreter lock while it
    decodes), calling ``write(rows)`` with each batch of decoded images, in order. Returns
    which files were kept (a boolean mask) and those skipped: {file, error}."""
    kept = np.ones(len(files), dtype=bool)
    skipped = []

    def one(f):
        try:
            return decode_one(f, size, mode)
        except Exception as exc:  # PIL raises many kinds for a bad file
            return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for start in range(0, len(files), DECODE_BATCH):
            batch = files[start:start + DECODE_BATCH]
            good = []
            for k, out in enumerate(pool.map(one, batch)):
                if isinstance(out, str):
                    kept[start + k] = False
                    skipped.append({"file": str(batch[k]), "error": out})
                else:
                    good.append(out)
            if good:
                write(np.stack(good))
    return kept, skipped


def decode_array(files: list[Path], size: tuple[int, int], mode: str
                 ) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """``decode_into`` an array: (the decoded images, which files were kept, the skipped)."""
    out = np.empty((len(files), *size, 1 if mode == "grayscale" else 3), "uint8")
    filled = 0

    def write(rows):
        nonlocal filled
        out[filled:filled + len(rows)] = rows
        filled += len(rows)

    kept, skipped = decode_into(files, size, mode, write)
    return (out if filled == len(out) else out[:filled].copy()), kept, skipped


def decode_images(files: list[Path], image_size, color_mode) -> np.ndarray:
    """Decode every file (to a common size and mode, as ``image_format`` picks them); a file
    that cannot be decoded is an error here (``predict``'s inputs)."""
    images, _, skipped = decode_array(files, *image_format(files, image_size, color_mode))
    if skipped:
        bad = skipped[0]
        raise DataError(f"image '{bad['file']}' cannot be decoded ({bad['error']}); remove "
                        "or replace it")
    return images
