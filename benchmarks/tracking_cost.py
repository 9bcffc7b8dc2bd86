"""What MLflow tracking costs a trial: a study of short digits trials run by ``cnntune.search``
as a user calls it, with every MLflow call of the study process timed (run creation, params,
per-epoch metrics, final state, best-so-far, and waiting for the worker to log a new best
model). Prints each call's count and time, and their sum as a share of the search loop's wall
time (first trial start to the end). Counted in full even where a call overlaps training
(per-epoch metrics are written while the worker trains the next epoch), so the share is an
upper bound.

    .venv/bin/python benchmarks/tracking_cost.py [--trials 30] [--epochs 3]
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from collections import defaultdict

CALLS = ("start_trial", "log_epoch", "end_trial", "update_best")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import cnntune
    from cnntune.worker.runner import WorkerRunner
    from cnntune.tracking.runs import Tracker

    spent: dict[str, list[float]] = defaultdict(list)

    def clock(cls, name, label):
        original = getattr(cls, name)

        @functools.wraps(original)
        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                spent[label].append(time.perf_counter() - t0)

        setattr(cls, name, timed)

    for name in CALLS:
        clock(Tracker, name, name)
    clock(WorkerRunner, "log_model", "log_model (worker)")
    marks = {}

    def hook(kind, payload):
        if kind == "trial_start" and "loop" not in marks:
            marks["loop"] = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="tracking-cost-") as work:
        uri = f"sqlite:///{work}/mlflow.db"  # the default store's kind (mlruns/mlflow.db)
        res = cnntune.search("default", data="digits", trials=args.trials, epochs=args.epochs,
                             storage=f"journal:{work}/optuna.journal", tracking_uri=uri,
                             on_event=hook)
        loop = time.perf_counter() - marks["loop"]
    logged = spent.pop("log_model (worker)", [])
    if logged:  # the first loads MLflow's store in the worker: once a worker, not a trial
        spent["log_model, first"], spent["log_model, later"] = logged[:1], logged[1:]
    print(f"{res.new_trials} trials of <= {args.epochs} epochs on digits, MLflow on SQLite; "
          f"search loop {loop:.1f} s ({loop / res.new_trials:.2f} s a trial)")
    print(f"{'MLflow call':<22}{'calls':>7}{'total s':>9}{'ms/call':>9}{'share':>8}")
    total = 0.0
    for label, times in spent.items():
        if not times:
            continue
        s = sum(times)
        total += s
        print(f"{label:<22}{len(times):>7}{s:>9.2f}{1000 * s / len(times):>9.1f}"
              f"{s / loop:>8.1%}")
    print(f"{'all tracking':<22}{sum(map(len, spent.values())):>7}{total:>9.2f}"
          f"{1000 * total / res.new_trials:>9.1f}{total / loop:>8.1%}   (ms/call: per trial)")
    steady = total - sum(spent.get("log_model, first", [])) - sum(spent["log_epoch"])
    print(f"per trial on its path (without the one-time first model log, and the per-epoch "
          f"writes made while the worker trains on): {steady / loop:.1%}")


if __name__ == "__main__":
    sys.exit(main())
