"""Classify sensor time series with a 1D CNN: generate a CSV, search the conv1d space on it.

    python examples/sequences.py                 # 1,500 sequences, 8 trials, a minute or two
    python examples/sequences.py --n 300 --trials 2 --epochs 8   # the size the tests use

The data mimics a 3-axis accelerometer at 32 Hz over 2 s (64 steps x 3 channels): 'idle'
(noise around gravity), 'walking' (about 2 Hz steps, mostly vertical) and 'running' (about 3
Hz, stronger, with sideways sway). Each CSV row is one sequence: a 'label' column, then the
values time-major (t0 x, t0 y, t0 z, t1 x, ...), which `data.channels: 3` reshapes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import cnntune

CLASSES = ["idle", "walking", "running"]


def make_csv(path: Path, n: int, seed: int = 0, steps: int = 64) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(steps) / 32.0
    rows, labels = [], []
    for i in range(n):
        k = i % 3
        x = rng.normal(0, 0.15, (steps, 3))
        x[:, 2] += 1.0  # gravity on the vertical axis
        if k > 0:
            f = rng.uniform(1.6, 2.4) if k == 1 else rng.uniform(2.6, 3.4)
            amp = rng.uniform(0.3, 0.6) if k == 1 else rng.uniform(0.6, 1.0)
            phase = rng.uniform(0, 2 * np.pi)
            x[:, 2] += amp * np.sin(2 * np.pi * f * t + phase)
            x[:, 0] += amp * (0.2 if k == 1 else 0.5) * np.sin(np.pi * f * t + phase)
        rows.append(x.reshape(-1))
        labels.append(CLASSES[k])
    cols = [f"t{s}_{axis}" for s in range(steps) for axis in "xyz"]
    df = pd.DataFrame(np.array(rows, dtype="float32"), columns=cols)
    df.insert(0, "label", labels)
    df.to_csv(path, index=False)
    return path


def main(n: int = 1500, trials: int = 8, epochs: int = 20, workdir: Path = Path("."),
         isolate: bool = True) -> cnntune.SearchResult:
    workdir = Path(workdir)
    csv = make_csv(workdir / "activity.csv", n)
    space = workdir / "activity.yaml"
    # the shipped conv1d space, pointed at this CSV with 3 channels
    text = (Path(__file__).resolve().parent.parent / "search_spaces" / "conv1d.yaml").read_text()
    text = text.replace("data: {source: waveforms, kind: sequence,",
                        "data: {source: csv, path: activity.csv, channels: 3, kind: sequence,")
    space.write_text(text.replace("name: conv1d", "name: activity"))
    result = cnntune.search(space, trials=trials, epochs=epochs, isolate=isolate,
                            storage=f"sqlite:///{workdir}/mlruns/optuna.db",
                            tracking_uri=f"sqlite:///{workdir}/mlruns/mlflow.db")
    best = result.best
    print(f"{csv.name}: {n} sequences of 64 steps x 3 channels, 3 classes (chance 0.33)")
    print(f"best trial {best.number}: val {best.value:.3f}, test "
          f"{best.metrics['test_accuracy']:.3f}, {int(best.metrics['n_params']):,} params")
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=20)
    args = ap.parse_args()
    main(args.n, args.trials, args.epochs)
