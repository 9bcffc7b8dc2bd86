"""cnntune from Python, as Keras users work: estimators on arrays (AutoKeras' five lines,
scikit-learn's protocol), and ``load`` to reopen a finished study.

    clf = cnntune.ImageClassifier(timeout=300)
    clf.fit(x_train, y_train)
    clf.evaluate(x_test, y_test)
    clf.predict(x)
    model = clf.export_model()
"""

from ._estimator import (Estimator, ImageClassifier, ImageRegressor, ImageSegmenter,
                         MultiLabelClassifier, Report, SequenceClassifier, load)

__all__ = ["Estimator", "ImageClassifier", "ImageRegressor", "ImageSegmenter",
           "MultiLabelClassifier", "Report", "SequenceClassifier", "load"]
