"""Find a digits model under a latency budget: accuracy against latency, Pareto front, export.

    python examples/latency_budget.py --budget-ms 0.01 --trials 20

The space searches depth, width and the dense head with two objectives (val_accuracy up,
latency_ms down) and a hard constraint (max_latency_ms): every trial's float32 TFLite export
is timed the same way (LiteRT, 1 thread, batch 1, median of 30 calls), trials over budget are
marked infeasible and Optuna's TPE learns to avoid them. The example prints the Pareto front
and exports the most accurate model within the budget as an int8 TFLite file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cnntune

SPACE = """
name: budget
description: digits under a latency budget (two objectives + a constraint)
data: {{source: digits, val_fraction: 0.2, test_fraction: 0.2}}
training: {{epochs: {epochs}, patience: 4, seed: 0}}
search: {{engine: optuna, algorithm: tpe, trials: {trials}}}
objectives: [val_accuracy, latency_ms]
constraints: {{max_latency_ms: {budget}}}
latency: {{batch_size: 1, threads: 1, repeats: 30, warmup: 5}}
params:
  n_blocks: {{type: int, low: 1, high: 3}}
  filters: [8, 16, 32, 64]
  convs_per_block: {{type: int, low: 1, high: 2}}
  dense_units: [0, 32, 128]
  batch_norm: {{type: bool}}
  learning_rate: {{type: float, low: 1.0e-3, high: 1.0e-2, log: true}}
  batch_size: 64
"""


def main(budget_ms: float = 0.01, trials: int = 20, epochs: int = 15,
         workdir: Path = Path("."), isolate: bool = True):
    from cnntune.deploy.export import export_study
    from cnntune.reports.pareto import front_frame
    from cnntune.tracking.studies import StudyView

    workdir = Path(workdir)
    space = workdir / "budget.yaml"
    space.write_text(SPACE.format(budget=budget_ms, trials=trials, epochs=epochs))
    uri = f"sqlite:///{workdir}/mlruns/mlflow.db"
    result = cnntune.search(space, isolate=isolate, tracking_uri=uri,
                            storage=f"journal:{workdir}/mlruns/optuna.journal")
    view = StudyView(result.study, uri)
    print(front_frame(view).drop(columns=["run_id"]).to_string(index=False))
    if result.best is None:
        print(f"no trial met the {budget_ms} ms budget; raise --budget-ms")
        return result, None
    report = export_study(result.study, fmt="tflite", quantize="int8", tracking_uri=uri,
                          out=workdir / "edge", trial=result.best.number)
    print(f"trial {result.best.number}: val {result.best.value:.4f}, "
          f"{result.best.metrics['latency_ms']:.4f} ms/image (budget {budget_ms}); int8 "
          f"export {report.size_bytes / 1024:.0f} KiB, "
          f"test {report.metric} {report.test_score:.4f}")
    return result, report


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-ms", type=float, default=0.01)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=15)
    args = ap.parse_args()
    main(args.budget_ms, args.trials, args.epochs)
