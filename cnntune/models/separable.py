"""The separable family: MobileNet/Xception-style depthwise-separable blocks.

A full conv stem, then block i = (separable conv -> [batch norm] -> activation) x
convs_per_block -> pool -> [spatial dropout], with filters_i = filters * filters_growth ** i *
width_multiplier (MobileNet's alpha). A separable conv is a per-channel (depthwise) k x k conv
followed by a 1 x 1 (pointwise) conv: far fewer weights and multiply-adds than a full conv.
"""

from __future__ import annotations

from .augment import input_stack
from .common import (block_filters, bn_act, head, pool, regularizer, spatial_dropout,
                     squeeze_excite)


def build(knobs: dict, input_shape: tuple[int, ...], output, prep: dict):
    import keras
    from keras import layers

    reg = regularizer(knobs)
    wm = knobs["width_multiplier"]
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for layer in input_stack(knobs, prep["scale"]):
        x = layer(x)
    x = layers.Conv2D(block_filters(knobs, 0, wm), 3, padding="same",
                      use_bias=not knobs["batch_norm"], kernel_regularizer=reg,
                      name="stem_conv")(x)
    x = bn_act(x, knobs, "stem")
    size = list(input_shape[:2])
    for b in range(knobs["n_blocks"]):
        for c in range(knobs["convs_per_block"]):
            x = layers.SeparableConv2D(block_filters(knobs, b, wm), knobs["kernel_size"],
                                       padding="same", use_bias=not knobs["batch_norm"],
                                       pointwise_regularizer=reg,
                                       name=f"block{b + 1}_sepconv{c + 1}")(x)
            x = bn_act(x, knobs, f"block{b + 1}_{c + 1}")
        x = squeeze_excite(x, knobs, f"block{b + 1}")
        x, size = pool(x, knobs, size, f"block{b + 1}_pool")
        x = spatial_dropout(x, knobs, 2, f"block{b + 1}_sdrop")
    return keras.Model(inputs, head(x, knobs, output, size), name="separable_cnn")
