"""What travels between the study process and a trial worker, over its pipes (pickled).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..data import Dataset
from .trial import TrialResult, TrialSettings


# -- the worker protocol: what travels over the pipes (pickled) ----------------------------
# study -> worker: Init once, then Run / LogModel / Release in any order, Exit last; the
# answer to a Report is a plain bool (should the trial stop?)


@dataclass(frozen=True)
class Init:
    dataset: Dataset
    settings: TrialSettings
    tracking_uri: str


@dataclass(frozen=True)
class Run:
    number: int
    params: dict
    steps: int | None  # the trial's budget of checks when the algorithm sets one
    checkpoint: str | None = None  # the folder it keeps its best weights in


@dataclass(frozen=True)
class LogModel:
    run_id: str
    example: Any  # a few inputs, for the logged model's signature


@dataclass(frozen=True)
class Release:  # unanswered: drop the last model and release the session now
    pass


@dataclass(frozen=True)
class Exit:
    pass


# worker -> study: Ready (or Failed) after Init; Epoch, Report and Progress during a Run, then
# Done (or Failed); Logged (or Failed) after LogModel


@dataclass(frozen=True)
class Ready:
    device: str = "cpu"  # where this worker trains, as it reads its own environment


@dataclass(frozen=True)
class Failed:
    error: str


@dataclass(frozen=True)
class Epoch:
    epoch: int
    logs: dict


@dataclass(frozen=True)
class Report:
    epoch: int
    value: float


@dataclass(frozen=True)
class Progress:  # how training goes (TrialClock.progress), every few seconds
    info: dict


@dataclass(frozen=True)
class Done:
    result: TrialResult
    rss_mb: float


@dataclass(frozen=True)
class Logged:
    pass
