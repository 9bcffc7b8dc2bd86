"""The names cnntune knows, each written once: everything else (the space schema, the engines,
the CLI's choices, the messages) reads them from here. Pure Python, no imports, so the CLI can
offer them without loading anything."""

from __future__ import annotations

ENGINES = ("optuna", "kerastuner")
# Optuna's samplers, its default first; nsgaii is for several objectives
SAMPLERS = ("tpe", "random", "grid", "cmaes", "qmc", "nsgaii")
PRUNERS = ("none", "median", "hyperband", "asha")
# each engine's search algorithms, its default first (optuna calls them samplers)
ALGORITHMS = {"optuna": SAMPLERS, "kerastuner": ("bayesian", "random", "hyperband")}
OBJECTIVES = {"val_accuracy": "maximize", "val_loss": "minimize"}
# what a multi-objective space may optimise: the validation metric plus deployment costs
ALL_OBJECTIVES = {**OBJECTIVES, "n_params": "minimize", "latency_ms": "minimize",
                  "size_mb": "minimize"}
# where a trial's params came from (the cnntune.origin tag); absent: the sampler
ORIGINS = ("warm-start", "retry")
# why a trial's training ended before its epoch budget (the cnntune.stopped tag)
STOP_REASONS = ("early_stopping", "pruned", "deadline", "max_params")
# trial states as cnntune reports them (BASELINE: a classical model logged beside the trials)
STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING", "BASELINE")
FINISHED = STATES[:3]  # a trial in one of these states is over
# data: the embedded sets (by name), and every source a space's data.source may name
EMBEDDED = ("digits", "waveforms")
DATA_SOURCES = EMBEDDED + ("npz", "csv", "folder")
# export
FORMATS = ("keras", "savedmodel", "tflite", "onnx")
QUANTIZE = ("none", "float16", "int8")
EXPLAIN_METHODS = ("gradcam", "saliency")
