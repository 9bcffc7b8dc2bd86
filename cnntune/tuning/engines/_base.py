"""The engine contract.

An engine owns a study: a named, persistent set of trials in some storage. ``open()`` creates
the study or loads it when it exists (resume). ``run(evaluate, ...)`` asks the sampler for params,
hands each ``Sample`` to ``evaluate`` (which trains and scores a model) and records the returned
``Outcome``. A sample's ``params`` hold exactly the params active in that trial: a conditional
param appears only when its ``when`` holds. ``sample.report(step, value)`` feeds the pruner and
returns True when the trial should stop. A step is one of the trial's checks: an epoch, or a
part of one on a large training split (``cnntune.checks``); a study's trials report
``max_steps`` at most. ``sample.steps``, when set, is the trial's own budget of steps
(Hyperband), overriding the study's. A FAIL outcome never ends the search; any exception
raised by ``evaluate`` does (after the engine has marked that trial failed). ``keep_going()``,
when given, is asked before each trial; False ends the run.

``enqueue(params, attrs)`` queues a configuration to be tried before the sampler's own
(params it lacks are sampled); the trial's sample carries ``attrs["origin"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from ...budget import Budget


@dataclass(frozen=True)
class Abilities:
    """What an engine can do, declared by the engine itself (``<Engine>.abilities``) and asked
    by the plan, the study, the workers, warm starts and the commands, which name no engine.

    ``algorithms``: its algorithms (catalog.ALGORITHMS), the first its default;
    ``one_objective``: those of them that take a single objective (a study with several needs
    another); ``multi_objective``: whether it runs studies with several objectives at all;
    ``pruners``: the pruners it takes (``("none",)``: it prunes through its algorithm only,
    ``early_stop`` says how); ``builds_by_run``: its algorithms that can sample a KerasTuner
    ``build_model(hp)`` as it runs (define-by-run); ``enumerates``: its algorithms that list a
    finite grid up front; ``shares_study``: several processes can run one study (a journal or
    RDB storage: ``--workers``, Ray); ``takes_history``: an earlier study's trials can be added
    to a new one's as history (same space and data); ``sampler_synonym``: it also calls its
    algorithm a sampler (``--sampler``); ``algorithm_in_study_name``: its studies keep their
    algorithm, so a default study name carries it; ``optuna_storage``: its studies live in
    an Optuna storage (optuna-dashboard and ``study_`` can open them)."""

    name: str
    algorithms: tuple[str, ...]
    one_objective: frozenset[str] = frozenset()
    multi_objective: bool = False
    pruners: tuple[str, ...] = ("none",)
    early_stop: str = ""
    builds_by_run: frozenset[str] = frozenset()
    enumerates: frozenset[str] = frozenset()
    shares_study: bool = False
    takes_history: bool = False
    sampler_synonym: bool = False
    algorithm_in_study_name: bool = False
    optuna_storage: bool = False

    def study_name(self, space: str, data: str, algorithm: str) -> str:
        """The default name of a study of ``space`` on ``data`` searched with ``algorithm``."""
        return f"{space}-{data}-{self.name}-{algorithm}" if self.algorithm_in_study_name \
            else f"{space}-{data}"

    @property
    def prunes(self) -> bool:
        """Whether it takes a pruner at all (else ``early_stop`` says how it stops early)."""
        return any(p != "none" for p in self.pruners)

    def takes_objectives(self, algorithm: str, n: int) -> bool:
        return n == 1 or (self.multi_objective and algorithm not in self.one_objective)


@dataclass
class Sample:
    number: int
    params: dict[str, Any]
    report: Callable[[int, float], bool]
    set_attr: Callable[[str, Any], None]
    steps: int | None = None  # this trial's budget of steps, when the algorithm sets one
    retry_of: int | None = None  # the trial this one retries (its worker died)
    origin: str | None = None  # where its params came from (catalog.ORIGINS); None: the sampler


@dataclass
class Outcome:
    state: str  # COMPLETE | PRUNED | FAIL
    value: float | None = None
    error: str | None = None
    retry: bool = False  # FAIL through no fault of the params (the trial worker died)
    values: list[float] | None = None  # every objective, primary first (multi-objective)
    constraints: dict[str, float] | None = None  # name -> value; > 0 means violated


@dataclass
class TrialRecord:
    number: int
    state: str  # COMPLETE | PRUNED | FAIL | RUNNING | WAITING
    value: float | None
    params: dict[str, Any]
    attrs: dict[str, Any] = field(default_factory=dict)
    values: list[float] | None = None  # every objective (multi-objective studies)
    feasible: bool | None = None  # None: the study has no constraints


@dataclass
class StudyInfo:
    name: str
    created: bool  # False when an existing study was loaded (resume)
    n_trials: int  # trials already in the study when it was opened
    attrs: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    # told (record, reason) about a trial whose worker died without finishing it (found by a
    # missed heartbeat), so the caller can close what it opened for it; None: nobody to tell
    on_dead: Callable[[TrialRecord, str], None] | None

    def check(self) -> None:
        """Raise StorageError when the storage cannot be used; write nothing."""

    def open(self) -> StudyInfo: ...

    def set_study_attr(self, key: str, value: Any) -> None: ...

    def run(self, evaluate: Callable[[Sample], Outcome], *, n_trials: int | None,
            budget: Budget | None, total: int | None = None,
            keep_going: Callable[[], bool] | None = None) -> None:
        """Run trials until ``n_trials`` ran here, the ``budget``'s trials are due to end
        (``Budget.left()``), (``total``) the study holds that many trials, or ``keep_going()``
        says no; a trial begins only with time left."""

    def enqueue(self, params: dict[str, Any], attrs: dict[str, Any]) -> None: ...

    def trials(self) -> list[TrialRecord]: ...

    def best(self) -> TrialRecord | None: ...
