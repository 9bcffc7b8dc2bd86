"""--timeout on real-size data: does every budget end on time, with a trained model?

A grid, every cell one `cnntune search --data SET --timeout S` process on this machine, timed
from before the process starts to after it exits (what the user waits for):

    training size   2,000 / 20,000 / 60,000 / 200,000 images (plus a test split of a sixth,
                    at most 10,000; cnntune carves the validation split from training)
    image size      28x28x1 (digits28: warped handwriting), 32x32x3 and 64x64x3 (shapes)
    storage         memory (an .npz) / disk (an image folder, data.in_memory: false, its
                    decoded store made before the cell is timed)
    --timeout       60 / 300 / 900 s

Cells that would hold more than 4 GB of images in memory (cnntune holds an in-memory set ~3
times over: study process, trial worker, tf.data cache) are skipped, as are cells over 15
minutes. For each cell: wall time against the budget and the bound (S + max(2% of S, 5 s));
trials COMPLETE, PRUNED, FAIL and how many were cut at the deadline; the best trial's test
accuracy (scored afterwards by `cnntune best` from its kept weights when the deadline came
before its test split was scored: marked *); the scoring after fit as planned by the trial's
clock against what it took. One JSON line per cell is appended to deadlines-runs.jsonl.

    .venv/bin/python benchmarks/deadlines.py --timeouts 60 --work /tmp/deadlines
    .venv/bin/python benchmarks/deadlines.py --summary          # the table of recorded cells
    .venv/bin/python benchmarks/deadlines.py --recipe --seeds 0 1 2   # keras.io's convnet
    .venv/bin/python benchmarks/deadlines.py --teardown         # tf.data teardown, autotune on/off

``--recipe``: on digits28 (60,000 x 28 x 28; ``--data digits28-writers``: 48,000 + 12,000
validation from other writers), cnntune's `search --timeout 300` against the keras.io "Simple
MNIST convnet" recipe (two conv layers, dropout, batch 128, Adam; validating on 10% of x, or on
the set's own validation split) trained in its own process until the same 300 s from its start
are up (its test scoring inside them), side by side in one invocation per seed.

``--teardown``: the same trial-like fit (checks over a repeated in-memory pipeline, ~80 s)
run with cnntune's pipelines as they are (tf.data autotuning off) and with autotuning on;
prints how long the training iterator took to be freed once fit had ended, and the seconds a
check took.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RUNS = HERE / "deadlines-runs.jsonl"
SIZES = (2_000, 20_000, 60_000, 200_000)
IMAGES = ("28x28x1", "32x32x3", "64x64x3")
STORAGE = ("memory", "disk")
TIMEOUTS = (60, 300, 900)
RAM_LIMIT = 4 * 2**30  # bytes of images a cell may hold in memory, all copies counted
COPIES = 3  # an in-memory set: study process, trial worker, tf.data cache
CELL_LIMIT_S = 15 * 60


def bound(timeout: float) -> float:
    """The most a --timeout S command may take: S + max(2% of S, 5 s) (cnntune.budget)."""
    from cnntune.budget import Budget

    b = Budget(0.0, timeout)
    return timeout + b.overrun


def test_size(n: int) -> int:
    return min(10_000, n // 6)


def make_set(image: str, n: int, work: Path) -> Path:
    """The cell's data as an .npz (x_train/y_train, x_test/y_test), made once in ``work``."""
    from datasets import make_digits28, make_shapes

    path = work / f"{image}-{n}.npz"
    if path.exists():
        return path
    h, w, c = map(int, image.split("x"))
    t0 = time.time()
    if c == 1:
        x, y = make_digits28(n, seed=0)
        xt, yt = make_digits28(test_size(n), seed=1, test=True)
        names = [str(i) for i in range(10)]
    else:
        x, y = make_shapes(n, h, seed=0)
        xt, yt = make_shapes(test_size(n), h, seed=1)
        names = ["circle", "square", "triangle", "cross", "ring", "bar"]
    np.savez(path, x_train=x, y_train=y, x_test=xt, y_test=yt, class_names=np.array(names))
    print(f"made {path.name} in {time.time() - t0:.0f} s", flush=True)
    return path


def make_folder(npz: Path, work: Path) -> Path:
    """The same images as a folder of PNGs (train/<class>/, test/<class>/), made once."""
    from PIL import Image

    folder = work / npz.stem
    done = folder / ".complete"
    if done.exists():
        return folder
    t0 = time.time()
    with np.load(npz) as d:
        names = [str(s) for s in d["class_names"]]
        for part in ("train", "test"):
            x, y = d[f"x_{part}"], d[f"y_{part}"]
            for k in range(len(names)):
                (folder / part / names[k]).mkdir(parents=True, exist_ok=True)
            for i in range(len(y)):
                img = x[i, ..., 0] if x.shape[-1] == 1 else x[i]
                Image.fromarray(img).save(folder / part / names[y[i]] / f"{i:06d}.png")
    done.touch()
    print(f"made {folder.name}/ in {time.time() - t0:.0f} s", flush=True)
    return folder


def disk_space(folder: Path, cell: Path) -> Path:
    """The auto space cnntune picks for ``folder``, with data.in_memory: false, as a file;
    its decoded store made now, so the timed run reads it."""
    out = subprocess.run([sys.executable, "-m", "cnntune", "space", "show", "--data",
                          str(folder)], capture_output=True, text=True, check=True).stdout
    text = "\n".join(line for line in out.splitlines() if not line.startswith("#"))
    text = text.replace("data: {", "data: {in_memory: false, ", 1)
    path = cell / "space.yaml"
    path.write_text(text + "\n")
    from cnntune.data import load_dataset
    from cnntune.space import load_space

    sp = load_space(path)
    load_dataset(None, str(folder), seed=sp.training.seed, base_dir=None, task=sp.spec.task,
                 **sp.data.load_kwargs())
    return path


def skip_reason(image: str, n: int, storage: str, timeout: int) -> str | None:
    h, w, c = map(int, image.split("x"))
    held = (n + test_size(n)) * h * w * c * COPIES
    if storage == "memory" and held > RAM_LIMIT:
        return f"needs {held / 2**30:.1f} GB of RAM in memory"
    if timeout + 30 > CELL_LIMIT_S + 60:
        return "over 15 minutes"
    return None


def run_cell(image: str, n: int, storage: str, timeout: int, work: Path) -> dict:
    npz = make_set(image, n, work)
    cell = work / "cells" / f"{image}-{n}-{storage}-{timeout}"
    if cell.exists():
        import shutil

        shutil.rmtree(cell)
    cell.mkdir(parents=True)
    args = ["--data", str(npz)]
    if storage == "disk":
        folder = make_folder(npz, work)
        args = ["--space", str(disk_space(folder, cell)), "--data", str(folder)]
    events = cell / "events.jsonl"
    env = dict(os.environ)  # CNNTUNE_CACHE: the work folder's (grid), the store made above
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "cnntune", "search", *args, "--timeout",
                           str(timeout), "--jsonl", str(events), "--quiet"], cwd=cell, env=env,
                          capture_output=True, text=True)
    wall = time.time() - t0
    (cell / "stdout.txt").write_text(proc.stdout + proc.stderr)
    lines = [json.loads(line) for line in events.read_text().splitlines()] \
        if events.exists() else []
    ends = [e for e in lines if e["event"] == "trial_end"]
    result = next((e for e in lines if e["event"] == "study_end"), {})
    best = result.get("best") or {}
    test = (best.get("metrics") or {}).get("test_accuracy")
    scored_later = False
    if best and test is None and result.get("study"):  # cut before its test split was scored
        out = subprocess.run([sys.executable, "-m", "cnntune", "best", result["study"],
                              "--format", "json"], cwd=cell, env=env, capture_output=True,
                             text=True)
        if out.returncode == 0:
            test = json.loads(out.stdout)["metrics"].get("test_accuracy")
            scored_later = True
    scoring = [(e["metrics"]["scoring_planned_seconds"], e["metrics"]["scoring_seconds"])
               for e in ends if "scoring_seconds" in e["metrics"]]
    return {
        "cell": {"image": image, "n_train": n, "storage": storage, "timeout": timeout},
        "exit": proc.returncode, "wall": round(wall, 2), "bound": bound(timeout),
        "over": round(wall - timeout, 2),
        "states": {s: sum(e["state"] == s for e in ends) for s in ("COMPLETE", "PRUNED", "FAIL")},
        "cut": sum(e.get("stopped") == "deadline" for e in ends),
        "cut_fail": sum(e.get("stopped") == "deadline" and e["state"] == "FAIL" for e in ends),
        "unscored": sum(bool(e.get("unscored")) for e in ends),
        "best_test_accuracy": test, "scored_later": scored_later,
        "scoring_planned_vs_taken": scoring, "advice": result.get("advice"),
        "error": None if proc.returncode == 0 else (proc.stderr.strip().splitlines() or [""])[-1],
    }


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=HERE).stdout.strip()
    except OSError:
        return "?"


def grid(args) -> None:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    # decoded image stores (disk cells) in the work folder, for every process of the grid
    os.environ["CNNTUNE_CACHE"] = str(work / "cache")
    for timeout in args.timeouts:
        for image in args.images:
            for n in args.sizes:
                for storage in args.storage:
                    why = skip_reason(image, n, storage, timeout)
                    name = f"{image} {n:>7,} {storage:<6} {timeout:>4}s"
                    if why:
                        print(f"{name}  skipped: {why}", flush=True)
                        _record({"cell": {"image": image, "n_train": n, "storage": storage,
                                          "timeout": timeout}, "skipped": why})
                        continue
                    rec = run_cell(image, n, storage, timeout, work)
                    _record(rec)
                    print(f"{name}  {_row(rec)}", flush=True)


def _record(rec: dict) -> None:
    rec = {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit(), **rec}
    with open(RUNS, "a") as f:
        f.write(json.dumps(rec) + "\n")


def _row(r: dict) -> str:
    if r.get("skipped"):
        return f"skipped: {r['skipped']}"
    s = r["states"]
    test = "-" if r["best_test_accuracy"] is None else \
        f"{r['best_test_accuracy']:.4f}{'*' if r['scored_later'] else ''}"
    sc = r["scoring_planned_vs_taken"]
    scoring = ", ".join(f"{p:.1f}/{t:.1f}" for p, t in sc[-2:]) or "-"
    return (f"wall {r['wall']:.1f}s (bound {r['bound']:.0f}) | {s['COMPLETE']} complete "
            f"{s['PRUNED']} pruned {s['FAIL']} fail | cut {r['cut']} ({r['cut_fail']} failed) "
            f"| test {test} | scoring planned/took s: {scoring}")


def summary(_args) -> None:
    """The latest record of every cell, as a Markdown table."""
    cells = {}
    for line in RUNS.read_text().splitlines() if RUNS.exists() else []:
        r = json.loads(line)
        if "cell" in r:
            c = r["cell"]
            cells[(c["timeout"], c["image"], c["n_train"], c["storage"])] = r
    print("| --timeout | image | train | storage | wall s | over | complete / pruned / fail "
          "| cut (failed) | best test acc | scoring planned / took (s, last 2) |")
    print("| ---: | --- | ---: | --- | ---: | ---: | --- | --- | ---: | --- |")
    for (t, image, n, storage), r in sorted(cells.items()):
        if r.get("skipped"):
            print(f"| {t} | {image} | {n:,} | {storage} | skipped: {r['skipped']} |||||")
            continue
        s = r["states"]
        test = "-" if r["best_test_accuracy"] is None else \
            f"{r['best_test_accuracy']:.4f}{'*' if r['scored_later'] else ''}"
        sc = ", ".join(f"{p:.1f} / {q:.1f}" for p, q in r["scoring_planned_vs_taken"][-2:])
        print(f"| {t} | {image} | {n:,} | {storage} | {r['wall']:.1f} | {r['over']:+.1f} | "
              f"{s['COMPLETE']} / {s['PRUNED']} / {s['FAIL']} | {r['cut']} ({r['cut_fail']}) | "
              f"{test} | {sc or '-'} |")
    done = [r for r in cells.values() if not r.get("skipped")]
    if done:
        worst = max(done, key=lambda r: r["wall"] - r["bound"])
        print(f"\n{len(done)} cells run; worst margin to the bound: "
              f"{worst['bound'] - worst['wall']:+.1f} s ({worst['cell']}); cells without a "
              f"complete trial: {sum(r['states']['COMPLETE'] == 0 for r in done)}; cut trials "
              f"that failed: {sum(r['cut_fail'] for r in done)}")


# -- the keras.io recipe ----------------------------------------------------------------

RECIPE = r'''
import sys, time, json
t_start = float(sys.argv[3])
import numpy as np
import keras
from keras import layers
budget = float(sys.argv[2])
d = np.load(sys.argv[1])
x, y = d["x_train"].astype("float32") / 255, d["y_train"]
xt, yt = d["x_test"].astype("float32") / 255, d["y_test"]
# a set with its own validation split validates on it; else 10% of x, as the recipe does
val = dict(validation_data=(d["x_val"].astype("float32") / 255, d["y_val"])) \
    if "x_val" in d.files else dict(validation_split=0.1)
keras.utils.set_random_seed(int(sys.argv[4]))
# keras.io/examples/vision/mnist_convnet (fchollet): the model, batch 128, Adam, 10% validation
model = keras.Sequential([keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, kernel_size=(3, 3), activation="relu"), layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Conv2D(64, kernel_size=(3, 3), activation="relu"), layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Flatten(), layers.Dropout(0.5), layers.Dense(10, activation="softmax")])
model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
reserve = 6.0  # scoring the test split and exiting

class Budget(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if time.time() > t_start + budget - reserve:
            self.model.stop_training = True

h = model.fit(x, y, batch_size=128, epochs=1000, verbose=0, callbacks=[Budget()], **val)
loss, acc = model.evaluate(xt, yt, verbose=0)
print(json.dumps({"test_accuracy": float(acc), "epochs": len(h.history["loss"]),
                  "seconds": time.time() - t_start}))
'''


def recipe(args) -> None:
    from datasets import dataset_path

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = dataset_path(args.data, work)
    for seed in args.seeds:
        rec = {"recipe": True, "budget": args.budget, "seed": seed, "data": args.data}
        cell = work / f"recipe-{args.data}-{seed}"
        if cell.exists():
            import shutil

            shutil.rmtree(cell)
        cell.mkdir(parents=True)
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-m", "cnntune", "search", "--data", str(data),
                               "--timeout", str(args.budget), "--seed", str(seed), "--jsonl",
                               str(cell / "events.jsonl"), "--quiet"], cwd=cell,
                              capture_output=True, text=True)
        wall = time.time() - t0
        end = [json.loads(line) for line in (cell / "events.jsonl").read_text().splitlines()
               if '"study_end"' in line]
        best = (end[0].get("best") or {}) if end else {}
        m = best.get("metrics") or {}
        rec["cnntune"] = {"test_accuracy": m.get("test_accuracy"), "wall": round(wall, 1),
                          "trials": end[0].get("new_trials") if end else None,
                          "exit": proc.returncode}
        t0 = time.time()
        script = cell / "recipe.py"
        script.write_text(RECIPE)
        out = subprocess.run([sys.executable, str(script), str(data), str(args.budget),
                              str(t0), str(seed)], capture_output=True, text=True)
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        rec["keras_io"] = {**(json.loads(lines[-1]) if lines else {"error": out.stderr[-300:]}),
                           "wall": round(time.time() - t0, 1)}
        _record(rec)
        print(f"seed {seed}: cnntune test {rec['cnntune']['test_accuracy']} in "
              f"{rec['cnntune']['wall']} s ({rec['cnntune']['trials']} trials); keras.io "
              f"recipe test {rec['keras_io'].get('test_accuracy')} in {rec['keras_io']['wall']} s "
              f"({rec['keras_io'].get('epochs')} epochs)", flush=True)


# -- the teardown of a long-lived training iterator ----------------------------------------

TEARDOWN = r'''
import sys, time, json
import numpy as np
from cnntune._quiet import import_tensorflow_quietly
import_tensorflow_quietly()
import keras
import tensorflow as tf
from cnntune.data.dataset import Split
from cnntune.worker.train import compile_model
from cnntune.worker.trial import build_trial_model
from cnntune.data import Dataset
autotune = sys.argv[1] == "on"
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (48000, 28, 28, 1), dtype=np.uint8); y = rng.integers(0, 10, 48000)
sp = Split(x, y)
data = Dataset("t", sp, sp.head(3000), sp.head(3000), [str(i) for i in range(10)], 1 / 255)
knobs, model = build_trial_model(dict(n_blocks=3, filters=12, batch_norm=True, batch_size=128,
                                      head="global_average", aug_translation=0.1), data, None)
train = sp.pipeline(128, training=True, seed=0)
val = data.val.pipeline(128, training=False, seed=0)
if autotune:  # as before: tf.data's autotuning thread on
    o = tf.data.Options(); o.autotune.enabled = True
    train, val = train.with_options(o), val.with_options(o)
compile_model(model, knobs, train, None)
marks = []
class Mark(keras.callbacks.Callback):
    def on_epoch_end(self, e, logs=None): marks.append(time.time())
    def on_train_end(self, logs=None): marks.append(time.time())
steps = -(-int(train.cardinality()) // 4)
t0 = time.time()
model.fit(train.repeat(), validation_data=val, epochs=int(sys.argv[2]), steps_per_epoch=steps,
          verbose=0, callbacks=[Mark()])
t1 = time.time()
print(json.dumps({"teardown_s": t1 - marks[-1], "check_s": (marks[-2] - t0) / (len(marks) - 1)}))
'''


def teardown(args) -> None:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    script = work / "teardown.py"
    script.write_text(TEARDOWN)
    for run in range(args.runs):
        for mode in ("off", "on"):
            out = subprocess.run([sys.executable, str(script), mode, str(args.checks)],
                                 capture_output=True, text=True)
            lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
            r = json.loads(lines[-1]) if lines else {"error": out.stderr[-300:]}
            _record({"teardown": True, "autotune": mode, "run": run, "checks": args.checks, **r})
            nan = float("nan")
            print(f"run {run} autotune {mode:<3}: teardown {r.get('teardown_s', nan):.2f} s, "
                  f"a check {r.get('check_s', nan):.2f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/cnntune-deadlines")
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--images", nargs="+", default=list(IMAGES), choices=IMAGES)
    ap.add_argument("--storage", nargs="+", default=list(STORAGE), choices=STORAGE)
    ap.add_argument("--timeouts", type=int, nargs="+", default=list(TIMEOUTS))
    ap.add_argument("--summary", action="store_true", help="print the recorded cells")
    ap.add_argument("--recipe", action="store_true", help="cnntune against keras.io's convnet")
    ap.add_argument("--budget", type=int, default=300)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--data", default="digits28", choices=("digits28", "digits28-writers"),
                    help="--recipe: the 60,000 x 28 x 28 set")
    ap.add_argument("--teardown", action="store_true", help="tf.data teardown, autotune on/off")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--checks", type=int, default=32, help="--teardown: checks a fit runs")
    args = ap.parse_args()
    if args.summary:
        summary(args)
    elif args.recipe:
        recipe(args)
    elif args.teardown:
        teardown(args)
    else:
        grid(args)


if __name__ == "__main__":
    main()
