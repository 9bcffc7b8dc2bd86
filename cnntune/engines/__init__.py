"""Search engines: turn a SearchSpace into sampled params and decide what to try next.

Engines know nothing about Keras, data or MLflow; see ``_base.Engine`` for the contract.
"""

from __future__ import annotations

from ._base import Engine, Outcome, Sample, StudyInfo, TrialRecord

ENGINES = ("optuna",)


def make_engine(name: str, **kwargs) -> Engine:
    if name == "optuna":
        from .optuna import OptunaEngine

        return OptunaEngine(**kwargs)
    raise ValueError(f"unknown engine '{name}'; use one of {', '.join(ENGINES)}")


__all__ = ["Engine", "Outcome", "Sample", "StudyInfo", "TrialRecord", "make_engine", "ENGINES"]
