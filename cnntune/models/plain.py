"""The plain family: LeNet/VGG-style stacks of conv blocks.

block i = (conv -> [batch norm] -> activation) x convs_per_block -> pool -> [spatial dropout],
with filters_i = filters * filters_growth ** i; then the head (flatten or global pooling,
dropout, optional dense layer, the task's output layer). Pooling is skipped once the feature
map is down to 1 pixel, so deep stacks stay valid on small inputs such as 8x8 digits.
"""

from __future__ import annotations

from .augment import input_stack
from .common import conv_stack, head


def build(knobs: dict, input_shape: tuple[int, ...], output, prep: dict):
    import keras

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for layer in input_stack(knobs, prep["scale"]):
        x = layer(x)
    x, size = conv_stack(x, knobs, list(input_shape[:2]))
    return keras.Model(inputs, head(x, knobs, output, size), name="plain_cnn")
