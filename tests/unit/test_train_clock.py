"""A trial's clock: the cosine schedule by check, the checks that fit before the deadline, and
a reserve for what follows training that is measured on the trial itself."""

import time

import pytest

from cnntune.budget import CLOSING_S, Budget
from cnntune.worker.clock import MARGIN_S, PREDICT_SHARE, SCORING_SHARE, Costs, TrialClock
from cnntune.worker.train import cosine_lr

NO_LOG = Costs(log_s=0.0)


def test_cosine_decays_from_the_rate_to_a_hundredth_over_the_planned_epochs():
    lrs = [cosine_lr(0.01, e, 5) for e in range(7)]
    assert lrs[0] == pytest.approx(0.01) and lrs[4] == pytest.approx(0.0001)
    assert all(a > b for a, b in zip(lrs[:4], lrs[1:5]))
    assert lrs[5] == lrs[6] == lrs[4]  # past the plan: stays at the floor
    assert cosine_lr(0.01, 0, 1) == 0.01


def test_the_budget_is_one_value_that_answers_every_deadline_question():
    b = Budget(started=1000.0, seconds=300.0)
    assert b.ends == 1300.0 and b.kill_at == b.ends
    assert b.trials_end == 1300.0 - CLOSING_S
    assert b.left(now=1100.0) == pytest.approx(198.0)
    assert b.overrun == 6.0  # 2% of 300 s
    assert Budget(0.0, 60.0).overrun == 5.0  # at least 5 s
    assert Budget.of(None) is None
    assert Budget.of(10, started=5.0) == Budget(5.0, 10.0)


def test_without_a_budget_every_check_is_planned_and_training_never_stops_for_time():
    clock = TrialClock(epochs=20)
    assert clock.replan(3, 10.0) == 20 and not clock.past() and clock.fits(1e9)


def _clock(seconds_left: float, ran: float = 10.0, **kw) -> TrialClock:
    """A trial that began ``ran`` s ago, with ``seconds_left`` until trials_end."""
    now = time.time()
    budget = Budget(now - ran, seconds_left + ran + CLOSING_S)  # trials_end is now + left
    return TrialClock(budget, costs=kw.pop("costs", NO_LOG), started=now - ran, **kw)


def test_the_validation_cost_is_measured_on_the_trial_own_checks():
    clock = _clock(600, epochs=20, check_rows=1000)
    clock.validated(5.0)  # the first validation traces its function
    clock.validated(1.0)  # the second does not: 1 ms an example
    assert clock.rate == pytest.approx(0.001) and clock.trace == pytest.approx(4.0)
    # a prediction over 10,000 examples with a function not yet traced
    assert clock.validation_cost(10_000) == pytest.approx(4.0 + 10.0)
    clock.validated(2.0)  # the latest check's rate counts; the trace was measured once
    assert clock.validation_cost(10_000) == pytest.approx(4.0 + 20.0)


def test_before_its_first_validation_the_cost_comes_from_its_training_steps():
    t0 = time.time()
    clock = _clock(600, epochs=20, check_rows=3200, batch_size=32)
    clock.batch(t0)
    clock.batch(t0 + 3.0)  # the first step traced the training function: half its excess
    clock.batch(t0 + 3.1)  # a plain step: 0.1 s for 32 examples
    rate = PREDICT_SHARE * 0.1 / 32
    assert clock.validation_cost(3200) == pytest.approx(0.5 * 2.9 + 3200 * rate)


def test_training_stops_in_time_for_the_cut_check_validation_the_scoring_and_logging():
    costs = Costs(log_s=1.5)
    clock = _clock(60, epochs=20, check_rows=1000, scoring_rows=6000, costs=costs)
    clock.validated(3.0)
    clock.validated(1.0)  # trace 2 s, 1 ms an example
    val, scoring = 2.0 + 1.0, 2.0 + 6.0
    assert clock.scoring_planned  # 8 s is less than a quarter of the trial's 70 s
    assert clock.reserve() == pytest.approx(MARGIN_S + 1.5 + val + scoring)
    assert not clock.past()
    # 10 s checks: of the 60 s left, 60 - 14.5 = 45.5 hold 4 more after the 2 done
    assert clock.replan(2, 10.0) == 6
    assert _clock(60, epochs=20, costs=costs).replan(2, 1.0) == 20  # all fit: epochs cap it
    late = _clock(MARGIN_S + 1.5 + val + scoring - 0.5, ran=100, epochs=20, check_rows=1000,
                  scoring_rows=6000, costs=costs)
    late.validated(3.0)
    late.validated(1.0)
    assert late.past()  # inside the reserve: stop at the next batch
    assert late.replan(4, 10.0) == 4  # nothing more fits: no check is started


def test_scoring_that_would_take_much_of_the_trial_is_left_for_later_not_reserved():
    # a huge test split: scoring it would take 102 s of a 110 s trial
    clock = _clock(100, epochs=20, check_rows=1000, scoring_rows=100_000)
    clock.validated(3.0)
    clock.validated(1.0)
    assert clock.scoring_cost() > SCORING_SHARE * 110
    assert not clock.scoring_planned
    assert clock.reserve() == pytest.approx(MARGIN_S + 2.0 + 1.0)  # the cut check only
    assert not clock.fits(clock.scoring_cost())  # after fit: the test split is not scored
    assert clock.fits(clock.validation_cost(1000))


def test_progress_says_how_far_training_came_for_a_trial_killed_before_its_first_check():
    told = []
    t0 = time.time()
    clock = TrialClock(None, batch_size=64, started=t0 - 4.0, notify=told.append)
    clock.check_batches = 500
    clock.batch(t0)
    clock.batch(t0 + 2.0)
    clock.batch(t0 + 2.5)
    assert len(told) == 1  # told once, then not again within NOTIFY_S
    p = clock.progress(t0 + 2.5)
    assert p["batches"] == 3 and p["step_s"] == pytest.approx(0.5)
    assert p["first_batch_s"] == pytest.approx(4.0) and p["first_step_s"] == pytest.approx(2.0)
    assert p["check_batches"] == 500
