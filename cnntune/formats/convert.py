"""A trained Keras model as an inference model, written in any export format.

Shared by the export command (``deploy.export``) and the latency a trial measures
(``worker.latency``), so that both run the same conversion.

The inference model is the trained network called with ``training=False``, so augmentation
and dropout are off and batch norm uses its moving statistics. (Keras 3 traces a model that
contains random augmentation layers in training mode when it is called without ``training``,
which would export batch norm in training mode; the wrapper avoids that.)
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np

# the file (or folder) each format is written to
FILES = {"keras": "model.keras", "savedmodel": "saved_model", "tflite": "model.tflite",
         "onnx": "model.onnx"}


def inference_model(model):
    """``model`` called with training=False, as a model of its own (see the module doc)."""
    import keras

    if getattr(model, "_cnntune_inference", False):
        return model
    model = as_float32(model)
    inputs = keras.Input(shape=model.input_shape[1:], name=model.inputs[0].name.split(":")[0])
    outputs = model(inputs, training=False)
    infer = keras.Model(inputs, outputs, name=f"{model.name}_inference")
    infer._cnntune_inference = True
    return infer


def as_float32(model):
    """``model`` itself, or for a model trained in mixed precision the same model computing in
    float32 (its weights are float32 already): exports and their checks run in float32."""
    if all(layer.compute_dtype == "float32" for layer in model._flatten_layers()):
        return model

    def plain(node):
        if isinstance(node, dict):
            if node.get("class_name") == "DTypePolicy" and \
                    str(node.get("config", {}).get("name", "")).startswith("mixed_"):
                return dict(node, config=dict(node["config"], name="float32"))
            return {k: plain(v) for k, v in node.items()}
        if isinstance(node, list):
            return [plain(v) for v in node]
        return node

    copy = model.__class__.from_config(plain(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy


def write_model(infer, fmt: str, target: Path, *, quantize: str = "none",
                representative=None) -> None:
    """Write ``infer`` in ``fmt`` at ``target`` (TFLite: float32, float16 weights, or int8
    with up to 200 examples of ``representative``, a data split)."""
    import io
    import warnings

    sink = io.StringIO()  # Keras and the converters print progress we do not want
    with contextlib.redirect_stdout(sink), _quiet_tf_logging(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf2onnx's np.object FutureWarning and the like
        if fmt == "keras":
            infer.save(target)
        elif fmt == "savedmodel":
            infer.export(str(target), format="tf_saved_model", verbose=False)
        elif fmt == "onnx":
            from ._onnx_ops import register

            register()
            infer(np.zeros((1, *infer.input_shape[1:]), "float32"))  # Keras: "never called"
            infer.export(str(target), format="onnx", verbose=False)
        else:
            from .._quiet import native_stderr_silenced

            with native_stderr_silenced():  # the converter's C++ prints its settings
                infer.export(str(target), format="litert", verbose=False,
                             **_litert_options(quantize, representative))


def _litert_options(quantize: str, representative) -> dict:
    import tensorflow as tf

    if quantize == "none":
        return {}
    if quantize == "float16":
        return {"optimizations": [tf.lite.Optimize.DEFAULT],
                "target_spec": {"supported_types": [tf.float16]}}
    rng = np.random.default_rng(0)
    picks = rng.choice(len(representative), size=min(200, len(representative)), replace=False)
    examples = representative.images(np.sort(picks)).astype("float32")

    def dataset():
        for x in examples:
            yield [x[None]]

    # int8 weights and activations; float input and output so callers need no quantisation
    return {"optimizations": [tf.lite.Optimize.DEFAULT], "representative_dataset": dataset}


@contextlib.contextmanager
def _quiet_tf_logging():
    """tf2onnx, TensorFlow and absl Python loggers at ERROR for the block."""
    loggers = [logging.getLogger(n) for n in ("tf2onnx", "tensorflow", "absl")]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, old):
            lg.setLevel(level)
