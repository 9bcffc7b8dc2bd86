"""What a search is asked to do: one ``SearchOptions``, checked once when it is made.

The CLI, ``cnntune.search()``, the estimators and the KerasTuner-style ``Tuner`` each build
one; ``study.run`` plans from it; the coordinator of several workers hands each worker a copy
(``for_worker``) as JSON, and the worker reads it back unchanged (``from_json``). The option
names are the CLI's, with ``-`` as ``_``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..tracking.stores import DEFAULT_STORAGE, DEFAULT_TRACKING_URI

AUTO = "auto"  # the space name that means: pick the space for the data (autospace)

# worker i of a study samples with seed + i * SEED_STRIDE (a prime: no two workers' streams
# line up for small i)
SEED_STRIDE = 7919


@dataclass(frozen=True)
class SearchOptions:
    """A search's options. ``space``: a YAML path, a shipped space's name, or ``auto``; ``data``
    overrides the space's. ``timeout`` counts from ``started`` (a ``time.time()``; made now
    when not given). ``sampler`` is Optuna's name for ``algorithm``: give one, or both alike.
    ``isolate=False`` trains in this process. The rest: as ``cnntune search --help`` says."""

    space: str = AUTO
    data: str | None = None
    study: str | None = None
    storage: str = DEFAULT_STORAGE
    tracking_uri: str = DEFAULT_TRACKING_URI
    trials: int | None = None
    timeout: float | None = None
    started: float | None = None
    seed: int | None = None
    engine: str | None = None
    algorithm: str | None = None
    sampler: str | None = None
    pruner: str | None = None
    epochs: int | None = None
    patience_trials: int | None = None
    warm_start: str | None = None
    warm_start_best: int = 3
    baselines: bool = False
    workers: int | None = None
    gpus: str | None = None
    trials_per_gpu: int = 1
    ray: str | None = None
    total_trials: int | None = None
    threads: int | None = None
    heartbeat: int | None = 60
    worker_index: int = 0
    isolate: bool = True
    trials_per_worker: int | None = None

    def __post_init__(self):
        set_ = object.__setattr__  # frozen: normalised here, once
        set_(self, "space", AUTO if self.space is None else str(self.space))
        if self.data is not None:
            set_(self, "data", str(self.data))
        if self.started is None:
            set_(self, "started", time.time())
        if self.algorithm is not None and self.sampler is not None and \
                self.algorithm != self.sampler:
            raise ConfigError(f"--algorithm {self.algorithm} and --sampler {self.sampler} "
                              "disagree; give one")
        for name in ("trials", "epochs", "workers", "threads", "total_trials",
                     "warm_start_best", "trials_per_gpu", "trials_per_worker"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        if self.patience_trials is not None and self.patience_trials < 1:
            raise ConfigError(f"--patience-trials must be >= 1, got {self.patience_trials}; it "
                              "is how many trials in a row may fail to beat the best before "
                              "the search stops")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError(f"--timeout must be > 0 seconds, got {self.timeout:g}")

    @property
    def chosen_algorithm(self) -> str | None:
        """The algorithm asked for, by either name (None: the space's)."""
        return self.algorithm or self.sampler

    @property
    def auto(self) -> bool:
        return self.space == AUTO

    def replace(self, **changes) -> SearchOptions:
        return dataclasses.replace(self, **changes)

    def for_worker(self, index: int) -> SearchOptions:
        """Worker ``index`` of several on one study: paths absolute (it may start in another
        folder, on another node), one worker each, pinned by its environment."""
        from ..space import resolve_space_path
        from ..tracking.stores import absolute_store

        given = None if self.data is None else Path(self.data)
        return self.replace(
            space=AUTO if self.auto else str(resolve_space_path(self.space).resolve()),
            data=None if given is None else str(given.resolve() if given.exists() else given),
            storage=absolute_store(self.storage), tracking_uri=absolute_store(self.tracking_uri),
            workers=1, ray=None, gpus=None, trials_per_gpu=1, worker_index=index, warm_start=None,
            patience_trials=None, baselines=False)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SearchOptions:
        return cls(**json.loads(text))
