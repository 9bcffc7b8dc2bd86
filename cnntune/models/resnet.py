"""The resnet family: residual stages with projection shortcuts.

A conv stem, then ``n_blocks`` stages of ``res_units`` residual units (two k x k convs each);
stage i has filters * filters_growth ** i filters and, after the first, halves the map with a
stride-2 first conv. Where a unit changes the shape, its shortcut is a 1 x 1 (strided)
projection conv, otherwise the identity. ``preactivation`` gives ResNet v2 units
(BN -> activation -> conv, with a final BN -> activation); otherwise v1 (conv -> BN ->
activation, activation after the addition). ``se_ratio`` puts squeeze-and-excitation on each
unit's branch, ``drop_path`` stochastic depth (the branch dropped per example in training).
"""

from __future__ import annotations

from .augment import input_stack
from .common import block_filters, bn_act, head, regularizer, spatial_dropout, squeeze_excite


def build(knobs: dict, input_shape: tuple[int, ...], output, prep: dict):
    import keras
    from keras import layers

    reg = regularizer(knobs)
    pre = knobs["preactivation"]
    k = knobs["kernel_size"]
    use_bias = not knobs["batch_norm"]

    def conv(x, filters, size, stride, name):
        return layers.Conv2D(filters, size, strides=stride, padding="same", use_bias=use_bias,
                             kernel_regularizer=reg, name=name)(x)

    units = knobs["n_blocks"] * knobs["res_units"]
    done = [0]  # units built so far: the drop-path rate grows with depth

    def drop_path(y, name):
        """Stochastic depth (Huang et al., 2016): the whole branch dropped for an example,
        as a Dropout over (example, 1, 1, 1): identity at inference, in every export."""
        done[0] += 1
        rate = knobs["drop_path"] * done[0] / units
        if rate <= 0:
            return y
        return layers.Dropout(rate, noise_shape=(None, 1, 1, 1), name=f"{name}_droppath")(y)

    def unit(x, filters, stride, name):
        project = stride != 1 or x.shape[-1] != filters
        if pre:
            y = bn_act(x, knobs, f"{name}_pre")
            shortcut = conv(y, filters, 1, stride, f"{name}_proj") if project else x
            y = conv(y, filters, k, stride, f"{name}_conv1")
            y = bn_act(y, knobs, f"{name}_mid")
            y = conv(y, filters, k, 1, f"{name}_conv2")
            y = drop_path(squeeze_excite(y, knobs, name), name)
            return layers.Add(name=f"{name}_add")([y, shortcut])
        shortcut = x
        if project:
            shortcut = conv(x, filters, 1, stride, f"{name}_proj")
            if knobs["batch_norm"]:
                shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
        y = conv(x, filters, k, stride, f"{name}_conv1")
        y = bn_act(y, knobs, f"{name}_mid")
        y = conv(y, filters, k, 1, f"{name}_conv2")
        if knobs["batch_norm"]:
            y = layers.BatchNormalization(name=f"{name}_bn2")(y)
        y = squeeze_excite(y, knobs, name)  # on the branch, before the addition (SE-ResNet)
        y = drop_path(y, name)
        y = layers.Add(name=f"{name}_add")([y, shortcut])
        return layers.Activation(knobs["activation"], name=f"{name}_out")(y)

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for layer in input_stack(knobs, prep["scale"]):
        x = layer(x)
    x = conv(x, block_filters(knobs, 0), 3, 1, "stem_conv")
    if not pre:
        x = bn_act(x, knobs, "stem")
    size = list(input_shape[:2])
    for s in range(knobs["n_blocks"]):
        stride = 2 if s > 0 and min(size) >= 2 else 1
        for u in range(knobs["res_units"]):
            x = unit(x, block_filters(knobs, s), stride if u == 0 else 1,
                     f"block{s + 1}_unit{u + 1}")
        if stride == 2:
            size = [(v + 1) // 2 for v in size]
        x = spatial_dropout(x, knobs, 2, f"block{s + 1}_sdrop")
    if pre:
        x = bn_act(x, knobs, "final")
    return keras.Model(inputs, head(x, knobs, output, size), name="resnet_cnn")
