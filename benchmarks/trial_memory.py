"""Memory and time across many trials: worker isolation (the default) against in-process trials.

Runs the same sequence of small digits trials (1 epoch each, alternating architectures) through
``WorkerRunner`` and ``InProcessRunner``, each in its own fresh Python process, and prints the
resident memory of the study process (and of the worker) after the first and the last trial,
the growth per trial, the wall time, and the ratios isolated/in-process.

    .venv/bin/python benchmarks/trial_memory.py [--trials 60] [--trials-per-worker 25]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def measure(mode: str, trials: int, per_worker: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from cnntune.data import load_dataset
    from cnntune.worker.child import rss_mb
    from cnntune.worker.runner import InProcessRunner, WorkerRunner
    from cnntune.worker.trial import TrialSettings

    data = load_dataset("digits", None, val_fraction=0.15, test_fraction=0.2, seed=0)
    settings = TrialSettings(epochs=1, patience=1, objective="val_accuracy", seed=0)
    runner = WorkerRunner(data, settings, "sqlite:///:memory:", trials_per_worker=per_worker) \
        if mode == "isolated" else InProcessRunner(data, settings)
    study_rss, worker_rss = [], []
    t0 = time.perf_counter()
    for n in range(trials):
        params = dict(n_blocks=1 + n % 2, filters=(16, 32)[n % 2], batch_size=(32, 64)[n % 2])
        res = runner.run(n, params)
        assert res.state == "COMPLETE", res.error
        study_rss.append(rss_mb())
        worker_rss.append(getattr(runner, "_rss_mb", 0.0))
    wall = time.perf_counter() - t0
    runner.close()
    total = [s + w for s, w in zip(study_rss, worker_rss)]
    skip = min(5, trials - 2)  # the first trials warm caches up
    return {"mode": mode, "trials": trials, "wall_s": wall,
            "total_rss_first": total[0], "total_rss_last": total[-1],
            "total_growth_per_trial": slope(total[skip:]),
            "study_rss_first": study_rss[0], "study_rss_last": study_rss[-1],
            "worker_rss_max": max(worker_rss),
            "total_rss_max": max(total),
            "study_growth_per_trial": (study_rss[-1] - study_rss[skip]) / (trials - 1 - skip),
            "workers_started": getattr(runner, "workers_started", 0)}


def slope(values: list[float]) -> float:
    """Least-squares growth per step of ``values`` (MB per trial): a worker's saw-tooth
    (it grows, is replaced, grows again) averages out; growth that is never given back does
    not."""
    n = len(values)
    if n < 2:
        return 0.0
    mx, my = (n - 1) / 2, sum(values) / n
    return sum((i - mx) * (v - my) for i, v in enumerate(values)) / \
        sum((i - mx) ** 2 for i in range(n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--trials-per-worker", type=int, default=25)
    ap.add_argument("--modes", nargs="+", choices=["isolated", "inprocess"],
                    default=["isolated", "inprocess"])
    ap.add_argument("--mode", choices=["isolated", "inprocess"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mode:  # child: one measurement, as JSON on the last line
        print(json.dumps(measure(args.mode, args.trials, args.trials_per_worker)))
        return
    rows = {}
    for mode in args.modes:
        out = subprocess.run([sys.executable, __file__, "--mode", mode, "--trials",
                              str(args.trials), "--trials-per-worker",
                              str(args.trials_per_worker)], capture_output=True, text=True,
                             check=True)
        rows[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{args.trials} one-epoch digits trials; python {sys.version.split()[0]}")
    print(f"{'mode':10s} {'wall s':>7s} {'study RSS first/last MB':>24s} {'growth MB/trial':>16s} "
          f"{'total RSS first/last/max MB':>28s} {'growth MB/trial':>16s} {'workers':>8s}")
    for r in rows.values():
        total = f"{r['total_rss_first']:.0f} / {r['total_rss_last']:.0f} / {r['total_rss_max']:.0f}"
        print(f"{r['mode']:10s} {r['wall_s']:7.1f} {r['study_rss_first']:11.0f} / "
              f"{r['study_rss_last']:<10.0f} {r['study_growth_per_trial']:16.2f} "
              f"{total:>28s} {r['total_growth_per_trial']:16.2f} {r['workers_started']:8d}")
    print("growth per trial: study process, first-to-last after 5 warm-up trials; total "
          "(study + worker), least-squares slope over the same trials")
    if len(rows) < 2:
        return
    a, b = rows["isolated"], rows["inprocess"]
    print(f"ratios isolated/in-process: wall {a['wall_s'] / b['wall_s']:.2f}, "
          f"max total RSS {a['total_rss_max'] / b['total_rss_max']:.2f}, study-process growth "
          f"per trial {a['study_growth_per_trial']:.2f} vs {b['study_growth_per_trial']:.2f} MB")


if __name__ == "__main__":
    main()
