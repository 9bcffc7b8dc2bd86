"""What placing a study's workers with Ray costs, on this machine, side by side in one
invocation: the same space, data, trial count and PostgreSQL study storage for

  * hand-started    `cnntune search --workers 2` (two local processes, the baseline)
  * ray, 1 node     `--ray ADDRESS --workers 2` on a local head with 2 CPUs
  * ray, 2 nodes    `--ray ADDRESS --workers 2` on a head and a second node, 1 CPU each

each worker with 1 TensorFlow thread. Prints wall time, trials per minute, and Ray's overhead
per trial against the hand-started workers ((wall - baseline wall) / trials); the clusters
are started before the clock starts (their start-up is printed apart).

    PYTHONPATH=. .venv/bin/python benchmarks/ray_workers.py [--trials 8] [--epochs 3]

Both Ray nodes are on this one 2-core machine: two nodes add no cores here, so what the
2-node row measures is cross-node placement and the event path, not scaling.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid

from benchmarks.workers import SPACE  # the same space as the hand-started benchmark
from tests.integration.ray_cluster import LocalCluster

PG = "postgresql://postgres@127.0.0.1:5432/test"


def run(extra: list[str], trials: int, epochs: int) -> float:
    import optuna

    study = f"bench-ray-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="cnntune-ray-") as d:
        with open(os.path.join(d, "bench.yaml"), "w") as f:
            f.write(SPACE)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "cnntune", "search", "--space", "bench.yaml",
                            "--study", study, "--storage", PG, "--workers", "2", "--threads",
                            "1", "--trials", str(trials), "--epochs", str(epochs), "-q",
                            *extra], cwd=d, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    try:
        optuna.delete_study(study_name=study, storage=PG)
    except KeyError:
        pass
    if r.returncode != 0:
        sys.exit(f"{' '.join(extra) or 'hand-started'} failed: "
                 f"{(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    print(f"{args.trials} trials of {args.epochs} epochs on digits, 2 workers of 1 thread, "
          f"{os.cpu_count()} cores, PostgreSQL storage")
    walls = {"hand-started": run([], args.trials, args.epochs)}
    for name, nodes in (("ray, 1 node", [{"cpus": 2}]),
                        ("ray, 2 nodes", [{"cpus": 1}, {"cpus": 1}])):
        t0 = time.perf_counter()
        with LocalCluster(nodes) as cluster:
            print(f"({name}: cluster up in {time.perf_counter() - t0:.1f} s, not counted)")
            walls[name] = run(["--ray", cluster.address], args.trials, args.epochs)
    base = walls["hand-started"]
    print("\n| workers | wall s | trials/min | overhead per trial s |")
    print("| --- | ---: | ---: | ---: |")
    for name, wall in walls.items():
        over = "" if name == "hand-started" else f"{(wall - base) / args.trials:+.2f}"
        print(f"| {name} | {wall:.1f} | {60 * args.trials / wall:.1f} | {over} |")


if __name__ == "__main__":
    main()
