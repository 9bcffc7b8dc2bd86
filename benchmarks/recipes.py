"""Modern recipes, measured (issue 43): each knob added alone to the auto space's first
known-good configuration for the data, trained for the same wall time, over seeds; and the
auto space as a whole search, for comparing it before and after a change.

A row is one configuration trained as a one-trial study with ``--timeout BUDGET`` (the
trial's clock plans its epochs and its cosine schedule to end in time, so a knob that costs
time pays for it in epochs): its best test accuracy, epochs and seconds per epoch. ``auto``
is a whole search of the auto space (warm starts, TPE) in the same budget.

    python benchmarks/recipes.py --data shapes textures mnist1d --budget 300 --seeds 0 1 2 \\
        --record benchmarks/recipes-runs.jsonl
    python benchmarks/recipes.py --summary benchmarks/recipes-runs.jsonl

Rows that do not apply to a data set are skipped: on MNIST-1D (the conv1d family) only SE,
MixUp, CutMix and EMA apply; drop_path is the resnet family's, so ``resnet`` (the same
configuration as a resnet) is its row's baseline; ``hybrid`` is the conv-transformer family.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import dataset_path  # noqa: E402

DATA = ("shapes", "textures", "mnist1d")
# name -> (what it adds to the known-good configuration, the kinds of data it applies to)
ROWS = {
    "baseline": ({}, ("image", "sequence")),
    "se": ({"se_ratio": 8}, ("image", "sequence")),
    "mixup": ({"aug_mixup": 0.2}, ("image", "sequence")),
    "cutmix": ({"aug_cutmix": 1.0}, ("image", "sequence")),
    "ema": ({"ema": 0.99}, ("image", "sequence")),
    "se+mixup": ({"se_ratio": 8, "aug_mixup": 0.2}, ("image", "sequence")),  # the two leaders
    "randaugment": ({"aug_randaugment": 2, "aug_randaugment_magnitude": 0.3}, ("image",)),
    "erasing": ({"aug_erasing": 0.25}, ("image",)),
    "augmix": ({"aug_augmix": 0.3}, ("image",)),
    "resnet": ({"family": "resnet"}, ("image",)),
    "resnet+drop_path": ({"family": "resnet", "drop_path": 0.1}, ("image",)),
    # the conv-transformer: one conv stage fewer, so its attention sees the 4x4 (shapes) or
    # 6x6 (textures) maps as tokens of one pixel each
    "hybrid": (lambda c: {"family": "hybrid", "n_blocks": max(1, c["n_blocks"] - 1),
                          "patch_size": 1, "attn_dim": 64, "attn_heads": 4, "attn_blocks": 2},
               ("image",)),
    "auto": (None, ("image", "sequence")),  # the whole auto space, searched
}
SPLIT = {"val_fraction": 0.2, "test_fraction": 0.2}


def profile(src):
    from cnntune.data import load_dataset
    from cnntune.tuning.autospace import DataProfile

    return DataProfile.of(load_dataset(None, src, seed=0, **SPLIT))


def space_yaml(config: dict, seed: int) -> str:
    """A one-configuration space: every knob fixed, no warm start, one trial that trains
    until the deadline (no early stopping: the trial's clock plans its epochs and its cosine
    schedule to end in time, and the best epoch's weights are kept)."""
    params = "\n".join(f"  {k}: {json.dumps(v)}" for k, v in config.items())
    return (f"name: recipe\ndata: {{val_fraction: 0.2, test_fraction: 0.2}}\n"
            f"training: {{epochs: 500, patience: 500, objective: val_accuracy, seed: {seed}}}\n"
            f"search: {{engine: optuna, algorithm: random, pruner: none, trials: 1}}\n"
            f"start_from: []\nparams:\n{params}\n")


def run_row(data: str, row: str, budget: float, seed: int, work: Path) -> dict:
    """One row in this process: the best trial's figures."""
    import cnntune
    from cnntune.tuning.autospace import known_good

    src = dataset_path(data, work)
    adds, _ = ROWS[row]
    config = None
    if adds is not None:
        config = known_good(profile(src))[0]
        config = {**config, **(adds(config) if callable(adds) else adds)}
        space = work / "recipe.yaml"
        space.write_text(space_yaml(config, seed))
    trials = []

    def hook(kind, p):
        if kind == "trial_end" and p["state"] == "COMPLETE":
            m = p["metrics"]
            trials.append({"val": p["value"], "test": m.get("test_accuracy"),
                           "epochs": m.get("epochs"), "fit_seconds": m.get("fit_seconds")})

    t0 = time.time()
    # a row is one trial (--timeout alone would run trials until the time is up); the auto
    # row is a whole search
    cnntune.search(None if adds is None else space, data=src, timeout=budget, started=t0,
                   seed=seed, trials=None if adds is None else 1,
                   storage=f"journal:{work}/o.journal", tracking_uri=f"sqlite:///{work}/m.db",
                   on_event=hook)
    wall = time.time() - t0
    best = max(trials, key=lambda t: t["val"]) if trials else {}
    per_epoch = (best["fit_seconds"] / best["epochs"]) if best.get("epochs") else None
    return {"data": data, "row": row, "budget": budget, "seed": seed, "config": config,
            "trials": len(trials), "best_val": best.get("val"), "test": best.get("test"),
            "epochs": best.get("epochs"), "seconds_per_epoch": per_epoch, "wall": wall}


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        return "?"


def summary(path: Path) -> None:
    """Median and worst test accuracy per (data, budget, commit, row) over seeds, with the
    median seconds per epoch, and the difference to the baseline paired by seed (a row minus
    the baseline of the same seed and commit: their median and worst). Runs of different
    commits are kept apart: they were measured in other sessions, and this machine's speed
    moves 2x between sessions, which at a fixed wall time moves the epochs a row trains."""
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    groups: dict = {}
    for r in lines:
        groups.setdefault((r["data"], r["budget"], r.get("commit", "?"), r["row"]), []).append(r)
    print("| data | budget | commit | row | seeds | median test | worst test | vs baseline, "
          "paired: median / worst (pairs) | s/epoch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (data, budget, run, row), rs in sorted(groups.items(), key=lambda kv: (
            kv[0][0], kv[0][1], kv[0][2],
            list(ROWS).index(kv[0][3]) if kv[0][3] in ROWS else 99)):
        tests = [r["test"] for r in rs if r["test"] is not None]
        if not tests:
            continue
        base = {r["seed"]: r["test"] for r in groups.get((data, budget, run, "baseline"), [])
                if r["test"] is not None}
        paired = [r["test"] - base[r["seed"]] for r in rs
                  if r["test"] is not None and r["seed"] in base]
        diff = (f"{statistics.median(paired):+.4f} / {min(paired):+.4f} ({len(paired)})"
                if paired and row != "baseline" else "")
        spe = [r["seconds_per_epoch"] for r in rs if r.get("seconds_per_epoch")]
        print(f"| {data} | {budget:g} | {run} | {row} | {len(tests)} | "
              f"{statistics.median(tests):.4f} | {min(tests):.4f} | {diff} | "
              + (f"{statistics.median(spe):.1f} |" if spe else " |"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="+", default=list(DATA), choices=DATA)
    ap.add_argument("--budget", type=float, nargs="+", default=[300.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--rows", nargs="+", default=[r for r in ROWS if r != "auto"],
                    choices=list(ROWS))
    ap.add_argument("--record", type=Path, help="append each run as a JSON line")
    ap.add_argument("--summary", type=Path, help="print the table of a record and exit")
    ap.add_argument("--run", help=argparse.SUPPRESS)  # data,row,budget,seed: one child
    args = ap.parse_args()
    if args.summary:
        summary(args.summary)
        return
    if args.run:  # a child: one row in a fresh process, its result on the last line
        data, row, budget, seed = args.run.split(",")
        with tempfile.TemporaryDirectory() as work:
            os.environ.setdefault("PEERS_DATA_DIR", str(Path(tempfile.gettempdir())
                                                        / "cnntune-bench-data"))
            Path(os.environ["PEERS_DATA_DIR"]).mkdir(exist_ok=True)
            print(json.dumps(run_row(data, row, float(budget), int(seed), Path(work))))
        return
    import keras
    import tensorflow as tf

    kinds = {"shapes": "image", "textures": "image", "mnist1d": "sequence"}
    for budget in args.budget:
        for data in args.data:
            for seed in args.seeds:
                for row in args.rows:
                    if kinds[data] not in ROWS[row][1]:
                        continue
                    out = subprocess.run([sys.executable, __file__, "--run",
                                          f"{data},{row},{budget},{seed}"],
                                         capture_output=True, text=True)
                    if out.returncode:
                        print(f"{data} {row} seed {seed}: failed\n{out.stderr[-2000:]}")
                        continue
                    r = json.loads(out.stdout.strip().splitlines()[-1])
                    r.update(commit=commit(), machine=f"{platform.node()} "
                             f"{os.cpu_count()} cores", tensorflow=tf.__version__,
                             keras=keras.__version__, date=time.strftime("%Y-%m-%d"))
                    print(f"{data} {budget:g}s seed {seed} {row}: test {r['test']} "
                          f"epochs {r['epochs']} s/epoch {r['seconds_per_epoch']} "
                          f"wall {r['wall']:.0f}", flush=True)
                    if args.record:
                        with open(args.record, "a") as f:
                            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
