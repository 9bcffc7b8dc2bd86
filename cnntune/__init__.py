"""cnntune: hyperparameter and architecture search for Keras CNNs.

    import cnntune
    result = cnntune.search("default", trials=10)
    print(result.best.params, result.best.metrics["test_accuracy"], result.best.model_uri)

Heavy libraries (TensorFlow, Optuna, MLflow) load only when a search runs.
"""

__version__ = "0.1.0"

__all__ = ["search", "load_space", "SearchResult", "__version__"]


def __getattr__(name):
    if name in ("search", "SearchResult"):
        from .tuning import study

        return getattr(study, name)
    if name == "load_space":
        from .space import load_space

        return load_space
    raise AttributeError(f"module 'cnntune' has no attribute {name!r}")
