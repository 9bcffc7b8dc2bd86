"""How often a trial is checked: validated, early-stopped and judged by the pruner.

A check is the unit a trial's training is counted in wherever it is judged: the steps it
reports to the engine (the pruners' and Hyperband's resource), early stopping's patience, the
learning-rate schedule and the per-step curves in MLflow. On a small training split a check is
one pass over it (an epoch). On a large one a whole pass says long after it is clear that a
configuration is hopeless, so a pass is cut into ``n`` checks over a repeated pipeline (a data-
subset fidelity: the pruners then judge by examples seen, not by passes).

Checking costs no more validation than checking once a pass: each check is scored on the same
first 1/n of the validation split (``Dataset.check_split``: a random part, the same for every
trial), and a trial that completes is scored on the whole split once, with the best check's
weights, for its objective (measured on textures-large: validating the whole split at every one
of 3 checks made a pass 38% slower; benchmarks/checks.py).

``training.checks_per_epoch`` sets ``n``; ``auto`` (the default) is ``n_train // CHECK_ROWS``
(a check trains on at least that many examples), at most ``n_val // CHECK_VAL_ROWS`` (a check
is scored on at least that many) and at most ``MAX_CHECKS``. Pure Python: read by the space
schema and the plan.
"""

from __future__ import annotations

CHECK_ROWS = 10_000  # training examples a check trains on at least (auto)
CHECK_VAL_ROWS = 2_000  # validation examples a check is scored on at least (auto)
MAX_CHECKS = 20  # the most checks a pass is cut into
AUTO = "auto"


def checks_per_epoch(setting: int | str, n_train: int, n_val: int) -> int:
    """The checks in one pass over ``n_train`` training examples: ``setting`` itself, or for
    ``auto`` the rule above (1 below 20,000 training examples or 4,000 validation ones)."""
    if setting != AUTO:
        return int(setting)
    return max(1, min(n_train // CHECK_ROWS, n_val // CHECK_VAL_ROWS, MAX_CHECKS))
