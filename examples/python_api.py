"""Run a short search from Python, then load the best model from MLflow and use it.

    python examples/python_api.py            # writes ./mlruns, like `cnntune search`
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np

import cnntune
from cnntune.data import load_dataset


def main(trials: int = 5, epochs: int = 10, workdir: str | Path = ".", **search):
    mlruns = Path(workdir) / "mlruns"
    result = cnntune.search("default", study="api-example", trials=trials, epochs=epochs,
                            storage=f"journal:{mlruns}/optuna.journal",
                            tracking_uri=f"sqlite:///{mlruns}/mlflow.db", **search)
    best = result.best
    print(f"best trial {best.number}: val {best.value:.4f}, "
          f"test {best.metrics['test_accuracy']:.4f}, params {best.params}")

    # the best model is logged in the Keras flavour; pyfunc gives class probabilities
    mlflow.set_tracking_uri(f"sqlite:///{mlruns}/mlflow.db")
    model = mlflow.pyfunc.load_model(best.model_uri)
    data = load_dataset("digits", None, val_fraction=0.2, test_fraction=0.2, seed=0)
    probs = np.asarray(model.predict(data.test.x))
    accuracy = float((probs.argmax(1) == data.test.y).mean())
    print("test accuracy through pyfunc:", accuracy)
    return result, accuracy


if __name__ == "__main__":
    main()
