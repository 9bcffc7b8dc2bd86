"""The GPU check, prepared to run in one go on a machine with an NVIDIA GPU: the same space,
data and trial count, side by side in one invocation, for

  * cpu              `--gpus none` (this machine's CPU, the reference)
  * gpu              one worker on the first GPU, float32
  * gpu mixed        the same with `mixed_precision: true` (float16 compute)
  * gpu 2 per GPU    `--trials-per-gpu 2`: two workers (two trials at once) on that GPU

Prints trials per minute and each row's ratio to the CPU row, plus the GPU's name and the
TensorFlow build, as a Markdown table for benchmarks/RESULTS.md. Rows that need a GPU are
skipped, saying so, on a machine without one.

    PYTHONPATH=. python benchmarks/gpu.py [--trials 12] [--epochs 4] [--size 10000]

The data is the generated shapes set (32x32x3, 6 classes; benchmarks/datasets.py), big
enough that a trial is more than start-up; the space is a fixed 3-block CNN with batch size
128, so every row trains the same models.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPACE = """
name: gpu
training: {{epochs: {epochs}, patience: {epochs}, objective: val_accuracy, seed: 0}}
search: {{engine: optuna, algorithm: random, pruner: none}}
params:
  n_blocks: 3
  filters: [32, 64]
  batch_norm: true
  dense_units: 128
  learning_rate: {{type: float, low: 1.0e-3, high: 3.0e-3, log: true}}
  batch_size: 128
  mixed_precision: {mixed}
"""


def gpu_name() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = out.stdout.strip().splitlines()
    return lines[0].strip() if out.returncode == 0 and lines else None


def run(data: Path, work: Path, name: str, mixed: bool, extra: list[str], trials: int,
        epochs: int) -> float:
    folder = work / name.replace(" ", "-")
    folder.mkdir()
    (folder / "gpu.yaml").write_text(SPACE.format(epochs=epochs, mixed=str(mixed).lower()))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "cnntune", "search", "--space", "gpu.yaml",
                        "--data", str(data), "--trials", str(trials), "-q", *extra],
                       cwd=folder, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"{name} failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return wall


def main() -> None:
    import numpy as np

    from benchmarks.datasets import make_shapes

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--size", type=int, default=10000, help="images in the shapes set")
    args = ap.parse_args()
    gpu = gpu_name()
    import tensorflow as tf

    build = tf.sysconfig.get_build_info()
    print(f"GPU: {gpu or 'none'}; TensorFlow {tf.__version__} (CUDA "
          f"{build.get('cuda_version', '-')}, cuDNN {build.get('cudnn_version', '-')}); "
          f"{os.cpu_count()} CPU cores; {args.trials} trials x {args.epochs} epochs on "
          f"shapes ({args.size} images 32x32x3)", flush=True)
    rows = [("cpu", False, ["--gpus", "none"])]
    if gpu:
        rows += [("gpu", False, ["--gpus", "0"]), ("gpu mixed", True, ["--gpus", "0"]),
                 ("gpu 2 per GPU", False, ["--gpus", "0", "--trials-per-gpu", "2"])]
    else:
        print("no GPU visible: the gpu rows are skipped")
    with tempfile.TemporaryDirectory(prefix="cnntune-gpu-") as d:
        work = Path(d)
        x, y = make_shapes(n=args.size)
        np.savez(work / "shapes.npz", x=x, y=y)
        walls = {}
        for name, mixed, extra in rows:
            walls[name] = run(work / "shapes.npz", work, name, mixed, extra, args.trials,
                              args.epochs)
            print(f"{name}: {walls[name]:.1f} s", flush=True)
    cpu = walls["cpu"]
    print(f"\n| {gpu or 'no GPU'} | wall s | trials/min | x cpu |")
    print("| --- | ---: | ---: | ---: |")
    for name, wall in walls.items():
        print(f"| {name} | {wall:.1f} | {60 * args.trials / wall:.1f} | {cpu / wall:.2f} |")


if __name__ == "__main__":
    main()
