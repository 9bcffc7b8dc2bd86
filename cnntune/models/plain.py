"""The plain family: LeNet/VGG-style stacks of conv blocks.

block i = (conv -> [batch norm] -> activation) x convs_per_block -> pool, with
filters_i = filters * filters_growth ** i; then global-average or flatten, dropout, an optional
dense head, dropout, softmax. Pooling is skipped once the feature map is down to 1 pixel, so
deep stacks stay valid on small inputs such as 8x8 digits.
"""

from __future__ import annotations

from .augment import input_stack

# Keras' default 0.99 leaves the moving statistics far from the data after the few hundred
# steps of a short trial (train accuracy 97%, validation 13% measured on digits): 0.9, the
# PyTorch default, converges within a few dozen steps.
BN_MOMENTUM = 0.9


def build(knobs: dict, input_shape: tuple[int, ...], num_classes: int, scale: float):
    import keras
    from keras import layers, regularizers

    reg = regularizers.L2(knobs["l2"]) if knobs["l2"] > 0 else None
    act = knobs["activation"]
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for layer in input_stack(knobs, scale):
        x = layer(x)
    h, w = input_shape[0], input_shape[1]
    for b in range(knobs["n_blocks"]):
        n_filters = max(1, int(round(knobs["filters"] * knobs["filters_growth"] ** b)))
        for c in range(knobs["convs_per_block"]):
            x = layers.Conv2D(n_filters, knobs["kernel_size"], padding="same",
                              use_bias=not knobs["batch_norm"], kernel_regularizer=reg,
                              name=f"block{b + 1}_conv{c + 1}")(x)
            if knobs["batch_norm"]:
                x = layers.BatchNormalization(momentum=BN_MOMENTUM,
                                              name=f"block{b + 1}_bn{c + 1}")(x)
            x = layers.Activation(act, name=f"block{b + 1}_act{c + 1}")(x)
        if knobs["pooling"] != "none" and min(h, w) >= 2:
            pool = layers.MaxPooling2D if knobs["pooling"] == "max" else layers.AveragePooling2D
            x = pool(2, name=f"block{b + 1}_pool")(x)
            h, w = h // 2, w // 2
    x = layers.Flatten(name="flatten")(x) if h * w <= 16 else \
        layers.GlobalAveragePooling2D(name="gap")(x)
    if knobs["dropout"] > 0:
        x = layers.Dropout(knobs["dropout"], name="dropout")(x)
    if knobs["dense_units"] > 0:
        x = layers.Dense(knobs["dense_units"], activation=act, kernel_regularizer=reg,
                         name="dense")(x)
        if knobs["dropout"] > 0:
            x = layers.Dropout(knobs["dropout"], name="dense_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="plain_cnn")
