"""The fit's clock: the cosine schedule by epoch and the epochs that fit before a deadline."""

import time

import pytest

from cnntune.worker.train import SCORING_S, _Clock, cosine_lr
from cnntune.worker.trial import scoring_after_fit


def test_cosine_decays_from_the_rate_to_a_hundredth_over_the_planned_epochs():
    lrs = [cosine_lr(0.01, e, 5) for e in range(7)]
    assert lrs[0] == pytest.approx(0.01) and lrs[4] == pytest.approx(0.0001)
    assert all(a > b for a, b in zip(lrs[:4], lrs[1:5]))
    assert lrs[5] == lrs[6] == lrs[4]  # past the plan: stays at the floor
    assert cosine_lr(0.01, 0, 1) == 0.01


def test_without_a_deadline_every_epoch_is_planned():
    clock = _Clock(20, None)
    assert clock.replan(3, 10.0) == 20 and not clock.past()


def test_the_plan_shrinks_to_the_epochs_that_fit_before_the_deadline():
    clock = _Clock(20, time.time() + 60)
    # 10 s epochs, 4 s reserve: 5 more fit in the 56 s left
    assert clock.replan(2, 10.0) == 7
    assert not clock.past()
    assert _Clock(20, time.time() + 60).replan(2, 1.0) == 20  # all fit: the budget caps it
    late = _Clock(20, time.time() + 2)
    assert late.past()  # inside the reserve: stop at the next batch
    assert late.replan(4, 10.0) == 4  # nothing more fits: no epoch is started


def test_a_cut_fit_keeps_back_time_for_all_the_scoring_after_it():
    # one check a pass, val and test of a size: the test split is one more validation
    assert scoring_after_fit(12000, 12000, 12000, 1) == 1.0
    # 3 checks a pass: fit validates a third of the split; after it come the whole
    # validation split and the test split, 6 such passes, besides the check cut short
    scoring = scoring_after_fit(4000, 12000, 12000, 3)
    assert scoring == 6.0
    clock = _Clock(20, time.time() + 60, scoring)
    clock.val_seconds = 2.0
    assert clock.reserve() >= SCORING_S + (1 + 6) * 2.0  # the cut check's validation too
    assert not clock.past()
    clock.deadline = time.time() + SCORING_S + 7 * 2.0  # time for 1 + 3 + 3 validations only
    assert clock.past()  # the margin is gone: stop at the next batch
