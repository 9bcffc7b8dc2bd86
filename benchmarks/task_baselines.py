"""Tasks beyond classification: does the search beat the classical baselines, and by how much?

For a shipped task space on its generated data, side by side in one invocation:

  * regression (`--space regression`): the discs set (2,000 grey 32x32 images of 1-6 discs;
    targets: how many discs and their mean radius; `cnntune.data.sources.make_discs`);
    baselines ridge (RidgeCV on standardised pixels) and a random forest (300 trees, a third
    of the pixels a split); compared by test RMSE over both targets, in their own units;
  * multi-label (`--space multilabel`): the tags set (2,400 colour 32x32 images, each with
    none or some of 5 kinds of shape; `make_tags`); baselines a logistic regression per label
    on standardised pixels and a random forest (300 trees); compared by test micro-F1 (the
    search's at thresholds tuned on validation, the baselines' as they predict).

    cnntune   `cnntune search --space S --timeout T --seed K`, one search per seed

all on the same train/val/test split (the space's data seed). The baselines are
deterministic, so they run once; the search runs once per seed, and the table gives each
seed, the median and the worst, with the ratio of the search's figure to the best baseline's.

    PYTHONPATH=. .venv/bin/python benchmarks/task_baselines.py --space multilabel \
        [--timeout 180] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

COMPARED = {"regression": "rmse", "multilabel": "micro_f1"}  # the figure the ratio is of


def search(space: str, seed: int, timeout: float, figures) -> dict:
    import cnntune

    with tempfile.TemporaryDirectory(prefix=f"cnntune-{space}-") as d:
        t0 = time.perf_counter()
        res = cnntune.search(space, study=f"{space}-{seed}", timeout=timeout, seed=seed,
                             storage=f"sqlite:///{d}/o.db", tracking_uri=f"sqlite:///{d}/m.db")
        wall = time.perf_counter() - t0
    m = res.best.metrics
    return {"seed": seed, "trials": sum(res.counts.values()), "wall": wall,
            **{f: m.get(f"test_{f}") for f in figures}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", choices=sorted(COMPARED), default="regression")
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()

    from cnntune.catalog import OBJECTIVES, Direction
    from cnntune.data import load_dataset
    from cnntune.space import load_space
    from cnntune.tuning.baselines import run_baselines

    sp = load_space(args.space)
    data = load_dataset(sp.data.source, None, seed=sp.training.seed, task=sp.spec.task,
                        **sp.data.load_kwargs())
    task = data.task
    key = COMPARED[args.space]
    way = Direction(OBJECTIVES[f"val_{key}"])
    t0 = time.perf_counter()
    base = {b["name"]: {k[len("test_"):]: v for k, v in b["metrics"].items()
                        if k.startswith("test_")} for b in run_baselines(data, seed=0)}
    print(f"baselines fitted in {time.perf_counter() - t0:.0f}s on {len(data.train)} examples")
    figures = [f for f in task.figures if all(f in m for m in base.values())]
    runs = [search(args.space, seed, args.timeout, figures) for seed in args.seeds]

    best_base = max((m[key] for m in base.values()), key=lambda v: way.sign * v)
    print(f"\n{data.name}, test split ({len(data.test)} examples), {task.name} of "
          f"{data.class_names}, search budget {args.timeout:.0f}s a seed\n")
    print(f"| model | seed | trials | {' | '.join(f'test {f}' for f in figures)} | "
          f"{key} / best baseline |")
    print(f"| --- | ---: | ---: | {' | '.join('---:' for _ in figures)} | ---: |")
    for name, m in base.items():
        print(f"| {name} | - | - | {' | '.join(f'{m[f]:.4f}' for f in figures)} | "
              f"{m[key] / best_base:.2f} |")
    for r in runs:
        print(f"| cnntune | {r['seed']} | {r['trials']} | "
              f"{' | '.join(f'{r[f]:.4f}' for f in figures)} | {r[key] / best_base:.2f} |")
    values = [r[key] for r in runs]
    worst = min(values, key=lambda v: way.sign * v)
    print(f"\ncnntune over {len(runs)} seeds: test {key} median "
          f"{statistics.median(values):.4f}, worst {worst:.4f} (best baseline "
          f"{best_base:.4f}: median ratio {statistics.median(values) / best_base:.2f}, worst "
          f"{worst / best_base:.2f})")
    for f in figures:
        if f != key:
            vals = [r[f] for r in runs]
            print(f"  test {f}: median {statistics.median(vals):.4f}, range "
                  f"{min(vals):.4f}-{max(vals):.4f}")


if __name__ == "__main__":
    main()
