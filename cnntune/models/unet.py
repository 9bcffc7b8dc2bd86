"""The unet family: an encoder-decoder with skip connections (Ronneberger et al., 2015) for
a class per pixel (task: segmentation).

encoder level i = (conv -> [BN] -> activation) x 2 with filters_i = filters * growth ** i,
keeping its maps for the decoder, then max-pooling by 2; a bottleneck of two convs (spatial
dropout after it); decoder level i = double the size (a transposed conv, or bilinear resizing
and a conv: ``upsampling``), join the encoder's maps of that size (``skips``: concatenated, or
added), two convs; then the task's 1x1 softmax. The input's sides must divide by 2 ** depth.
Augmentation is not in the model: it moves images and masks together in the input pipeline
(``augment.paired_augmentation``).

``encoder`` other than ``own`` puts a keras.applications backbone in the encoder's place:
its feature maps at strides 2 .. 2 ** (depth - 1) are the skips and its map at stride
2 ** depth the bottleneck (so depth <= 5), while the full-size level keeps its own two convs.
Its weights and what of it trains are ``backbones``' rules (``backbone_weights``,
``unfreeze``), as for the transfer family. With ``skips: add`` a 1x1 conv brings the
backbone's maps to the decoder's width.
"""

from __future__ import annotations

from . import backbones
from .common import block_filters, bn_act, regularizer


def build(knobs: dict, input_shape: tuple[int, ...], output, prep: dict):
    import keras
    from keras import layers

    depth = knobs["n_blocks"]
    h, w = input_shape[:2]
    if h % 2 ** depth or w % 2 ** depth:
        raise ValueError(f"unet with n_blocks {depth} halves the image {depth} times, so its "
                         f"sides must divide by {2 ** depth}, and the data's images are "
                         f"{h}x{w}; use fewer blocks or resize the images (data.image_size)")
    reg = regularizer(knobs)

    def convs(x, filters, name):
        for c in (1, 2):
            x = layers.Conv2D(filters, knobs["kernel_size"], padding="same",
                              use_bias=not knobs["batch_norm"], kernel_regularizer=reg,
                              name=f"{name}_conv{c}")(x)
            x = bn_act(x, knobs, f"{name}_{c}")
        return x

    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(prep["scale"], name="rescale")(inputs)
    if knobs["encoder"] == "own":
        skips = []
        for b in range(depth):
            x = convs(x, block_filters(knobs, b), f"down{b + 1}")
            skips.append(x)
            x = layers.MaxPooling2D(2, name=f"down{b + 1}_pool")(x)
        x = convs(x, block_filters(knobs, depth), "bottleneck")
    else:
        skips, x = _backbone_encoder(x, knobs, input_shape, convs)
    if knobs["dropout"] > 0:
        x = layers.SpatialDropout2D(knobs["dropout"], name="bottleneck_drop")(x)
    for b in reversed(range(depth)):
        filters = block_filters(knobs, b)
        if knobs["upsampling"] == "transpose":
            x = layers.Conv2DTranspose(filters, 2, strides=2, kernel_regularizer=reg,
                                       name=f"up{b + 1}_transpose")(x)
        else:
            x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{b + 1}_resize")(x)
            x = layers.Conv2D(filters, knobs["kernel_size"], padding="same",
                              kernel_regularizer=reg, name=f"up{b + 1}_conv0")(x)
        skip = skips[b]
        if knobs["skips"] == "add" and skip.shape[-1] != filters:
            skip = layers.Conv2D(filters, 1, kernel_regularizer=reg,
                                 name=f"up{b + 1}_skip_proj")(skip)
        join = layers.Concatenate if knobs["skips"] == "concat" else layers.Add
        x = join(name=f"up{b + 1}_skip")([x, skip])
        x = convs(x, filters, f"up{b + 1}")
    name = "unet" if knobs["encoder"] == "own" else f"unet_{knobs['encoder']}"
    return keras.Model(inputs, output(x), name=name)


def _backbone_encoder(x, knobs: dict, input_shape, convs):
    """The skips (full size: the unet's own convs; then the backbone's maps at strides 2, 4,
    ...) and the bottleneck (its map at stride 2 ** depth) of images ``x`` in [0, 1]."""
    name, depth = knobs["encoder"], knobs["n_blocks"]
    extract = backbones.features(name, knobs, tuple(input_shape[:2]), depth)
    maps = backbones.call(extract, backbones.to_backbone_input(x, name, input_shape[2]), knobs)
    maps = maps if isinstance(maps, (list, tuple)) else [maps]
    return [convs(x, block_filters(knobs, 0), "down1"), *maps[:-1]], maps[-1]
