"""Data-subset fidelity on a large set: is a trial judged after a part of a pass as good as
after a whole one, and what does checking it more often cost?

cnntune cuts each pass over a large training split into checks (``training.checks_per_epoch``,
``auto``: cnntune/checks.py); the pruners then judge by examples seen. This measures, on
``textures-large`` (60,000 32x32 textures, 36,000 training examples: 3 checks a pass by the
auto rule), for each seed:

* fidelity: ``--configs`` configurations drawn at random from the peers' space
  (benchmarks/peers.py), each trained ``--epochs`` passes with 3 checks a pass; at each check,
  how well the validation accuracy so far (each check is scored on the first third of the
  validation split, as cnntune does) ranks the configurations by their final one (the whole
  split's, with the best check's weights: the trial's objective) (Spearman's rho), and what
  keeping the best third at that check would have lost (the final accuracy of the best kept
  against the best of all: the regret of pruning there);
* cost: one configuration's trial of one pass with 1 check and with 3, side by side (wall
  seconds of the whole trial, scoring included).

Printed per seed, then the median and worst over seeds, per check.

    .venv/bin/python benchmarks/checks.py [--seeds 0 1 2] [--configs 5] [--epochs 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from datasets import dataset_path
from peers import SPACE, SPLIT

CHECKS = 3


def draw(rng: np.random.Generator) -> dict:
    """One configuration from the peers' space, as a trial's params."""
    p = {}
    for name, dom in SPACE.items():
        if isinstance(dom, list):
            p[name] = dom[int(rng.integers(len(dom)))]
        elif name == "n_blocks":
            p[name] = int(rng.integers(dom[0], dom[1] + 1))
        elif name == "learning_rate":
            p[name] = float(np.exp(rng.uniform(np.log(dom[0]), np.log(dom[1]))))
        else:
            p[name] = float(rng.uniform(*dom))
    return {**p, "kernel_size": 3, "batch_norm": True, "pooling": "max", "optimizer": "adam"}


def spearman(a, b) -> float:
    ra, rb = (np.argsort(np.argsort(v)).astype(float) for v in (a, b))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def curve(params: dict, data, seed: int, epochs: int, checks: int):
    """(validation accuracy at each check, the trial's objective, its wall seconds)."""
    from cnntune.worker.trial import TrialSettings, run_trial

    seen = []
    t0 = time.perf_counter()
    res = run_trial(params, data, TrialSettings(epochs=epochs, patience=epochs * checks,
                                                objective="val_accuracy", seed=seed,
                                                checks=checks),
                    on_epoch=lambda e, logs: seen.append(logs["val_accuracy"]))
    if res.state != "COMPLETE":
        raise SystemExit(f"trial failed: {res.error}")
    return seen, res.value, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--configs", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    from cnntune.checks import checks_per_epoch
    from cnntune.data import load_dataset

    work = Path(tempfile.mkdtemp(prefix="checks-"))
    data = load_dataset(None, dataset_path("textures-large", work), **SPLIT, seed=0)
    auto = checks_per_epoch("auto", len(data.train), len(data.val))
    print(f"textures-large: {len(data.train)} train / {len(data.val)} val; auto checks a pass "
          f"{auto}; {args.configs} configurations x {args.epochs} passes x {CHECKS} checks")
    n = args.epochs * CHECKS
    rhos: dict[int, list[float]] = {j: [] for j in range(n)}
    regrets: dict[int, list[float]] = {j: [] for j in range(n)}
    overheads = []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        configs = [draw(rng) for _ in range(args.configs)]
        curves, final = [], []
        t0 = time.perf_counter()
        for c in configs:
            seen, value, _ = curve(c, data, seed, args.epochs, CHECKS)
            curves.append(seen)
            final.append(value)
        final = np.array(final)
        keep = max(1, len(configs) // 3)
        print(f"\nseed {seed} ({time.perf_counter() - t0:.0f} s): final val accuracy "
              + " ".join(f"{v:.3f}" for v in final))
        for j in range(n):
            so_far = np.array([max(s[:j + 1]) for s in curves])
            kept = np.argsort(-so_far)[:keep]
            rhos[j].append(spearman(so_far, final))
            regrets[j].append(float(final.max() - final[kept].max()))
            print(f"  check {j + 1:>2} ({(j + 1) / CHECKS:.2f} passes): rho {rhos[j][-1]:+.2f}"
                  f", regret of keeping the best {keep} {regrets[j][-1]:.4f}")
        one = [curve(configs[0], data, seed, 1, k)[2] for k in (1, CHECKS)]
        overheads.append(one[1] / one[0] - 1)
        print(f"  one pass, config 0: {one[0]:.1f} s with 1 check, {one[1]:.1f} s with "
              f"{CHECKS}: {100 * overheads[-1]:+.1f}%")
    print(f"\nover {len(args.seeds)} seeds: check, passes, rho median / worst, regret median / "
          "worst")
    for j in range(n):
        r = [v for v in rhos[j] if v == v]
        print(f"  {j + 1:>2} {(j + 1) / CHECKS:5.2f}  "
              f"{statistics.median(r) if r else float('nan'):+.2f} / "
              f"{min(r) if r else float('nan'):+.2f}   "
              f"{statistics.median(regrets[j]):.4f} / {max(regrets[j]):.4f}")
    print(f"extra time of {CHECKS} checks a pass: median {100 * statistics.median(overheads):+.1f}%"
          f", worst {100 * max(overheads):+.1f}%")


if __name__ == "__main__":
    main()
