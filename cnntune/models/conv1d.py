"""The conv1d family: the plain family's ideas for sequences (time series, audio features,
sensor data) of shape (steps, channels).

Inputs are standardised per channel with the training split's mean and standard deviation
(a per-channel rescaling inside the model, so exported models take raw values); then block i =
(Conv1D -> [batch norm] -> activation) x convs_per_block -> pool -> [spatial dropout], and the
head. Image augmentation does not apply to sequences.
"""

from __future__ import annotations

from .common import conv_stack, head


def build(knobs: dict, input_shape: tuple[int, ...], output, prep: dict):
    import keras
    import numpy as np
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="sequence")
    x = inputs
    mean, std = prep.get("mean"), prep.get("std")
    if mean is not None:
        # (x - mean) / std as a per-channel Rescaling: plain constants in every export (a
        # Normalization layer's captured tensors become missing inputs in the ONNX graph)
        scale = (1.0 / np.asarray(std, dtype="float64")).tolist()
        offset = (-np.asarray(mean, dtype="float64") * np.asarray(scale)).tolist()
        x = layers.Rescaling(scale, offset=offset, name="standardise")(x)
    x, size = conv_stack(x, knobs, [input_shape[0]])
    return keras.Model(inputs, head(x, knobs, output, size), name="conv1d_cnn")
