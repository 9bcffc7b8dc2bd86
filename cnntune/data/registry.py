"""The data sources, one class each, keyed by ``catalog.DATA_SOURCES``' names: the embedded
sets (each for its task), .npz arrays, CSV sequences and image folders. Each says what a path
of it looks like, whether it needs one, and reads its arrays; ``load.load_dataset`` splits what
they read.

    source_named("npz").arrays(path, ...)   # -> Arrays
    source_for(Path("x.csv"))               # the source a path is read as
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np

from ..catalog import DATA_SOURCES, EMBEDDED, FILE_SOURCES
from ..errors import DataError
from . import sources


@dataclass
class Arrays:
    """What an array source read: split -> (x, y) (``train`` alone, or given splits), the
    class (or target) names, the pixel scale, the data's name and kind."""

    parts: dict[str, tuple[np.ndarray, np.ndarray]]
    names: list[str]
    scale: float
    name: str
    kind: str  # image or sequence


class Source:
    """One data source. ``task``: an embedded set's own task (None: the space's);
    ``suffix``: a file of this source (None: no file, or a folder); ``folder``: its path is an
    image folder (read by ``images``, not as arrays)."""

    name: ClassVar[str]
    task: ClassVar[str | None] = None
    suffix: ClassVar[str | None] = None
    folder: ClassVar[bool] = False

    @property
    def needs_path(self) -> bool:
        return self.name in FILE_SOURCES

    def arrays(self, path: Path | None, *, kind: str | None, label_column, channels: int,
               task) -> Arrays:
        raise NotImplementedError


class Embedded(Source):
    """A set made or shipped in the package: no path, read in seconds, offline."""

    make: ClassVar[Callable]
    data_kind: ClassVar[str] = "image"

    def arrays(self, path, *, kind, label_column, channels, task) -> Arrays:
        x, y, names, scale, name = type(self).make()
        return Arrays({"train": (x, y)}, names, scale, name, self.data_kind)


class Generated(Embedded):
    """A generated image set for a task other than classification: its targets pass the
    task's own checks and rules, as a user's would."""

    def arrays(self, path, *, kind, label_column, channels, task) -> Arrays:
        got = super().arrays(path, kind=kind, label_column=label_column, channels=channels,
                             task=task)
        x, y = got.parts["train"]
        y, got.names = task.targets(y, f"data '{self.name}'", got.names)
        got.parts["train"] = (x, y)
        return got


class Digits(Embedded):
    name, task, make = "digits", EMBEDDED["digits"], staticmethod(sources.load_digits)


class Waveforms(Embedded):
    name, task, make = "waveforms", EMBEDDED["waveforms"], staticmethod(sources.make_waveforms)
    data_kind = "sequence"


class Discs(Generated):
    name, task, make = "discs", EMBEDDED["discs"], staticmethod(sources.make_discs)


class Tags(Generated):
    name, task, make = "tags", EMBEDDED["tags"], staticmethod(sources.make_tags)


class Scenes(Generated):
    name, task, make = "scenes", EMBEDDED["scenes"], staticmethod(sources.make_scenes)


class Npz(Source):
    name, suffix = "npz", ".npz"

    def arrays(self, path, *, kind, label_column, channels, task) -> Arrays:
        sequence = kind == "sequence"
        if sources.npz_has_splits(path):
            parts, names, scale, name = sources.load_npz_splits(path, sequence=sequence,
                                                                task=task)
            return Arrays(parts, names, scale, name, kind or "image")
        x, y, names, scale, name = sources.load_npz(path, sequence=sequence, task=task)
        return Arrays({"train": (x, y)}, names, scale, name,
                      "sequence" if sequence else "image")


class Csv(Source):
    name, suffix = "csv", ".csv"

    def arrays(self, path, *, kind, label_column, channels, task) -> Arrays:
        x, y, names, scale, name = sources.load_csv(path, label_column, channels, task)
        return Arrays({"train": (x, y)}, names, scale, name, "sequence")


class Folder(Source):
    name, folder = "folder", True


SOURCES: dict[str, Source] = {s.name: s() for s in (Digits, Waveforms, Discs, Tags, Scenes,
                                                     Npz, Csv, Folder)}
if tuple(SOURCES) != DATA_SOURCES:  # the catalog names them; each has its class here
    raise ImportError(f"data sources {tuple(SOURCES)} != catalog.DATA_SOURCES {DATA_SOURCES}")


def source_named(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise DataError(f"data source '{name}' is unknown; use {', '.join(SOURCES)}") from None


def source_for(path: Path | None, kind: str | None = None) -> Source:
    """The source ``path`` is read as (by its suffix; anything else is an image folder), or
    without a path the embedded set for ``kind``."""
    if path is None:
        return SOURCES["waveforms" if kind == "sequence" else "digits"]
    for s in SOURCES.values():
        if s.suffix is not None and path.suffix == s.suffix:
            return s
    return SOURCES["folder"]
