"""Regression: does the search beat the classical baselines, and by how much?

On the generated discs set (2,000 grey 32x32 images of 1-6 discs; targets: how many discs
and their mean radius; `cnntune.data.sources.make_discs`), side by side in one invocation:

  * cnntune    `cnntune search --space regression --timeout S --seed K`, one search per seed
  * ridge      scikit-learn RidgeCV on the flattened, standardised pixels
  * forest     scikit-learn RandomForestRegressor (300 trees, a third of the pixels a split)

all on the same train/val/test split (the space's data seed), scored on the test split in
the targets' own units (RMSE over both targets, mean R^2). The baselines are deterministic,
so they run once; the search runs once per seed, and the table gives each seed, the median
and the worst, with the ratio of the search's test RMSE to the better baseline's.

    PYTHONPATH=. .venv/bin/python benchmarks/regression.py [--timeout 240] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time


def search(seed: int, timeout: float) -> dict:
    import cnntune

    with tempfile.TemporaryDirectory(prefix="cnntune-reg-") as d:
        t0 = time.perf_counter()
        res = cnntune.search("regression", study=f"reg-{seed}", timeout=timeout, seed=seed,
                             storage=f"sqlite:///{d}/o.db", tracking_uri=f"sqlite:///{d}/m.db")
        wall = time.perf_counter() - t0
    m = res.best.metrics
    return {"seed": seed, "trials": sum(res.counts.values()), "wall": wall,
            "test_rmse": m["test_rmse"], "test_r2": m["test_r2"], "test_mae": m["test_mae"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=240.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()

    from cnntune.space import load_space
    from cnntune.data import load_dataset
    from cnntune.tuning.baselines import run_baselines

    sp = load_space("regression")
    data = load_dataset(sp.data.source, None, seed=sp.training.seed, task=sp.spec.task,
                        **sp.data.load_kwargs())
    t0 = time.perf_counter()
    base = {b["name"]: b["metrics"] for b in run_baselines(data, seed=0)}
    print(f"baselines fitted in {time.perf_counter() - t0:.0f}s on {len(data.train)} images")
    runs = [search(seed, args.timeout) for seed in args.seeds]

    best_base = min(base.values(), key=lambda m: m["test_rmse"])["test_rmse"]
    print(f"\ndiscs, test split ({len(data.test)} images), targets {data.class_names}, "
          f"search budget {args.timeout:.0f}s a seed\n")
    print("| model | seed | trials | test RMSE | test MAE | test R^2 | RMSE / best baseline |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, m in base.items():
        print(f"| {name} | - | - | {m['test_rmse']:.4f} | {m['test_mae']:.4f} | "
              f"{m['test_r2']:.4f} | {m['test_rmse'] / best_base:.2f} |")
    for r in runs:
        print(f"| cnntune | {r['seed']} | {r['trials']} | {r['test_rmse']:.4f} | "
              f"{r['test_mae']:.4f} | {r['test_r2']:.4f} | {r['test_rmse'] / best_base:.2f} |")
    rmse = [r["test_rmse"] for r in runs]
    r2 = [r["test_r2"] for r in runs]
    print(f"\ncnntune over {len(runs)} seeds: test RMSE median {statistics.median(rmse):.4f}, "
          f"worst {max(rmse):.4f} (best baseline {best_base:.4f}: median ratio "
          f"{statistics.median(rmse) / best_base:.2f}, worst {max(rmse) / best_base:.2f}); "
          f"test R^2 median {statistics.median(r2):.4f}, worst {min(r2):.4f}")


if __name__ == "__main__":
    main()
