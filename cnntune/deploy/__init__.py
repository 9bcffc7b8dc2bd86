"""Deployment: exporting a study's best (or chosen) trial and verifying the export (``export``),
predicting with an exported or logged model (``predict``), and the MLflow pyfunc wrapper that
serves an export (``serving``)."""
