"""Inference latency and model size, measured the same way for every trial.

The trained model's float32 TFLite export is run by the LiteRT interpreter with a fixed
number of threads: a deployment-like runtime whose cost follows the model (TensorFlow's own
per-call overhead, ~0.4 ms here, would drown the differences between small models). Latency
is the median of ``repeats`` calls at ``batch_size`` after ``warmup`` calls, in milliseconds
per image; size is the export's file size in MB.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..space import LATENCY_REPEATS, LATENCY_WARMUP


def measure(model, example: np.ndarray, *, batch_size: int = 1, threads: int = 1,
            repeats: int = LATENCY_REPEATS, warmup: int = LATENCY_WARMUP) -> dict[str, float]:
    from ..formats.convert import inference_model
    from ..formats.registry import format_named

    tflite = format_named("tflite")  # what the edge runs: the latency objective's format
    with tempfile.TemporaryDirectory(prefix="cnntune-latency-") as d:
        path = Path(d) / tflite.file
        tflite.write(inference_model(model), path)
        predictor = tflite.predictor(path, threads=threads)
        ms = predictor.latency_ms(np.asarray(example[:1], dtype="float32"), batch=batch_size,
                                  repeats=repeats, warmup=warmup)
        return {"latency_ms": ms, "size_mb": path.stat().st_size / 1e6}
