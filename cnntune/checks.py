"""How often a trial is checked: validated, early-stopped and judged by the pruner.

A check is the unit a trial's training is counted in wherever it is judged: the steps it
reports to the engine (the pruners' and Hyperband's resource), early stopping's patience, the
learning-rate schedule and the per-step curves in MLflow. On a small training split a check is
one pass over it (an epoch). On a large one a whole pass says long after it is clear that a
configuration is hopeless, so a pass is cut into ``n`` checks over a repeated pipeline (a data-
subset fidelity: the pruners then judge by examples seen, not by passes), and every check is
validated on the whole validation split.

``training.checks_per_epoch`` sets ``n``; ``auto`` (the default) is ``n_train // CHECK_ROWS``
(a check sees at least that many training examples), at most the training split's size over
the validation split's (so validating each check costs at most about a third of training on it:
a forward pass is about a third of a training step) and at most ``MAX_CHECKS``.
Pure Python: read by the space schema and the plan.
"""

from __future__ import annotations

CHECK_ROWS = 10_000  # training examples a check sees at least (auto)
MAX_CHECKS = 20  # the most checks a pass is cut into
AUTO = "auto"


def checks_per_epoch(setting: int | str, n_train: int, n_val: int) -> int:
    """The checks in one pass over ``n_train`` training examples: ``setting`` itself, or for
    ``auto`` the rule above (1 below 20,000 training examples)."""
    if setting != AUTO:
        return int(setting)
    by_rows = n_train // CHECK_ROWS
    by_val = n_train // max(n_val, 1)
    return max(1, min(by_rows, by_val, MAX_CHECKS))
