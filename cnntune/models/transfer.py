"""The transfer family: a keras.applications backbone with a new head.

Images are rescaled to [0, 1], augmented, resized to ``transfer_size`` squared, repeated to 3
channels when grey, and mapped to the range the backbone was trained on; the backbone is built
without its top. Its weights (``backbone_weights``) and what of it trains (``unfreeze``) are
``backbones``' rules, which the unet family's encoder shares.
"""

from __future__ import annotations

from . import backbones
from .augment import input_stack
from .common import head


def build(knobs: dict, input_shape: tuple[int, ...], output, prep: dict):
    import keras
    from keras import layers

    if len(input_shape) != 3:
        raise ValueError(f"the transfer family needs images (height, width, channels), got "
                         f"inputs of shape {input_shape}")
    size = knobs["transfer_size"]
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for layer in input_stack(knobs, prep["scale"]):
        x = layer(x)
    if tuple(input_shape[:2]) != (size, size):
        x = layers.Resizing(size, size, name="resize")(x)
    x = backbones.to_backbone_input(x, knobs["backbone"], input_shape[2])
    backbone = backbones.make(knobs["backbone"], knobs, (size, size))
    x = backbones.call(backbone, x, knobs)
    side = max(1, size // 32)
    return keras.Model(inputs, head(x, knobs, output, [side, side]),
                       name=f"transfer_{knobs['backbone']}")
