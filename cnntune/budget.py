"""The user's time budget: ``--timeout S`` is one ``Budget``, made once from the command's start
and handed on unchanged to the plan, the study loop, the trial runner and the trial itself.
Every question about the deadline is asked of it, so the rules live here:

* ``ends``: the command's own end, ``started + S``; it may run over by at most ``overrun``
  (max(2% of S, 5 s)), the bound ``benchmarks/deadlines.py`` holds every cell to;
* ``trials_end``: by when the last trial is trained, scored and its model logged, so that the
  study can close (its MLflow run, the summary: ``CLOSING_S``) before ``ends``;
* ``kill_at``: a trial worker still busy then is killed. Nothing trained is lost by that: the
  worker keeps its best check's weights on disk (``formats.checkpoint``), and the trial ends
  COMPLETE with them;
* ``left()``: the seconds until ``trials_end``.

A trial's own clock (``worker.clock.TrialClock``) decides, from what it measures, when its
training must stop so that its scoring ends by ``trials_end``. Pure Python, wall-clock seconds
(``time.time()``), so that the study process and its workers share one clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

CLOSING_S = 2.0  # what ending a study takes after its last trial (its run, the summary)
OVERRUN_SHARE = 0.02  # the command may end this share of --timeout late, or OVERRUN_S
OVERRUN_S = 5.0


@dataclass(frozen=True)
class Budget:
    started: float  # time.time() the budget counts from: the command's process start
    seconds: float  # --timeout

    @classmethod
    def of(cls, timeout: float | None, started: float | None = None) -> Budget | None:
        """The budget of ``timeout`` seconds from ``started`` (default now); None without one."""
        if timeout is None:
            return None
        return cls(time.time() if started is None else started, float(timeout))

    @property
    def ends(self) -> float:
        return self.started + self.seconds

    @property
    def overrun(self) -> float:
        """How late the command may end: max(2% of the budget, 5 s)."""
        return max(OVERRUN_SHARE * self.seconds, OVERRUN_S)

    @property
    def trials_end(self) -> float:
        """By when the last trial is over, its model logged: the study closes after it."""
        return self.ends - CLOSING_S

    @property
    def kill_at(self) -> float:
        """A trial worker still busy then is killed (the trial keeps its best check)."""
        return self.ends

    def left(self, now: float | None = None) -> float:
        """Seconds until ``trials_end`` (negative once it has passed)."""
        return self.trials_end - (time.time() if now is None else now)

    def elapsed(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.started
