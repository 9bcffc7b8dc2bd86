"""cnntune from Python, measured (issue 39's targets):

``--rss``: the peak resident memory of every process of a search, summed (the study process
and its trial workers, sampled every 0.2 s), for `ImageClassifier(timeout=T).fit(x, y)` on
60,000 x 28 x 28 uint8 arrays in memory, against `cnntune search --data SAME.npz --timeout T`.
The estimator's process also holds the user's arrays, as a notebook's would. Target: <= 1.1x.

``--five-lines``: AutoKeras' five-line program with ``ak.`` replaced by ``cnntune.`` and
``timeout=300``, beside the keras.io "Simple MNIST convnet" recipe trained for the same 300 s
(``deadlines.py``'s), and AutoKeras' own ``ImageClassifier`` (in its venv, killed at the
budget; its best finished trial counts), each given the set's ``x_train`` (48,000 of its
60,000 28 x 28 ten-class uint8 images; the other 12,000 are its validation split) and scored
on its 10,000 test images (--data: digits28-writers, whose test writers are not in training,
or digits28), one invocation per seed, each contender a process timed from its start.

    .venv/bin/python benchmarks/estimators.py --rss --timeout 120
    .venv/bin/python benchmarks/estimators.py --five-lines --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RUNS = HERE / "estimators-runs.jsonl"

from rss import peak_rss  # noqa: E402


FIT = r'''
import sys
import numpy as np
import cnntune
d = np.load(sys.argv[1])
x, y = d["x_train"], d["y_train"]           # the user's arrays, in this process
clf = cnntune.ImageClassifier(timeout=float(sys.argv[2]), verbose=0)
clf.fit(x, y)
'''


def rss(args) -> None:
    from datasets import dataset_path

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = dataset_path("digits28", work)  # 60,000 training images, as the target names
    for name in ("cli", "fit"):
        cell = work / f"rss-{name}"
        if cell.exists():
            import shutil

            shutil.rmtree(cell)
        cell.mkdir()
        if name == "cli":
            # the same training arrays as fit gets (its test split is carved from x, as fit's)
            import numpy as np

            with np.load(data) as d:
                np.savez(cell / "train.npz", x=d["x_train"], y=d["y_train"])
            cmd = [sys.executable, "-m", "cnntune", "search", "--data", str(cell / "train.npz"),
                   "--timeout", str(args.timeout), "--quiet"]
        else:
            (cell / "fit.py").write_text(FIT)
            cmd = [sys.executable, str(cell / "fit.py"), str(data), str(args.timeout)]
        mb, seconds, code, out = peak_rss(cmd, cell)
        if code:
            print(out[-2000:], file=sys.stderr)
        rec = {"rss": name, "peak_mb": round(mb, 1), "seconds": round(seconds, 1),
               "exit": code, "timeout": args.timeout}
        _record(rec)
        print(f"{name}: peak {mb:,.0f} MB over all processes in {seconds:.0f} s (exit {code})",
              flush=True)


# -- the five lines, side by side ---------------------------------------------------------

CNNTUNE = r'''
import sys, time, json
t0 = float(sys.argv[3])
import numpy as np
import cnntune
d = np.load(sys.argv[1])
x_train, y_train, x_test, y_test = d["x_train"], d["y_train"], d["x_test"], d["y_test"]
clf = cnntune.ImageClassifier(timeout=float(sys.argv[2]) - (time.time() - t0), verbose=0,
                              seed=int(sys.argv[4]))
clf.fit(x_train, y_train)
acc = clf.evaluate(x_test, y_test)["accuracy"]
print(json.dumps({"test_accuracy": acc, "seconds": time.time() - t0,
                  "trials": len(clf.results_)}))
'''

AUTOKERAS = r'''
import sys, time, json
t0 = float(sys.argv[3])
import numpy as np
import autokeras as ak
d = np.load(sys.argv[1])
x_train, y_train, x_test, y_test = d["x_train"], d["y_train"], d["x_test"], d["y_test"]
clf = ak.ImageClassifier(overwrite=True, directory=sys.argv[5], seed=int(sys.argv[4]),
                         max_trials=1000)
tuner = clf.tuner
end = tuner.on_trial_end

def on_trial_end(trial):  # each finished trial's model on the test split, as it ends
    end(trial)
    model = tuner.load_model(trial)
    pred = np.asarray(model.predict(x_test, verbose=0))
    acc = float((pred.argmax(axis=1) == y_test).mean())
    print(json.dumps({"trial_test_accuracy": acc, "seconds": time.time() - t0}), flush=True)

tuner.on_trial_end = on_trial_end
clf.fit(x_train, y_train)
'''


def five_lines(args) -> None:
    from datasets import dataset_path
    from deadlines import RECIPE

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = dataset_path(args.data, work)
    budget = args.budget
    for seed in args.seeds:
        rec = {"five_lines": True, "budget": budget, "seed": seed, "data": args.data}
        for name, script in (("cnntune", CNNTUNE), ("keras_io", RECIPE),
                             ("autokeras", AUTOKERAS)):
            cell = work / f"five-{name}-{seed}"
            cell.mkdir(parents=True, exist_ok=True)
            (cell / "run.py").write_text(script)
            python = sys.executable
            if name == "autokeras":
                from peers import autokeras_python

                python = autokeras_python()
            t0 = time.time()
            argv = [python, str(cell / "run.py"), str(data), str(budget), str(t0), str(seed)]
            if name == "autokeras":
                argv.append(str(cell / "ak"))
            try:
                out = subprocess.run(argv, cwd=cell, capture_output=True, text=True,
                                     timeout=budget + 30).stdout
            except subprocess.TimeoutExpired as exc:  # AutoKeras has no budget: killed
                out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
            lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
            if name == "autokeras":
                done = [x for x in lines if x["seconds"] <= budget]
                rec[name] = {"test_accuracy": max((x["trial_test_accuracy"] for x in done),
                                                  default=None), "trials": len(done)}
            else:
                rec[name] = lines[-1] if lines else {"test_accuracy": None}
            rec[name]["wall"] = round(time.time() - t0, 1)
        _record(rec)
        print(f"seed {seed}: " + "; ".join(
            f"{n} {rec[n].get('test_accuracy')} ({rec[n]['wall']} s)"
            for n in ("cnntune", "keras_io", "autokeras")), flush=True)


def _record(rec: dict) -> None:
    from deadlines import commit

    with open(RUNS, "a") as f:
        f.write(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit(),
                            **rec}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/cnntune-estimators")
    ap.add_argument("--rss", action="store_true")
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--five-lines", action="store_true")
    ap.add_argument("--budget", type=int, default=300)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--data", default="digits28-writers",
                    choices=["digits28", "digits28-writers"],
                    help="the 60,000 x 28 x 28 set (writers: its test split's writers are "
                         "not in training)")
    args = ap.parse_args()
    if args.rss:
        rss(args)
    elif args.five_lines:
        five_lines(args)
    else:
        ap.print_help()


if __name__ == "__main__":
    main()
