"""CLI start-up: `cnntune --help` and `cnntune space validate` against `python -c "import
tensorflow"` (what a CLI that imports its framework at the top pays before it can answer).

Each command runs as a whole fresh process, in turn (A B C A B C ...) after one warm-up round,
so a drift in the machine's speed hits all of them alike; prints the median wall time of each
and its ratio to the TensorFlow import.

    .venv/bin/python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commands() -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "cnntune"]
    return {
        "cnntune --help": cli + ["--help"],
        "cnntune space validate default": cli + ["space", "validate", "default"],
        "python -c 'import tensorflow'": [sys.executable, "-c", "import tensorflow"],
    }


def timed(cmd: list[str]) -> float:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed with exit code {proc.returncode}: "
                 f"{proc.stderr.strip().splitlines()[-1:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="counted runs of each command")
    args = ap.parse_args()
    cmds = commands()
    for cmd in cmds.values():  # warm-up: file cache, .pyc files
        timed(cmd)
    walls: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(args.runs):
        for name, cmd in cmds.items():
            walls[name].append(timed(cmd))
    ref = statistics.median(walls["python -c 'import tensorflow'"])
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}; {args.runs} runs each, "
          "interleaved; wall seconds")
    print(f"{'command':<34}{'median':>8}{'min':>8}{'max':>8}{'x import tf':>12}")
    for name, w in walls.items():
        med = statistics.median(w)
        print(f"{name:<34}{med:>8.3f}{min(w):>8.3f}{max(w):>8.3f}{med / ref:>12.2f}")


if __name__ == "__main__":
    main()
