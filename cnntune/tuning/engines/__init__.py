"""Search engines: turn a SearchSpace into sampled params and decide what to try next.

Engines know nothing about Keras, data or MLflow; see ``_base.Engine`` for the contract.
"""

from __future__ import annotations

from ...catalog import ENGINES
from ._base import Abilities, Engine, Outcome, Sample, StudyInfo, TrialRecord


def abilities(name: str) -> Abilities:
    """What the engine called ``name`` can do, as it declares (its modules import no engine
    library at import time, so asking is cheap)."""
    from .kerastuner import KerasTunerEngine
    from .optuna import OptunaEngine

    declared = {e.abilities.name: e.abilities for e in (OptunaEngine, KerasTunerEngine)}
    assert tuple(declared) == ENGINES, "catalog.ENGINES and the engines declared here agree"
    if name not in declared:
        raise ValueError(f"unknown engine '{name}'; use one of {', '.join(ENGINES)}")
    return declared[name]


def make_engine(name: str, **kwargs) -> Engine:
    """An engine by name; keyword arguments: space, study_name, storage, algorithm, pruner
    (optuna only), seed, direction, max_steps."""
    if name == "optuna":
        from .optuna import OptunaEngine

        return OptunaEngine(**kwargs)
    if name == "kerastuner":
        from .kerastuner import KerasTunerEngine

        kwargs.pop("pruner", None)
        kwargs.pop("heartbeat", None)
        kwargs.pop("directions", None)
        return KerasTunerEngine(**kwargs)
    raise ValueError(f"unknown engine '{name}'; use one of {', '.join(ENGINES)}")


def list_studies(storage: str) -> list[dict]:
    """Every study of every engine in a storage (Optuna's database; KerasTuner's folder)."""
    from .kerastuner import study_summaries as kt_summaries

    out = []
    from ...tracking.stores import Store

    if Store.of(storage).optuna:
        from .optuna import study_summaries

        out += study_summaries(storage)
    out += kt_summaries(storage)
    return sorted(out, key=lambda s: s["study"])


__all__ = ["abilities", "Abilities", "list_studies", "Engine", "Outcome", "Sample",
           "StudyInfo", "TrialRecord", "make_engine", "ENGINES"]
