"""cnntune against the tools users would otherwise pick, side by side in one invocation:
the same data, the same splits, the same wall-clock budget per contender, counted from the
start of its process.

Contenders (each in its own fresh Python process, killed when its budget is spent):
  cnntune        same space: cnntune.search() on the space below, --timeout the budget, as a
                 user calls it (TPE, its default pruner, warm starts, worker processes)
  cnntune-auto   out of the box: cnntune.search() with no space (the space it picks for the
                 data) and --timeout the budget
  cnntune-P-checks1  the same with every trial checked once a pass (training.checks_per_epoch:
                 1) instead of cnntune's choice by the data's size: on a large set, whether
                 judging trials within a pass (data-subset fidelity) pays
  cnntune-P      the same-space run with pruner P (median, hyperband, asha, none): not a peer,
                 for measuring cnntune's own defaults side by side
  kt-hyperband   KerasTuner Hyperband on the space below, written the way its docs show
  kt-random      KerasTuner RandomSearch, the same
  optuna-loop    a hand-written Optuna TPE loop with a Keras pruning callback, as in Optuna's
                 Keras example (MedianPruner), no tracking
  autokeras      AutoKeras ImageClassifier out of the box (its own venv: keras 3.12,
                 peer_autokeras.py); images of 32 px and more only
Two comparisons come from one invocation: same space (cnntune against kt-*, optuna-loop) and
out of the box (cnntune-auto against autokeras, kt-hyperband and optuna-loop, which have no
default space: the one below is what their docs' examples look like).

Data (datasets.py): the embedded digits, 'shapes' and 'textures'.

For each: trials, epochs, best validation accuracy, the test accuracy of the best trial, the
time from process start to a target test accuracy (the best peer's final one), when its first
trial ended, the share of wall time spent inside fit, RSS after the first and the last trial
and the growth per trial; then ratios cnntune / peer. ``--record FILE`` appends one JSON line
per contender (with the commit and the timeline) for peers_summary.py, which gives the median
and worst over seeds.

"fit/over s" is a trial's mean seconds inside fit / outside it in the search loop: the fit share
at any other trial length follows from it.

    .venv/bin/python benchmarks/peers.py [--budget 300] [--data shapes textures]
        [--epochs 20] [--seed 0] [--contenders NAME ...] [--record FILE] [--timelines DIR]
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cnntune.catalog import PRUNERS
from datasets import SETS, dataset_path
from timeline import Timeline

CONTENDERS = ("cnntune", "cnntune-auto", "kt-hyperband", "optuna-loop", "autokeras")
VARIANTS = ("kt-random",) + tuple(f"cnntune-{p}{c}" for c in ("", "-checks1") for p in PRUNERS)
OUT_OF_THE_BOX = ("autokeras", "kt-hyperband", "optuna-loop")  # cnntune-auto's peers
AUTOKERAS = ("autokeras==3.0.0", "keras==3.12.0", "tensorboard", "tensorflow-cpu")
SPLIT = {"val_fraction": 0.2, "test_fraction": 0.2}  # every contender's, from the same seed
# the one search space, written for each tool
SPACE = {"n_blocks": (1, 3), "filters": [16, 32, 64], "dense_units": [0, 64, 128],
         "dropout": (0.0, 0.4), "learning_rate": (5e-4, 1e-2), "batch_size": [32, 64]}
SPACE_YAML = """
name: peers
data: {{val_fraction: {val_fraction}, test_fraction: {test_fraction}}}
training: {{epochs: {epochs}, patience: 5, objective: val_accuracy, seed: {seed}{checks}}}
search: {{engine: optuna, algorithm: tpe{pruner}}}
params:
  n_blocks: {{type: int, low: 1, high: 3}}
  filters: [16, 32, 64]
  dense_units: [0, 64, 128]
  dropout: {{type: float, low: 0.0, high: 0.4}}
  learning_rate: {{type: float, low: 5.0e-4, high: 1.0e-2, log: true}}
  batch_size: [32, 64]
  kernel_size: 3
  batch_norm: true
  pooling: max
  optimizer: adam
"""


# ------------------------------------------------------------------------------ data


def splits(name: str, work: Path):
    from cnntune.data import load_dataset

    src = dataset_path(name, work)
    return load_dataset(None if src != "digits" else "digits",
                        None if src == "digits" else src, **SPLIT,
                        seed=0)


# ------------------------------------------------------------------------------ contenders


def keras_model(p: dict, shape, classes: int, scale: float):
    """The plain CNN of the space, written directly in Keras as a user of a peer would."""
    import keras
    from keras import layers

    inp = keras.Input(shape)
    x = layers.Rescaling(scale)(inp)
    for b in range(p["n_blocks"]):
        x = layers.Conv2D(p["filters"] * 2 ** b, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.Activation("relu")(x)
        if x.shape[1] >= 2:
            x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x) if x.shape[1] * x.shape[2] <= 16 else \
        layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(p["dropout"])(x)
    if p["dense_units"]:
        x = layers.Dense(p["dense_units"], activation="relu")(x)
        x = layers.Dropout(p["dropout"])(x)
    model = keras.Model(inp, layers.Dense(classes, activation="softmax")(x))
    model.compile(optimizer=keras.optimizers.Adam(p["learning_rate"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run_cnntune(data_name, work, epochs, timeline, seed, budget, pruner=None, auto=False,
                checks=None):
    import cnntune

    space = None
    if not auto:
        space = work / "peers.yaml"
        space.write_text(SPACE_YAML.format(epochs=epochs, seed=seed, **SPLIT,
                                           pruner=f", pruner: {pruner}" if pruner else "",
                                           checks=f", checks_per_epoch: {checks}" if checks
                                           else ""))
    src = dataset_path(data_name, work)

    def hook(kind, p):
        if kind == "trial_end":
            m = p["metrics"]
            timeline.trial(p["value"] if p["state"] == "COMPLETE" else None,
                           m.get("test_accuracy"), round(m.get("epochs", 0), 2),
                           m.get("fit_seconds", 0.0))

    # --timeout as a user passes it: the budget from the process start (timeline.t0)
    cnntune.search(space, data=src, timeout=budget, started=timeline.t0, trials=None,
                   epochs=None if auto else epochs, seed=seed,
                   storage=f"journal:{work}/o.journal", tracking_uri=f"sqlite:///{work}/m.db",
                   on_event=hook)


class _FitClock:
    def __init__(self):
        import keras

        outer = self

        class Clock(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                outer.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                outer.epochs += 1

            def on_train_end(self, logs=None):
                outer.seconds += time.perf_counter() - outer.t

        self.seconds, self.t, self.epochs, self.callback = 0.0, 0.0, 0, Clock()


def run_kerastuner(data_name, work, epochs, timeline, algorithm, seed):
    import keras
    import keras_tuner as kt

    d = splits(data_name, work)
    clock = _FitClock()

    def build(hp):
        p = {"n_blocks": hp.Int("n_blocks", 1, 3), "filters": hp.Choice("filters", [16, 32, 64]),
             "dense_units": hp.Choice("dense_units", [0, 64, 128]),
             "dropout": hp.Float("dropout", 0.0, 0.4),
             "learning_rate": hp.Float("learning_rate", 5e-4, 1e-2, sampling="log")}
        return keras_model(p, d.input_shape, d.num_classes, d.scale)

    class Tuner(kt.Hyperband if algorithm == "hyperband" else kt.RandomSearch):
        def run_trial(self, trial, *args, **kwargs):
            kwargs["batch_size"] = trial.hyperparameters.Choice("batch_size", [32, 64])
            return super().run_trial(trial, *args, **kwargs)

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            fit_s, clock.seconds = clock.seconds, 0.0
            ep, clock.epochs = clock.epochs, 0
            try:  # the trial's best checkpoint on the test split, for the timeline
                model = self.load_model(trial)
                test = float(model.evaluate(d.test.x, d.test.y, verbose=0)[1])
            except Exception:
                test = None
            timeline.trial(trial.score, test, ep, fit_s)

    common = dict(objective="val_accuracy", directory=str(work / "kt"), project_name="p",
                  overwrite=True, seed=seed)
    tuner = Tuner(build, max_epochs=epochs, factor=3, hyperband_iterations=100, **common) \
        if algorithm == "hyperband" else Tuner(build, max_trials=10**6, **common)
    tuner.search(d.train.x, d.train.y, epochs=epochs, validation_data=(d.val.x, d.val.y),
                 callbacks=[keras.callbacks.EarlyStopping(patience=5), clock.callback],
                 verbose=0)


def run_optuna_loop(data_name, work, epochs, timeline, seed):
    import keras
    import optuna

    d = splits(data_name, work)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    class Pruning(keras.callbacks.Callback):  # Optuna's KerasPruningCallback, inlined
        def __init__(self, trial):
            super().__init__()
            self.trial = trial

        def on_epoch_end(self, epoch, logs=None):
            self.epochs = epoch + 1
            self.trial.report(float(logs["val_accuracy"]), step=epoch)
            if self.trial.should_prune():
                raise optuna.TrialPruned()

    def objective(trial):
        keras.backend.clear_session()
        p = {"n_blocks": trial.suggest_int("n_blocks", 1, 3),
             "filters": trial.suggest_categorical("filters", [16, 32, 64]),
             "dense_units": trial.suggest_categorical("dense_units", [0, 64, 128]),
             "dropout": trial.suggest_float("dropout", 0.0, 0.4),
             "learning_rate": trial.suggest_float("learning_rate", 5e-4, 1e-2, log=True),
             "batch_size": trial.suggest_categorical("batch_size", [32, 64])}
        model = keras_model(p, d.input_shape, d.num_classes, d.scale)
        pruning = Pruning(trial)
        t = time.perf_counter()
        try:
            h = model.fit(d.train.x, d.train.y, batch_size=p["batch_size"], epochs=epochs,
                          validation_data=(d.val.x, d.val.y), verbose=0,
                          callbacks=[keras.callbacks.EarlyStopping(
                              patience=5, restore_best_weights=True), pruning])
        except optuna.TrialPruned:
            timeline.trial(None, None, pruning.epochs, time.perf_counter() - t)
            raise
        fit_s = time.perf_counter() - t
        val = float(max(h.history["val_accuracy"]))
        test = float(model.evaluate(d.test.x, d.test.y, verbose=0)[1])
        timeline.trial(val, test, len(h.history["loss"]), fit_s)
        return val

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(
        seed=seed), pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2))
    study.optimize(objective, n_trials=10**6)


def child(args) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    work = Path(args.work)
    timeline = Timeline(args.timeline, args.t0)
    epochs = args.epochs[0]
    if args.run.startswith("cnntune"):
        variant, _, checks = args.run.partition("-")[2].partition("-checks")
        run_cnntune(args.data[0], work, epochs, timeline, args.seed, args.budget[0],
                    pruner=variant if variant in PRUNERS else None, auto=variant == "auto",
                    checks=int(checks) if checks else None)
    elif args.run.startswith("kt-"):
        run_kerastuner(args.data[0], work, epochs, timeline, args.run[3:], args.seed)
    else:
        run_optuna_loop(args.data[0], work, epochs, timeline, args.seed)


def autokeras_python() -> str:
    """The python of AutoKeras' own venv ($PEERS_AUTOKERAS_VENV), made on first use."""
    venv = Path(os.environ.get("PEERS_AUTOKERAS_VENV",
                               Path(tempfile.gettempdir()) / "cnntune-peers-autokeras"))
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import autokeras"]
    if not python.exists() or subprocess.run(check, capture_output=True).returncode:
        print(f"making AutoKeras' venv in {venv} ({', '.join(AUTOKERAS)}) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *AUTOKERAS], check=True)
    return str(python)


def write_splits(data: str, work: Path) -> Path:
    """The splits every contender uses, as arrays for the AutoKeras venv (no cnntune there)."""
    d = splits(data, work)
    path = work / f"{data}-splits.npz"
    np.savez(path, x_train=d.train.x, y_train=d.train.y, x_val=d.val.x, y_val=d.val.y,
             x_test=d.test.x, y_test=d.test.y)
    return path


def commit() -> str:
    here = Path(__file__).resolve().parent
    r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
                       text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                           capture_output=True, text=True).stdout.strip()
    return (r.stdout.strip() or "unknown") + ("+dirty" if dirty else "")


# ------------------------------------------------------------------------------ the parent


def stats(lines: list[dict], wall: float, target: float | None = None) -> dict:
    best_val, best_test, reached = -1.0, None, None
    for e in lines:
        if e["val"] is not None and e["val"] > best_val:
            best_val, best_test = e["val"], e["test"]
        if target is not None and reached is None and best_test is not None and \
                best_test >= target:
            reached = e["t"]
    rss = [e["rss"] for e in lines]
    # the search loop alone: trials after the first, over the time from the first trial's end
    # to the last one's (the start-up every contender pays - Python, TensorFlow, data - and a
    # trial cut off by the deadline are left out)
    loop = lines[-1]["t"] - lines[0]["t"] if len(lines) > 1 else 0.0
    loop_fit = sum(e["fit"] for e in lines[1:])
    return {"loop_share": loop_fit / loop if loop > 0 else None,
            # seconds a trial spends outside fit in the loop: the share at any trial length
            "overhead": (loop - loop_fit) / (len(lines) - 1) if loop > 0 else None,
            "trial_fit": loop_fit / (len(lines) - 1) if loop > 0 else None,
            "trials": len(lines), "epochs": round(sum(e["epochs"] for e in lines), 1),
            "best_val": best_val if best_val >= 0 else None, "best_test": best_test,
            "fit_share": sum(e["fit"] for e in lines) / wall if lines else 0.0,
            "rss_first": rss[0] if rss else None, "rss_last": rss[-1] if rss else None,
            "growth": (rss[-1] - rss[0]) / (len(rss) - 1) if len(rss) > 1 else None,
            "to_target": reached, "first": lines[0]["t"] if lines else None}


def fmt(v, spec: str) -> str:
    return format(v, spec) if v is not None else "-"


def ratio(a, b) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, nargs="+", default=[300],
                    help="seconds per contender, one per data set (the last one repeats)")
    ap.add_argument("--data", nargs="+", default=["shapes", "textures"], choices=SETS)
    ap.add_argument("--epochs", type=int, nargs="+", default=[20],
                    help="max epochs per trial, one per data set (the last one repeats)")
    ap.add_argument("--seed", type=int, default=0, help="every contender's search seed")
    ap.add_argument("--contenders", nargs="+", default=list(CONTENDERS),
                    choices=CONTENDERS + VARIANTS, metavar="NAME",
                    help=f"any of {', '.join(CONTENDERS + VARIANTS)}")
    ap.add_argument("--timelines", type=Path, metavar="DIR",
                    help="keep each contender's per-trial lines as DIR/DATA-NAME.jsonl")
    ap.add_argument("--record", type=Path, metavar="FILE",
                    help="append one JSON line per contender (for peers_summary.py)")
    ap.add_argument("--run", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--timeline", help=argparse.SUPPRESS)
    ap.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        return child(args)
    import platform

    def per_data(values: list) -> dict:  # one value per data set, the last one repeating
        return dict(zip(args.data, values + values[-1:] * len(args.data)))

    budgets, max_epochs = per_data(args.budget), per_data(args.epochs)
    print(f"{os.cpu_count()} cores, Python {platform.python_version()}; seconds per contender "
          f"{budgets}, max epochs per trial {max_epochs}, seed {args.seed}")
    data_dir = Path(tempfile.mkdtemp(prefix="peers-data-"))
    atexit.register(shutil.rmtree, data_dir, True)
    os.environ["PEERS_DATA_DIR"] = str(data_dir)  # generated once, shared, outside budgets
    ak_python = autokeras_python() if "autokeras" in args.contenders else None
    sha = commit()
    for data in args.data:
        dataset_path(data, data_dir)
        split_file = write_splits(data, data_dir) if ak_python else None
        results = {}
        for name in args.contenders:
            if name == "autokeras" and data == "digits":
                continue  # its default models need images of 32 px and more
            with tempfile.TemporaryDirectory(prefix=f"peers-{name}-") as work:
                tl = Path(work) / "timeline.jsonl"
                t0 = time.time()
                cmd = [sys.executable, __file__, "--run", name, "--data", data, "--epochs",
                       str(max_epochs[data]), "--seed", str(args.seed), "--work", work,
                       "--timeline", str(tl), "--t0", repr(t0), "--budget",
                       str(budgets[data])]
                if name == "autokeras":
                    cmd = [ak_python, str(Path(__file__).with_name("peer_autokeras.py")),
                           str(split_file), work, str(tl), repr(t0), str(args.seed)]
                proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                        stderr=open(Path(work) / "err.txt", "w"),
                                        start_new_session=True)
                try:
                    proc.wait(timeout=budgets[data])
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()
                wall = min(time.time() - t0, budgets[data])
                lines = [json.loads(x) for x in tl.read_text().splitlines()] \
                    if tl.exists() else []
                if args.timelines and tl.exists():
                    args.timelines.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(tl, args.timelines / f"{data}-{name}.jsonl")
                results[name] = (lines, wall)
                if args.record:
                    with open(args.record, "a") as f:
                        f.write(json.dumps({"data": data, "contender": name, "seed": args.seed,
                                            "budget": budgets[data], "commit": sha,
                                            "wall": wall, "timeline": lines}) + "\n")
        same = [n for n in results if not n.startswith("cnntune") and n != "autokeras"]
        modes = (("same space", "cnntune", same),
                 ("out of the box", "cnntune-auto", [n for n in results if n in OUT_OF_THE_BOX]))
        variants = [n for n in results if n in VARIANTS and n.startswith("cnntune-")]
        if variants and ("cnntune" not in results or not same):  # cnntune's settings alone,
            base = "cnntune" if "cnntune" in results else variants[0]  # against its defaults
            others = [n for n in variants if n != base]
            if others:
                modes += (("cnntune's pruners", base, others),)
        for mode, me_name, peers in modes:
            if me_name in results and peers:
                mine = [n for n in results if n.startswith("cnntune") and
                        (n == me_name or (mode == "same space" and n != "cnntune-auto"))]
                report(data, mode, {n: results[n] for n in mine + peers}, me_name, peers)


def report(data: str, mode: str, results: dict, me_name: str, peers: list[str]) -> None:
    target = max((stats(*results[n])["best_test"] or 0 for n in peers), default=None)
    print(f"\n== {data}, {mode}: target test accuracy (best peer's final) {fmt(target, '.4f')}")
    print(f"{'contender':<18}{'trials':>7}{'epochs':>7}{'best val':>9}{'its test':>9}"
          f"{'to target s':>12}{'1st trial s':>12}{'fit share':>10}{'loop':>6}"
          f"{'fit/over s':>12}"
          f"{'RSS 1st/last MB':>17}{'MB/trial':>9}")
    table = {n: stats(lines, wall, target) for n, (lines, wall) in results.items()}
    for n, s in table.items():
        print(f"{n:<18}{s['trials']:>7}{s['epochs']:>7}{fmt(s['best_val'], '.4f'):>9}"
              f"{fmt(s['best_test'], '.4f'):>9}{fmt(s['to_target'], '.0f'):>12}"
              f"{fmt(s['first'], '.1f'):>12}"
              f"{s['fit_share']:>10.2f}{fmt(s['loop_share'], '.2f'):>6}"
              f"{fmt(s['trial_fit'], '.2f') + '/' + fmt(s['overhead'], '.3f'):>12}"
              f"{fmt(s['rss_first'], '.0f') + '/' + fmt(s['rss_last'], '.0f'):>17}"
              f"{fmt(s['growth'], '.2f'):>9}")
    rnd = table.get("kt-random", {}).get("best_test")
    if rnd is not None:
        band = "inside" if 0.75 <= rnd <= 0.95 else "outside"
        print(f"random search (kt-random) best test accuracy {rnd:.4f}: {band} the "
              "75-95% band where search quality, not only overhead, shows")
    me = table[me_name]
    for n, s in table.items():
        if n == me_name:
            continue  # a cnntune-P variant is compared like a peer, but sets no target
        print(f"{me_name}/{n}: time to target {ratio(me['to_target'], s['to_target'])}, "
              f"first trial {ratio(me['first'], s['first'])}, "
              f"fit share {ratio(me['fit_share'], s['fit_share'])} (loop "
              f"{ratio(me['loop_share'], s['loop_share'])}), trials "
              f"{ratio(me['trials'], s['trials'])}, growth per trial "
              f"{ratio(me['growth'], s['growth'])}")


if __name__ == "__main__":
    main()
