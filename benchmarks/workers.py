"""Trials per minute on this machine with 1 and 2 workers on one study (journal storage),
the same space, data and trial count, each run in a fresh folder; prints the ratio.

    .venv/bin/python benchmarks/workers.py [--trials 12] [--epochs 3]

Each worker gets cores/N TensorFlow threads, so two workers share the cores instead of
oversubscribing them; what two workers gain is the time a single one spends outside
TensorFlow's parallel kernels (Python, data pipeline start, MLflow, process start).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

SPACE = """
name: bench
data: {source: digits, val_fraction: 0.2, test_fraction: 0.2}
training: {epochs: 3, patience: 3, objective: val_accuracy, seed: 0}
search: {engine: optuna, algorithm: random, pruner: none, trials: 12}
params:
  n_blocks: {type: int, low: 1, high: 2}
  filters: [16, 32]
  dense_units: [0, 64]
  learning_rate: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}
  batch_size: 64
"""


def run(workers: int, trials: int, epochs: int) -> float:
    with tempfile.TemporaryDirectory(prefix=f"cnntune-w{workers}-") as d:
        with open(os.path.join(d, "bench.yaml"), "w") as f:
            f.write(SPACE)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "cnntune", "search", "--space", "bench.yaml",
                            "--workers", str(workers), "--trials", str(trials), "--epochs",
                            str(epochs), "-q"], cwd=d, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            sys.exit(f"workers={workers} failed: {r.stderr.strip().splitlines()[-1]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    print(f"{args.trials} trials of {args.epochs} epochs on digits, {os.cpu_count()} cores")
    walls = {n: run(n, args.trials, args.epochs) for n in (1, 2)}
    for n, wall in walls.items():
        print(f"workers={n}: {wall:6.1f} s wall, {60 * args.trials / wall:5.1f} trials/min")
    print(f"ratio 2 workers / 1 worker (trials per minute): {walls[1] / walls[2]:.2f}")


if __name__ == "__main__":
    main()
