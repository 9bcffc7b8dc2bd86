"""The unet family: an encoder-decoder with skip connections (Ronneberger et al., 2015) for
a class per pixel (task: segmentation).

encoder level i = (conv -> [BN] -> activation) x 2 with filters_i = filters * growth ** i,
keeping its maps for the decoder, then max-pooling by 2; a bottleneck of two convs (spatial
dropout after it); decoder level i = double the size (a transposed conv, or bilinear resizing
and a conv: ``upsampling``), join the encoder's maps of that size (``skips``: concatenated, or
added), two convs; then the task's 1x1 softmax. The input's sides must divide by 2 ** depth.
Augmentation is not in the model: it moves images and masks together in the input pipeline
(``augment.paired_augmentation``).
"""

from __future__ import annotations

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
    skips = []
    for b in range(depth):
        x = convs(x, block_filters(knobs, b), f"down{b + 1}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"down{b + 1}_pool")(x)
    x = convs(x, block_filters(knobs, depth), "bottleneck")
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
        join = layers.Concatenate if knobs["skips"] == "concat" else layers.Add
        x = join(name=f"up{b + 1}_skip")([x, skips[b]])
        x = convs(x, filters, f"up{b + 1}")
    return keras.Model(inputs, output(x), name="unet")
