"""Export formats side by side: file size, test accuracy and latency per image at batch 1 and
32 of each export, as ratios to the float Keras model, all measured in this one invocation.

By default it runs a short search on digits (the default space, 6 trials) in a temporary
folder and exports its best trial; ``--study NAME --tracking-uri URI`` uses an existing study.

    .venv/bin/python benchmarks/export_formats.py [--trials 6] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


VARIANTS = [("keras", "none"), ("savedmodel", "none"), ("onnx", "none"), ("tflite", "none"),
            ("tflite", "float16"), ("tflite", "int8")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default=None)
    ap.add_argument("--tracking-uri", default=None)
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1,
                    help="TensorFlow / runtime threads (1: comparable across runtimes)")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    work = Path(tempfile.mkdtemp(prefix="cnntune-export-bench-"))
    import cnntune
    from cnntune._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    study, uri = args.study, args.tracking_uri
    if study is None:
        uri = f"sqlite:///{work}/mlflow.db"
        res = cnntune.search("default", study="bench", trials=args.trials, isolate=False,
                             storage=f"sqlite:///{work}/optuna.db", tracking_uri=uri)
        study = res.study
    from cnntune.deploy.export import export_study
    from cnntune.formats.registry import load_predictor
    from cnntune.formats.runtimes import InMemoryKerasPredictor
    from cnntune.tracking.studies import StudyView

    data = StudyView(study, uri).load_data()
    x = data.test.x.astype("float32")
    rows = []
    for fmt, q in VARIANTS:
        out = work / f"{fmt}-{q}"
        rep = export_study(study, fmt=fmt, quantize=q, out=out, tracking_uri=uri)
        p = load_predictor(out)
        if fmt in ("tflite", "onnx"):  # same thread count as TensorFlow
            p = type(p)(p.path, threads=args.threads)
        rows.append({"format": fmt + ("" if q == "none" else f"-{q}"), "size": rep.size_bytes,
                     "acc": rep.test_accuracy, "b1": p.latency_ms(x, batch=1, repeats=200),
                     "b32": p.latency_ms(x, batch=32, repeats=50)})
        if fmt == "keras":  # the reference: the float Keras model, traced, in this process
            import keras

            k = InMemoryKerasPredictor(keras.saving.load_model(out / "model.keras"))
            base = {"b1": k.latency_ms(x, batch=1, repeats=200),
                    "b32": k.latency_ms(x, batch=32, repeats=50), "size": rep.size_bytes,
                    "acc": rep.keras_test_accuracy}
    print(f"study {study}: {len(x)} test images {data.input_shape}, {args.threads} thread(s); "
          "ratios are export / float Keras model (traced call)")
    print(f"{'format':<16}{'size KiB':>10}{'x':>7}{'test acc':>10}{'diff':>8}"
          f"{'ms/img b1':>11}{'x':>7}{'ms/img b32':>12}{'x':>7}")
    print(f"{'keras (ref)':<16}{base['size'] / 1024:>10.1f}{1:>7.2f}{base['acc']:>10.4f}"
          f"{0:>+8.4f}{base['b1']:>11.4f}{1:>7.2f}{base['b32']:>12.4f}{1:>7.2f}")
    for r in rows:
        print(f"{r['format']:<16}{r['size'] / 1024:>10.1f}{r['size'] / base['size']:>7.2f}"
              f"{r['acc']:>10.4f}{r['acc'] - base['acc']:>+8.4f}{r['b1']:>11.4f}"
              f"{r['b1'] / base['b1']:>7.2f}{r['b32']:>12.4f}{r['b32'] / base['b32']:>7.2f}")


if __name__ == "__main__":
    main()
