"""`cnntune report`: the page's size for a 30-trial study and its build time for 100 trials,
this checkout against an earlier one run side by side on the same study.

A real 30-trial search on digits (1 epoch a trial) makes the study; the report is built by
this checkout and, with ``--before SRC`` (a checkout of an earlier cnntune, such as
``git worktree add /tmp/before <commit>``), by that one, each in its own process. Then 70
more trials are written into the same study through cnntune's own tracker (sampled from the
space, not trained: the report reads only what is tracked) and the build is timed again at
100 trials: once without the winner's sections (no model load) and once with them.

    .venv/bin/python benchmarks/report.py [--before /tmp/before] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDY = "bench-report"


def build(src: Path, cwd: Path, out: str, *, winner: bool = True) -> dict:
    """Build the report with the cnntune under ``src`` in a fresh process: seconds, bytes."""
    code = ("import json, sys, time; t = time.perf_counter()\n"
            "from cnntune.reports.report import build_report\n"
            "import inspect\n"
            f"kw = {{'winner': {winner}}} if 'winner' in "
            "inspect.signature(build_report).parameters else {}\n"
            f"build_report('{STUDY}', tracking_uri='sqlite:///mlruns/mlflow.db', out='{out}', "
            "log_to_mlflow=False, **kw)\n"
            "print(json.dumps({'seconds': time.perf_counter() - t}))")
    env = dict(os.environ, PYTHONPATH=str(src), TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=1800)
    if r.returncode != 0:
        raise SystemExit(f"report build with {src} failed:\n{r.stderr[-3000:]}")
    out_path = cwd / out
    return {"seconds": json.loads(r.stdout.strip().splitlines()[-1])["seconds"],
            "bytes": out_path.stat().st_size}


def add_synthetic_trials(cwd: Path, n: int, seed: int = 0) -> None:
    """``n`` more trials in the study, written through cnntune's tracker: params sampled from
    the study's space, a few epochs of made-up curves, COMPLETE or PRUNED."""
    os.chdir(cwd)
    from cnntune.tracking.runs import Tracker
    from cnntune.tracking.studies import StudyView

    view = StudyView(STUDY, "sqlite:///mlruns/mlflow.db")
    tracker = Tracker("sqlite:///mlruns/mlflow.db")
    tracker.experiment_id = view.experiment_id
    parent = view.parent.info.run_id
    rng = random.Random(seed)
    start = max(t.number for t in view.trials()) + 1
    for number in range(start, start + n):
        params = {}
        for name in view.space.order:
            spec = view.space.params[name]
            options = spec.options()
            if options:
                params[name] = rng.choice(options)
            elif getattr(spec, "log", False):
                params[name] = spec.low * (spec.high / spec.low) ** rng.random()
            else:
                params[name] = type(spec.low)(spec.low + (spec.high - spec.low) * rng.random())
        run = tracker.start_trial(parent, STUDY, number, params, {})
        acc = rng.uniform(0.3, 0.95)
        epochs = rng.randint(1, 3)
        for e in range(1, epochs + 1):
            tracker.log_epoch(run, e, {"loss": 2.0 / e, "accuracy": acc * e / epochs,
                                       "val_loss": 2.1 / e, "val_accuracy": acc * e / epochs})
        state = "COMPLETE" if epochs > 1 else "PRUNED"
        tracker.end_trial(run, state, {"val_accuracy": acc, "test_accuracy": acc - 0.01,
                                       "epochs": epochs, "n_params": 5000.0,
                                       "fit_seconds": 2.0, "trial_seconds": 3.0})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, default=None,
                    help="an earlier cnntune checkout to compare with")
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--more", type=int, default=70)
    ap.add_argument("--keep", type=Path, default=None, help="keep the study in this folder")
    args = ap.parse_args()
    cwd = Path(args.keep or tempfile.mkdtemp(prefix="cnntune-bench-report-"))
    cwd.mkdir(parents=True, exist_ok=True)
    if not (cwd / "mlruns").exists():
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "cnntune", "search", "--trials",
                            str(args.trials), "--epochs", "1", "--study", STUDY, "-q"],
                           cwd=cwd, capture_output=True, text=True, timeout=3600,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)))
        if r.returncode != 0:
            raise SystemExit(r.stderr[-3000:])
        print(f"search: {args.trials} trials in {time.perf_counter() - t:.0f} s")
    rows = []
    now = build(ROOT, cwd, "now.html")
    rows.append(("this checkout", args.trials, now))
    if args.before is not None:
        before = build(args.before, cwd, "before.html")
        rows.append((f"before ({args.before})", args.trials, before))
    add_synthetic_trials(cwd, args.more)
    total = args.trials + args.more
    rows.append(("this checkout, no winner", total, build(ROOT, cwd, "100.html", winner=False)))
    rows.append(("this checkout", total, build(ROOT, cwd, "100w.html")))
    if args.before is not None:
        rows.append((f"before ({args.before})", total, build(args.before, cwd, "100b.html")))
    print(f"{'build':<40} {'trials':>6} {'seconds':>8} {'MB':>6}")
    for name, n, m in rows:
        print(f"{name:<40} {n:>6} {m['seconds']:>8.1f} {m['bytes'] / 1e6:>6.2f}")
    if args.before is not None:
        print(f"size at {args.trials} trials, now / before: "
              f"{now['bytes'] / before['bytes']:.2f}x")
    if args.keep is None:
        os.chdir("/")
        shutil.rmtree(cwd, ignore_errors=True)


if __name__ == "__main__":
    main()
