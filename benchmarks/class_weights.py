"""A rare class: an accuracy study without class weights against a macro-F1 study with
``class_weight: balanced``, side by side on the same generated imbalanced set.

The set: the benchmark's shapes (``datasets.make_shapes``, 32x32x3, 6 classes) with class 0
cut to ``--rare`` of the examples (default 2%). Both studies search the same small space with
the same seed, trials and epochs; they differ only in ``training.objective`` and
``training.class_weight``. Printed: the best trial's test recall of the rare class, its test
macro F1 and accuracy (read from the ``confusion_test.json`` each trial logs), per seed, the
median and the worst over seeds, and both confusion matrices of the first seed.

    .venv/bin/python benchmarks/class_weights.py [--seeds 0 1] [--trials 5] [--epochs 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPACE = """
name: {name}
data: {{path: {data}, val_fraction: 0.2, test_fraction: 0.25}}
training: {{epochs: {epochs}, patience: 3, objective: {objective}, seed: {seed},
           class_weight: {weights}}}
search: {{algorithm: tpe, pruner: none, trials: {trials}}}
start_from: []
params:
  n_blocks: {{type: int, low: 2, high: 3}}
  filters: [16, 32]
  batch_norm: true
  dropout: {{type: float, low: 0.0, high: 0.3}}
  learning_rate: {{type: float, low: 1.0e-3, high: 5.0e-3, log: true}}
  batch_size: 64
"""
STUDIES = {"accuracy": ("val_accuracy", "none"), "balanced": ("val_macro_f1", "balanced")}


def make_set(path: Path, n: int, rare: float, seed: int = 0) -> dict:
    sys.path.insert(0, str(HERE))
    from datasets import make_shapes

    x, y = make_shapes(n, seed=seed)
    rng = np.random.default_rng(seed)
    others = np.flatnonzero(y != 0)
    keep_rare = rng.choice(np.flatnonzero(y == 0), int(round(len(others) * rare / (1 - rare))),
                           replace=False)
    keep = np.sort(np.concatenate([others, keep_rare]))
    np.savez(path, x=x[keep], y=y[keep], class_names=np.array(
        ["disc", "square", "triangle", "cross", "ring", "bar"]))
    return {"n": len(keep), "rare": len(keep_rare)}


def run_study(kind: str, data: Path, work: Path, seed: int, trials: int, epochs: int) -> dict:
    import mlflow

    import cnntune

    objective, weights = STUDIES[kind]
    space = work / f"{kind}-{seed}.yaml"
    space.write_text(SPACE.format(name=kind, data=data, epochs=epochs, objective=objective,
                                  seed=seed, weights=weights, trials=trials))
    uri = f"sqlite:///{work}/mlflow.db"
    res = cnntune.search(space, study=f"{kind}-{seed}", storage=f"journal:{work}/o.journal",
                         tracking_uri=uri)
    mlflow.set_tracking_uri(uri)
    cm = mlflow.artifacts.load_dict(f"runs:/{res.best.run_id}/confusion_test.json")
    matrix = np.array(cm["matrix"])
    recall = matrix.diagonal() / matrix.sum(1).clip(min=1)
    return {"kind": kind, "seed": seed, "rare_recall": float(recall[0]),
            "macro_f1": res.best.metrics["test_macro_f1"],
            "accuracy": res.best.metrics["test_accuracy"], "matrix": matrix,
            "classes": cm["classes"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--rare", type=float, default=0.02)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cnntune-class-weights-"))
    data = work / "imbalanced.npz"
    info = make_set(data, args.n, args.rare)
    print(f"set: {info['n']} images 32x32x3, 6 classes, class 'disc' {info['rare']} "
          f"({info['rare'] / info['n']:.1%}); {args.trials} trials x {args.epochs} epochs "
          "a study", flush=True)
    rows = []
    for seed in args.seeds:
        for kind in STUDIES:  # side by side, alternating
            rows.append(run_study(kind, data, work, seed, args.trials, args.epochs))
            r = rows[-1]
            print(f"  seed {seed} {kind:<9} rare recall {r['rare_recall']:.3f}  macro F1 "
                  f"{r['macro_f1']:.3f}  accuracy {r['accuracy']:.3f}", flush=True)
    print("\n| study | objective, class_weight | rare-class test recall: median (worst) | "
          "test macro F1: median (worst) | test accuracy: median |")
    print("| --- | --- | ---: | ---: | ---: |")
    for kind, (objective, weights) in STUDIES.items():
        mine = [r for r in rows if r["kind"] == kind]
        rec = [r["rare_recall"] for r in mine]
        f1 = [r["macro_f1"] for r in mine]
        print(f"| {kind} | {objective}, {weights} | {statistics.median(rec):.3f} "
              f"({min(rec):.3f}) | {statistics.median(f1):.3f} ({min(f1):.3f}) | "
              f"{statistics.median(r['accuracy'] for r in mine):.3f} |")
    for kind in STUDIES:
        r = next(r for r in rows if r["kind"] == kind)
        print(f"\nseed {r['seed']}, {kind}: best trial's test confusion matrix "
              "(rows true, columns predicted)")
        print("       " + " ".join(f"{c[:6]:>6}" for c in r["classes"]))
        for name, row in zip(r["classes"], r["matrix"]):
            print(f"{name[:6]:>6} " + " ".join(f"{v:>6}" for v in row))


if __name__ == "__main__":
    main()
