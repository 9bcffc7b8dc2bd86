"""cnntune: hyperparameter and architecture search for Keras CNNs.

    import cnntune
    clf = cnntune.ImageClassifier(timeout=300)    # estimators on arrays (cnntune.estimators)
    clf.fit(x_train, y_train)
    clf.evaluate(x_test, y_test)

    result = cnntune.search("default", trials=10)    # a search space, as the CLI runs it
    print(result.best.params, result.best.metrics["test_accuracy"], result.best.model_uri)

Heavy libraries (TensorFlow, Optuna, MLflow, scikit-learn) load only when they are used.
"""

from .version import __version__

ESTIMATORS = ("Estimator", "ImageClassifier", "ImageRegressor", "ImageSegmenter",
              "MultiLabelClassifier", "SequenceClassifier", "Tuner", "load")
__all__ = ["search", "load_space", "SearchResult", *ESTIMATORS, "__version__"]


def __getattr__(name):
    if name in ESTIMATORS:
        from . import estimators

        return getattr(estimators, name)
    if name in ("search", "SearchResult"):
        from .tuning import study

        return getattr(study, name)
    if name == "load_space":
        from .space import load_space

        return load_space
    raise AttributeError(f"module 'cnntune' has no attribute {name!r}")
