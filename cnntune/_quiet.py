"""Import TensorFlow without its C++ start-up chatter on stderr (CLI use only).

TensorFlow 2.21 prints absl/oneDNN INFO lines while it loads, whatever TF_CPP_MIN_LOG_LEVEL
says, and an ERROR line when it first looks for GPUs on a machine without a CUDA driver. The
CLI imports it once here with file descriptor 2 pointed at /dev/null; a failing import still
raises its Python exception.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """File descriptor 2 to /dev/null for the block: silences C++ logging (TensorFlow,
    LiteRT's 'Created TensorFlow Lite XNNPACK delegate') that Python cannot filter."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow_quietly() -> None:
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_silenced():
        import tensorflow
        import keras  # noqa: F401

        # the `tensorflow` wheel looks for CUDA when its devices are first listed, and logs an
        # ERROR line on every machine without a GPU driver ("failed call to cuInit"): list
        # them here, once, while that line has nowhere to go
        tensorflow.config.list_physical_devices()
    # every trial builds a new model, so Keras traces a new predict step for it, and
    # TensorFlow warns of "retracing" from the fifth: expected here, not the user's to fix
    logging.getLogger("tensorflow").addFilter(
        lambda record: "triggered tf.function retracing" not in record.getMessage())
