"""A validated space (``SearchSpace``): its params, settings, objectives, fingerprint and the
order params are sampled in.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


from ..catalog import (ALL_OBJECTIVES, OBJECTIVES)
from ..errors import SpaceError
from .params import FloatParam, IntParam
from .schema import DataSettings, ModelSettings, SearchSettings, SpaceFile, TrainingSettings


class SearchSpace:
    """A validated search space: the params in sampling order plus the fixed settings."""

    def __init__(self, spec: SpaceFile, source: str, text: str, base_dir: Path):
        self.spec = spec
        self.source = source  # the file name, used in messages
        self.text = text  # the file as written, logged with the study
        self.base_dir = base_dir  # relative data paths resolve against the file's folder
        self.params: dict[str, Any] = spec.params
        self.order: list[str] = _sampling_order(spec.params, source)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def task(self):
        """The ``tasks.Task`` the study learns."""
        from ..tasks import task

        return task(self.spec.task)

    @property
    def data(self) -> DataSettings:
        return self.spec.data

    @property
    def own_model(self) -> ModelSettings | None:
        """The user's own model (a builder or a KerasTuner hypermodel), or None: cnntune's
        families."""
        return self.spec.model

    @property
    def training(self) -> TrainingSettings:
        return self.spec.training

    @property
    def search(self) -> SearchSettings:
        return self.spec.search

    @property
    def objectives(self) -> list[str]:
        """The study's objectives, primary first (one unless the space lists several)."""
        return list(self.spec.objectives or
                    [self.training.objective or self.task.default_objective])

    @property
    def directions(self) -> list[str]:
        return [ALL_OBJECTIVES[o] for o in self.objectives]

    @property
    def multi(self) -> bool:
        return len(self.objectives) > 1

    @property
    def measures_latency(self) -> bool:
        """Whether trials must measure latency and size (an objective or constraint asks)."""
        wanted = set(self.objectives) | set(self.spec.constraints.limits())
        return bool(wanted & {"latency_ms", "size_mb"})

    @property
    def direction(self) -> str:
        return OBJECTIVES[self.primary]

    @property
    def primary(self) -> str:
        return self.objectives[0]

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]

    def is_active(self, name: str, values: dict[str, Any]) -> bool:
        """Whether param ``name`` applies, given the values sampled so far (in sampling order)."""
        when = self.params[name].when
        if not when:
            return True
        for parent, wanted in when.items():
            if parent not in values:  # the parent itself is inactive
                return False
            allowed = wanted if isinstance(wanted, list) else [wanted]
            if values[parent] not in allowed:
                return False
        return True

    def project(self, config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """``config`` (knob -> value) moved into this space: each active param it names is
        snapped to the nearest value the param can take; params it does not name are left
        to the sampler. Returns (params, the names of ``config`` that did not fit)."""
        out: dict[str, Any] = {}
        for name in self.order:
            if name in config and self.is_active(name, out):
                value = self.params[name].nearest(config[name])
                if value is not None:
                    out[name] = value
        return out, sorted(k for k in config if k not in out)

    def start_from(self) -> list[dict[str, Any]] | None:
        """The space's own ``start_from`` entries (None: "auto", cnntune's known-good
        configurations of its families; a user's builder has none)."""
        entries = self.spec.start_from
        if entries == "auto":
            return [] if self.own_model else None
        return [dict(e) for e in entries]

    def grid(self) -> dict[str, list]:
        """Every param's finite list of values, for the grid sampler."""
        out = {}
        for name in self.order:
            try:
                out[name] = self.params[name].grid()
            except ValueError as exc:
                raise SpaceError(f"space '{self.source}', param '{name}': {exc}") from None
        return out

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, domain, condition) rows for `cnntune space show`."""
        rows = []
        for name in self.order:
            p = self.params[name]
            cond = " and ".join(f"{k} in {', '.join(map(str, v))}" if isinstance(v, list)
                                  else f"{k} = {v}"
                                for k, v in (p.when or {}).items())
            rows.append((name, p.domain(), cond))
        return rows


def _sampling_order(params: dict[str, Any], source: str) -> list[str]:
    """Params in file order, moved where needed so that each comes after what its `when` names."""
    for name, p in params.items():
        for parent, wanted in (p.when or {}).items():
            if parent == name:
                raise SpaceError(f"space '{source}', param '{name}': 'when' names the param "
                                 "itself; name another param")
            if parent not in params:
                raise SpaceError(f"space '{source}', param '{name}': 'when' names unknown param "
                                 f"'{parent}'; declare it or fix the name")
            possible = params[parent].grid() if not isinstance(
                params[parent], IntParam | FloatParam) else None
            for w in wanted if isinstance(wanted, list) else [wanted]:
                if possible is not None and w not in possible:
                    raise SpaceError(f"space '{source}', param '{name}': 'when' wants "
                                     f"{parent}={w!r}, which '{parent}' never takes "
                                     f"(it takes {possible}); fix the value")
    order: list[str] = []
    visiting: set[str] = set()

    def visit(n: str) -> None:
        if n in order:
            return
        if n in visiting:
            raise SpaceError(f"space '{source}', param '{n}': its 'when' conditions form a "
                             "cycle; break it")
        visiting.add(n)
        for parent in (params[n].when or {}):
            visit(parent)
        visiting.discard(n)
        order.append(n)

    for n in params:
        visit(n)
    return order
