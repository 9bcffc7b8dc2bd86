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

        from ..formats.registry import load_predictor

        self.predictor = load_predictor(Path(context.artifacts["export"]))

    # the hint tells MLflow not to infer a schema from it (and not to warn that there is none):
    # any array-like of the data's shape is taken and cast here
    def predict(self, context, model_input: np.ndarray, params=None):
        return self.predictor.predict(np.asarray(model_input, dtype="float32"))


def pip_requirements(fmt: str) -> list[str]:
    """What serving the export needs: cnntune and the format's runtime, pinned as installed."""
    from ..tracking.runs import pinned

    from ..formats.registry import format_named

    names = ["numpy", "mlflow", *format_named(fmt).runtime]
    own = pinned("cnntune")  # left out where it is not installed: PyPI's cnntune is not this
    return [pinned(n) or n for n in names] + ([own] if own else [])
