"""The conv1d family: the plain family's ideas for sequences (time series, audio features,
sensor data) of shape (steps, channels).

Inputs are standardised per channel with the training split's mean and standard deviation
(a per-channel rescaling inside the model, so exported models take raw values); then block i =
(Conv1D -> [batch norm] -> activation) x convs_per_block -> pool -> [spatial dropout], and the
head. Image augmentation does not apply to sequences.
"""

from __future__ import annotations

from .augment import standardise
from .common import conv_stack, head


def build(knobs: dict, input_shape: tuple[int, ...], output, prep: dict):
    import keras

    inputs = keras.Input(shape=input_shape, name="sequence")
    x = inputs
    for layer in standardise(prep):
        x = layer(x)
    x, size = conv_stack(x, knobs, [input_shape[0]])
    return keras.Model(inputs, head(x, knobs, output, size), name="conv1d_cnn")
