"""A trial's clock: when its training must stop so that what follows it ends by the budget's
``trials_end``, and, once training has ended, which parts of the scoring still fit.

Everything it plans with is measured on the trial itself, or in its worker:

* **a validation pass**: ``trace + rows * rate``. ``rate`` (seconds per example) is the latest
  check's validation inside fit; ``trace`` (a new traced function: the scoring's predict is
  one) is what the first validation took beyond ``rows * rate``. Before the first validation
  ends, both come from training: ``rate`` is ``PREDICT_SHARE`` of a training example's time,
  ``trace`` half the first training step's excess over the next ones (tracing a training
  step, gradients and all, takes longer than tracing a prediction). Measured on five CNNs
  from 28x28x1 to 64x64x3 (plain and resnet, batch norm, augmentation): a validation example
  took 0.22-0.24 of a training example's time;
* **the scoring after fit**: one predict pass over the whole validation split (its figures on
  all of it, and a multi-label model's thresholds) and one over the test split;
* **logging the model** and **measuring latency**: what they took last time in this worker
  (``Costs``).

Training stops once the time left is no more than the reserve: ``MARGIN_S``, the validation of
the check being cut short, logging, and the scoring, where the scoring is planned. It is planned
while it costs at most ``SCORING_SHARE`` of the trial's time: on a short budget and a large
data set, a trial is not trained for a third of its time to be scored at once; its test
figures are left for later (``best``, ``export`` and ``report`` score them from its kept
model) and say so (``cnntune.unscored``). Once training has ended, ``fits(seconds)`` decides
each part of the scoring from the same measurements.

After each check the checks that still fit are replanned from the last check's duration, so
that a cosine schedule decays to its end within the time and no check is started that cannot
finish.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

MARGIN_S = 2.0  # kept back beyond every measured cost
PREDICT_SHARE = 0.3  # a prediction's time per example, as a share of a training example's
SCORING_SHARE = 0.25  # the most of a trial's time the scoring after fit is planned for
NOTIFY_S = 5.0  # how often training progress is told (``TrialClock.notify``)


@dataclass
class Costs:
    """What a trial worker measured of its own earlier trials, for the next trial's plan."""

    log_s: float = 3.0  # logging a model to MLflow (the first one imports MLflow's flavour)
    latency_s: float = 10.0  # converting to TFLite and timing it (spaces that measure latency)


class TrialClock:
    """One trial's time. Without a budget it only counts; ``past()`` is never true.

    ``check_rows``: the validation examples a check is scored on; ``scoring_rows``: those the
    scoring after fit predicts (``trial.scoring_rows``); ``batch_size``: the training's."""

    def __init__(self, budget=None, *, epochs: int = 1, check_rows: int = 0,
                 scoring_rows: int = 0, batch_size: int = 32, costs: Costs | None = None,
                 latency: bool = False, started: float | None = None, notify=None):
        self.budget = budget
        self.epochs = epochs  # the checks a trial trains for at most
        self.planned = epochs  # the checks the schedule decays over
        self.check_rows, self.scoring_rows = check_rows, scoring_rows
        self.batch_size = batch_size
        self.costs = costs or Costs()
        self.latency = latency
        self.started = time.time() if started is None else started
        # measured
        self.check_seconds = 0.0  # the last check's, validation included
        self.rate: float | None = None  # a validation's seconds per example
        self.trace: float | None = None  # a new traced function's extra seconds
        self._first_val: float | None = None
        self._batches = 0
        self._batch_times: list[float] = []  # when the first few batches began
        self.check_batches: int | None = None  # training batches a check takes (fit sets it)
        # told ``progress()`` every NOTIFY_S of training (the worker sends it to the study, so
        # that a trial killed before its first check still says how fast it trained)
        self.notify = notify
        self._notified = 0.0

    # -- measurements ------------------------------------------------------------------

    def batch(self, now: float | None = None) -> None:
        """A training batch begins (the first three are timed: trace, then a plain step)."""
        now = time.time() if now is None else now
        self._batches += 1
        if len(self._batch_times) < 3:
            self._batch_times.append(now)
        if self.notify is not None and now - self._notified >= NOTIFY_S:
            self._notified = now
            self.notify(self.progress(now))

    def progress(self, now: float | None = None) -> dict:
        """How far training has come: batches begun, seconds since the trial began, a plain
        step's seconds, when the first batch began (model built, pipeline made), the first
        step's seconds (it traces the training step), the batches of a check and the batch
        size."""
        now = time.time() if now is None else now
        t = self._batch_times
        return {"batches": self._batches, "seconds": now - self.started,
                "step_s": self.step_seconds, "first_batch_s": t[0] - self.started if t else None,
                "first_step_s": t[1] - t[0] if len(t) >= 2 else None,
                "check_batches": self.check_batches, "batch_size": self.batch_size}

    def validated(self, seconds: float, rows: int | None = None) -> None:
        """A validation pass over ``rows`` (default ``check_rows``) examples took ``seconds``."""
        rows = self.check_rows if rows is None else rows
        if rows <= 0:
            return
        if self._first_val is None:
            self._first_val = seconds
            if self.rate is None:
                self.rate = seconds / rows  # an upper bound until the next one
            return
        self.rate = seconds / rows
        if self.trace is None:
            self.trace = max(0.0, self._first_val - seconds)

    @property
    def batches(self) -> int:
        """Training batches begun so far (each runs: fit stops before the next one)."""
        return self._batches

    @property
    def step_seconds(self) -> float | None:
        """A plain training step's seconds (the second batch's), once measured."""
        t = self._batch_times
        return t[2] - t[1] if len(t) >= 3 else None

    # -- costs -------------------------------------------------------------------------

    def _rate(self) -> float:
        if self.rate is not None:
            return self.rate
        step = self.step_seconds
        return PREDICT_SHARE * step / self.batch_size if step else 0.0

    def _trace(self) -> float:
        if self.trace is not None:
            return self.trace
        if self._first_val is not None:  # one validation: it held a trace, of about this
            return self._first_val
        t = self._batch_times
        if len(t) >= 3:  # half the first step's excess: tracing the training step, which
            return 0.5 * max(0.0, (t[1] - t[0]) - (t[2] - t[1]))  # holds the gradients too
        return (time.time() - self.started) * 0.5 if t else 0.0

    def validation_cost(self, rows: int) -> float:
        """Seconds to predict ``rows`` examples with a function not yet traced."""
        return self._trace() + rows * self._rate()

    def scoring_cost(self) -> float:
        """Seconds the scoring after fit takes (prediction, and latency where measured)."""
        return (self.validation_cost(self.scoring_rows) if self.scoring_rows else 0.0) + \
            (self.costs.latency_s if self.latency else 0.0)

    @property
    def scoring_planned(self) -> bool:
        """Whether training stops in time for the whole scoring (else the scoring that does
        not fit after it is left for later)."""
        if self.budget is None:
            return True
        window = self.budget.trials_end - self.started
        return self.scoring_cost() <= SCORING_SHARE * window

    def reserve(self) -> float:
        """What training keeps back before ``trials_end``: the cut check's validation,
        logging the model, the scoring where planned, and a margin."""
        return MARGIN_S + self.costs.log_s + self.validation_cost(self.check_rows) + \
            (self.scoring_cost() if self.scoring_planned else 0.0)

    # -- decisions ---------------------------------------------------------------------

    def left(self) -> float:
        return math.inf if self.budget is None else self.budget.left()

    def past(self) -> bool:
        """Whether training must stop now."""
        return self.budget is not None and self.left() <= self.reserve()

    def fits(self, seconds: float) -> bool:
        """Whether ``seconds`` of scoring still fit before ``trials_end``, logging after it."""
        return self.left() - self.costs.log_s - MARGIN_S >= seconds

    def replan(self, done: int, seconds: float) -> int:
        """After ``done`` checks, the last taking ``seconds``: the checks planned in all."""
        self.check_seconds = seconds
        if self.budget is not None and seconds > 0:
            left = self.left() - self.reserve()
            self.planned = max(done, min(self.epochs, done + int(left // seconds)))
        return self.planned
