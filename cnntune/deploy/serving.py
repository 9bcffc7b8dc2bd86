"""The MLflow pyfunc face of an exported model (``cnntune export --register``).

The registered model is the export folder plus this class: ``predict`` runs the export through
``cnntune.formats.runtimes``, the same code that verified it, and returns class probabilities.
"""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np


class ExportedModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from pathlib import Path

        from ..formats.runtimes import load_predictor

        self.predictor = load_predictor(Path(context.artifacts["export"]))

    # the hint tells MLflow not to infer a schema from it (and not to warn that there is none):
    # any array-like of the data's shape is taken and cast here
    def predict(self, context, model_input: np.ndarray, params=None):
        return self.predictor.predict(np.asarray(model_input, dtype="float32"))


def pip_requirements(fmt: str) -> list[str]:
    """What serving the export needs: cnntune and the format's runtime, pinned as installed."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(*dists: str) -> str:  # the distribution that is here, of ones that compete
        for d in dists:
            try:
                version(d)
                return d
            except PackageNotFoundError:
                pass
        return dists[0]

    tf = installed("tensorflow", "tensorflow-cpu")  # the wheel cnntune installs, or the CPU one
    names = ["numpy", "mlflow"] + {"keras": [tf, "keras"],
                                   "savedmodel": [tf],
                                   "tflite": ["ai-edge-litert"],
                                   "onnx": ["onnxruntime"]}[fmt]
    out = []
    for n in names:
        try:
            out.append(f"{n}=={version(n)}")
        except PackageNotFoundError:
            out.append(n)
    try:
        out.append(f"cnntune=={version('cnntune')}")
    except PackageNotFoundError:
        pass
    return out
