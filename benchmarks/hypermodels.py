"""KerasTuner's getting-started ``build_model(hp)``, unchanged, searched side by side by
``cnntune.Tuner`` (Optuna's TPE in cnntune's workers) and KerasTuner's own
``BayesianOptimization``, on the same arrays and budget (issue 39's item 5 target: cnntune's
median best validation accuracy at least KerasTuner's, over 3 seeds).

Each contender is one process, timed from its start; KerasTuner has no time budget, so it runs
with max_trials large and is killed at the budget: its trials finished by then count (each
prints its score as it ends). Data: digits28-writers (48,000 training and 12,000 validation
28 x 28 images whose writers the validation split does not share), scaled to [0, 1] and
one-hot, as the docs' MNIST is. Each contender's winner (its best trial by validation accuracy)
is also scored on the set's 10,000 test images, which neither search sees: the two validation
figures are not quite the same quantity (KerasTuner's is its best epoch's, chosen on the set
it is read from; cnntune's trial chooses its best check on part of it, then reads the whole).

    .venv/bin/python benchmarks/hypermodels.py --seeds 0 1 2 --budget 300
    .venv/bin/python benchmarks/hypermodels.py --summary
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RUNS = HERE / "hypermodels-runs.jsonl"

COMMON = r'''
import sys, time, json
t0 = float(sys.argv[3])
budget = float(sys.argv[2])
import numpy as np
import keras
from keras import layers

d = np.load(sys.argv[1])
x_train, x_val = d["x_train"].astype("float32") / 255, d["x_val"].astype("float32") / 255
y_train, y_val = keras.utils.to_categorical(d["y_train"], 10), \
    keras.utils.to_categorical(d["y_val"], 10)
x_test, y_test = d["x_test"].astype("float32") / 255, d["y_test"]


def test_accuracy(model):  # the winner on the test split, which no search has seen
    return float((np.asarray(model.predict(x_test, verbose=0)).argmax(axis=1) == y_test).mean())


# keras.io/keras_tuner/getting_started: the final build_model, as written there
def build_model(hp):
    model = keras.Sequential()
    model.add(layers.Flatten())
    # Tune the number of layers.
    for i in range(hp.Int("num_layers", 1, 3)):
        model.add(
            layers.Dense(
                # Tune number of units separately.
                units=hp.Int(f"units_{i}", min_value=32, max_value=512, step=32),
                activation=hp.Choice("activation", ["relu", "tanh"]),
            )
        )
    if hp.Boolean("dropout"):
        model.add(layers.Dropout(rate=0.25))
    model.add(layers.Dense(10, activation="softmax"))
    learning_rate = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
'''

CNNTUNE = COMMON + r'''
import cnntune

tuner = cnntune.Tuner(build_model, objective="val_accuracy", max_trials=1000,
                      timeout=budget - (time.time() - t0), seed=int(sys.argv[4]),
                      directory=sys.argv[5], project_name="helloworld", verbose=0)
tuner.search(x_train, y_train, epochs=int(sys.argv[6]), validation_data=(x_val, y_val))
seconds = time.time() - t0
print(json.dumps({"best_val_accuracy": tuner.best_score_, "trials": len(tuner.results_),
                  "seconds": seconds,
                  "test_accuracy": test_accuracy(tuner.get_best_models(1)[0])}))
'''

KERASTUNER = COMMON + r'''
import keras_tuner as kt


class Timed(kt.BayesianOptimization):
    def on_trial_end(self, trial):  # each finished trial's score, as it ends
        super().on_trial_end(trial)
        seconds = time.time() - t0  # its test accuracy is measured after the clock is read
        test = test_accuracy(self.load_model(trial)) if trial.score is not None else None
        print(json.dumps({"score": trial.score, "seconds": seconds, "test_accuracy": test}),
              flush=True)


tuner = Timed(build_model, objective="val_accuracy", max_trials=1000, seed=int(sys.argv[4]),
              overwrite=True, directory=sys.argv[5], project_name="helloworld")
tuner.search(x_train, y_train, epochs=int(sys.argv[6]), validation_data=(x_val, y_val),
             verbose=0)
'''


def run(args) -> None:
    from datasets import dataset_path

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = dataset_path("digits28-writers", work)
    for seed in args.seeds:
        rec = {"budget": args.budget, "seed": seed, "epochs": args.epochs,
               "data": "digits28-writers"}
        for name, script in (("cnntune", CNNTUNE), ("kerastuner", KERASTUNER)):
            cell = work / f"{name}-{seed}"
            if cell.exists():
                import shutil

                shutil.rmtree(cell)
            cell.mkdir(parents=True)
            (cell / "run.py").write_text(script)
            t0 = time.time()
            argv = [sys.executable, str(cell / "run.py"), str(data), str(args.budget), str(t0),
                    str(seed), str(cell / "store"), str(args.epochs)]
            try:
                out = subprocess.run(argv, cwd=cell, capture_output=True, text=True,
                                     timeout=args.budget + 30).stdout
            except subprocess.TimeoutExpired as exc:  # KerasTuner has no budget: killed
                out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
            lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
            if name == "kerastuner":
                done = [x for x in lines if x["seconds"] <= args.budget and x["score"] is not None]
                best = max(done, key=lambda x: x["score"], default=None)
                rec[name] = {"best_val_accuracy": best and best["score"], "trials": len(done),
                             "test_accuracy": best and best.get("test_accuracy")}
            else:
                rec[name] = lines[-1] if lines else {"best_val_accuracy": None}
            rec[name]["wall"] = round(time.time() - t0, 1)
        with open(RUNS, "a") as f:
            from deadlines import commit

            f.write(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit(),
                                **rec}) + "\n")
        print(f"seed {seed}: " + "; ".join(
            f"{n} {rec[n].get('best_val_accuracy')} ({rec[n].get('trials')} trials, "
            f"{rec[n]['wall']} s)" for n in ("cnntune", "kerastuner")), flush=True)


def summary(args) -> None:
    rows = [json.loads(x) for x in RUNS.read_text().splitlines()] if RUNS.exists() else []
    rows = [r for r in rows if r["budget"] == args.budget]
    print("| seed | cnntune.Tuner (TPE) | KerasTuner BayesianOptimization |")
    print("|---|---|---|")
    for r in rows:
        print("| {} | {} | {} |".format(r["seed"], *(
            f"{r[n]['best_val_accuracy']:.4f} ({r[n]['trials']} trials)"
            if r[n].get("best_val_accuracy") is not None else "none"
            for n in ("cnntune", "kerastuner"))))
    for n in ("cnntune", "kerastuner"):
        vals = [r[n]["best_val_accuracy"] for r in rows if r[n].get("best_val_accuracy")]
        if vals:
            print(f"{n}: median {statistics.median(vals):.4f}, worst {min(vals):.4f} over "
                  f"{len(vals)} seeds")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/cnntune-hypermodels")
    ap.add_argument("--budget", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--summary", action="store_true")
    args = ap.parse_args()
    summary(args) if args.summary else run(args)


if __name__ == "__main__":
    main()
