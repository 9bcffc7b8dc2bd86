"""Decoded images on disk, for image folders too big to hold in memory.

``in_memory: auto`` (the default) keeps a folder's decoded images in memory while they fit a
budget, and otherwise decodes them once into a store: one file of uint8 rows per split, in
split order, under ``$CNNTUNE_CACHE`` (default ``~/.cache/cnntune``) ``/images/<key>/``. The
key hashes every file's path, size and modification time, in split order, and the decoded
size and colour mode, so a changed folder gets a new store, and a study's trial workers, its
resumptions, exports and reports reuse it. A store can be deleted at any time; it is rebuilt
when next needed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from .images import decode_into

# an in-memory data set is held ~3 times over: by the study process, by its trial worker and
# in the worker's tf.data cache
COPIES = 3
BUDGET_SHARE = 1 / 6  # of the memory available now: room is left for workers and models
FORMAT = 1  # the store's layout; a new layout gets new keys


def available_bytes() -> int:
    """The memory available for new allocations (Linux: MemAvailable), else half of RAM."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def streams(in_memory: str, n: int, shape: tuple[int, ...]) -> bool:
    """Whether ``n`` images of ``shape`` are stored on disk rather than held in memory."""
    if in_memory in ("true", "false"):
        return in_memory == "false"
    return n * int(np.prod(shape)) * COPIES > available_bytes() * BUDGET_SHARE


def cache_root() -> Path:
    if os.environ.get("CNNTUNE_CACHE"):
        return Path(os.environ["CNNTUNE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cnntune"


class ImageStore:
    """The store of one folder's splits (``parts``: split -> files, in split order) decoded to
    ``size`` and ``mode``."""

    def __init__(self, parts: dict[str, list[Path]], size: tuple[int, int], mode: str):
        self.parts, self.size, self.mode = parts, tuple(size), mode
        h = hashlib.sha256(json.dumps([FORMAT, list(self.size), mode]).encode())
        for part, files in parts.items():
            h.update(part.encode())
            for f in files:
                st = f.stat()
                h.update(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        self.dir = cache_root() / "images" / h.hexdigest()[:20]

    @property
    def shape(self) -> tuple[int, int, int]:
        return (*self.size, 1 if self.mode == "grayscale" else 3)

    def file(self, part: str) -> str:
        return str(self.dir / f"{part}.u8")

    def open(self) -> tuple[dict[str, np.ndarray], list[dict]] | None:
        """(which files of each part were kept, the skipped files) of a built store."""
        try:
            meta = json.loads((self.dir / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        kept = {}
        row = int(np.prod(self.shape))
        for part, files in self.parts.items():
            mask = np.ones(len(files), dtype=bool)
            mask[meta["dropped"].get(part, [])] = False
            if os.path.getsize(self.file(part)) != int(mask.sum()) * row:
                return None  # cut short: built again
            kept[part] = mask
        return kept, meta["skipped"]

    def build(self, check: Callable[[dict[str, np.ndarray]], None]
              ) -> tuple[dict[str, np.ndarray], list[dict]]:
        """Decode every part into the store. ``check(kept)`` may refuse the result (raise);
        then nothing is left behind."""
        tmp = self.dir.with_name(f"{self.dir.name}.tmp-{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        try:
            kept, skipped = {}, []
            for part, files in self.parts.items():
                with open(tmp / f"{part}.u8", "wb") as f:
                    kept[part], bad = decode_into(files, self.size, self.mode,
                                                  lambda rows: f.write(rows.tobytes()))
                skipped += bad
            check(kept)
            dropped = {p: np.flatnonzero(~m).tolist() for p, m in kept.items()}
            (tmp / "meta.json").write_text(json.dumps(
                {"format": FORMAT, "size": list(self.size), "mode": self.mode,
                 "dropped": dropped, "skipped": skipped}))
            try:
                tmp.rename(self.dir)
            except OSError:  # another process built it meanwhile: use theirs
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return kept, skipped
