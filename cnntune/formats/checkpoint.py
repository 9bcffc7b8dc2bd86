"""A running trial's best weights, kept on disk where the study process finds them after the
trial's worker was killed at the deadline (``Budget.kill_at``): written by the worker at each
improvement of the objective, read by the runner (which check, what it measured), logged to the
trial's MLflow run under ``checkpoint/``, and loaded back as a Keras model by export, report,
explain and best.

A folder of two files: ``model.json`` (the architecture, Keras' ``to_json``, written once a
trial) and ``weights.npz`` (the weights in ``model.weights`` order, and ``meta``: the check's
number and logs). The weights file is replaced atomically, so a reader never sees half of one.
It is written in a thread, from the copy early stopping already took (``best_weights``), so
training does not wait on the disk.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ARCHITECTURE = "model.json"
WEIGHTS = "weights.npz"
ARTIFACT_PATH = "checkpoint"  # where a trial's MLflow run keeps it


class Keeper:
    """Writes the best weights of one trial into ``folder`` as they improve."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._thread: threading.Thread | None = None
        self._architecture = False
        self._params = 0
        self.error: str | None = None  # the last write's failure, if any (the trial goes on)

    def keep(self, model, weights: list, check: int, logs: dict[str, float],
             extra: dict[str, Any] | None = None) -> None:
        """Keep ``weights`` (a list of arrays in ``model.weights`` order, not changed later)
        as the weights of ``check`` (1-based), which measured ``logs``."""
        self.wait()
        if not self._architecture:
            self.folder.mkdir(parents=True, exist_ok=True)
            _replace(self.folder / ARCHITECTURE, model.to_json().encode())
            self._architecture = True
            self._params = int(model.count_params())
        meta = {"check": int(check), "logs": {k: float(v) for k, v in logs.items()},
                "n_params": self._params, **(extra or {})}
        self._thread = threading.Thread(target=self._write, args=(weights, meta),
                                        name="cnntune-keep", daemon=True)
        self._thread.start()

    def _write(self, weights: list, meta: dict) -> None:
        import io

        import numpy as np

        try:
            buf = io.BytesIO()
            np.savez(buf, meta=np.array(json.dumps(meta)),
                     **{f"w{i}": np.asarray(w) for i, w in enumerate(weights)})
            _replace(self.folder / WEIGHTS, buf.getvalue())
        except Exception as exc:  # a full disk must not fail the trial; the kill would
            self.error = f"{type(exc).__name__}: {exc}"

    def wait(self) -> None:
        """Until the last weights handed to ``keep`` are on disk."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


@dataclass
class Kept:
    """What a folder holds: the weights of check ``check`` (1-based), which measured
    ``logs``."""

    folder: Path
    check: int
    logs: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def read(folder: str | Path | None) -> Kept | None:
    """The checkpoint in ``folder``, or None when there is none (no check ended)."""
    if folder is None:
        return None
    folder = Path(folder)
    if not (folder / ARCHITECTURE).is_file() or not (folder / WEIGHTS).is_file():
        return None
    import numpy as np

    try:
        with np.load(folder / WEIGHTS) as npz:
            meta = json.loads(str(npz["meta"]))
    except (OSError, ValueError, KeyError):
        return None
    return Kept(folder, int(meta.pop("check")), meta.pop("logs", {}), meta)


def load_model(folder: str | Path):
    """The Keras model a checkpoint folder holds (architecture and weights), uncompiled."""
    import keras
    import numpy as np

    folder = Path(folder)
    model = keras.models.model_from_json((folder / ARCHITECTURE).read_text())
    with np.load(folder / WEIGHTS) as npz:
        n = sum(1 for k in npz.files if k.startswith("w"))
        model.set_weights([npz[f"w{i}"] for i in range(n)])
    return model
