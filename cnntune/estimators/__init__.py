"""cnntune from Python, as Keras users work: estimators on arrays (AutoKeras' five lines,
scikit-learn's protocol), and ``load`` to reopen a finished study.

    clf = cnntune.ImageClassifier(timeout=300)
    clf.fit(x_train, y_train)
    clf.evaluate(x_test, y_test)
    clf.predict(x)
    model = clf.export_model()

    tuner = cnntune.Tuner(build_model, objective="val_accuracy", max_trials=10)  # KerasTuner's
    tuner.search(x_train, y_train, epochs=5, validation_data=(x_val, y_val))
    model = tuner.get_best_models(1)[0]
"""

from ._estimator import (Estimator, ImageClassifier, ImageRegressor, ImageSegmenter,
                         MultiLabelClassifier, Report, SequenceClassifier, load)
from ._tuner import Tuner

__all__ = ["Estimator", "ImageClassifier", "ImageRegressor", "ImageSegmenter",
           "MultiLabelClassifier", "Report", "SequenceClassifier", "Tuner", "load"]
