"""Pieces every family shares: the weight penalty, conv -> BN -> activation, pooling, the head.

Layers are named ``block<i>_...`` so that a family's last conv layer can be found by name
(Grad-CAM) and models read the same in summaries whatever their family.
"""

from __future__ import annotations

# Keras' default 0.99 leaves the moving statistics far from the data after the few hundred
# steps of a short trial (train accuracy 97%, validation 13% measured on digits): 0.9, the
# PyTorch default, converges within a few dozen steps.
BN_MOMENTUM = 0.9


def regularizer(knobs: dict):
    """L1 and/or L2 on kernels, or None."""
    from keras import regularizers

    l1, l2 = knobs.get("l1", 0.0), knobs.get("l2", 0.0)
    if l1 > 0 and l2 > 0:
        return regularizers.L1L2(l1=l1, l2=l2)
    if l1 > 0:
        return regularizers.L1(l1)
    if l2 > 0:
        return regularizers.L2(l2)
    return None


def bn_act(x, knobs: dict, name: str):
    """[batch norm] -> activation, as the knobs ask."""
    from keras import layers

    if knobs["batch_norm"]:
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.Activation(knobs["activation"], name=f"{name}_act")(x)


def block_filters(knobs: dict, b: int, multiplier: float = 1.0) -> int:
    return max(1, int(round(knobs["filters"] * knobs["filters_growth"] ** b * multiplier)))


def pool(x, knobs: dict, size: list[int], name: str, least: int = 1):
    """Pool by 2 along every spatial axis unless pooling is off or the map would be narrower
    than ``least`` (1 pixel; a hybrid's patch grid). Returns the new tensor and spatial size."""
    from keras import layers

    if knobs["pooling"] == "none" or min(size) // 2 < least:
        return x, size
    dims = len(size)
    kind = "Max" if knobs["pooling"] == "max" else "Average"
    layer = getattr(layers, f"{kind}Pooling{dims}D")
    return layer(2, name=name)(x), [s // 2 for s in size]


def spatial_dropout(x, knobs: dict, dims: int, name: str):
    from keras import layers

    rate = knobs.get("spatial_dropout", 0.0)
    if rate <= 0:
        return x
    return getattr(layers, f"SpatialDropout{dims}D")(rate, name=name)(x)


def squeeze_excite(x, knobs: dict, name: str):
    """Squeeze-and-excitation (Hu et al., 2018) when ``se_ratio`` > 0: each channel of ``x``
    scaled by a weight in (0, 1) computed from the channels' global averages, through a
    bottleneck of channels / se_ratio units. 1D or 2D maps alike."""
    from keras import layers

    ratio = knobs.get("se_ratio", 0)
    if not ratio or ratio <= 0:
        return x
    dims, channels = len(x.shape) - 2, int(x.shape[-1])
    s = getattr(layers, f"GlobalAveragePooling{dims}D")(keepdims=True,
                                                        name=f"{name}_se_squeeze")(x)
    s = layers.Dense(max(1, channels // ratio), activation="relu", name=f"{name}_se_reduce")(s)
    s = layers.Dense(channels, activation="sigmoid", name=f"{name}_se_expand")(s)
    return layers.Multiply(name=f"{name}_se_scale")([x, s])


def conv_stack(x, knobs: dict, size: list[int], least: int = 1):
    """The plain stack in 1D or 2D (by ``len(size)``): per block, (conv -> [BN] -> activation)
    x convs_per_block -> [squeeze-and-excitation] -> pool (while the map stays at least
    ``least`` wide) -> [spatial dropout]. Returns the tensor and spatial size."""
    from keras import layers

    dims = len(size)
    conv = getattr(layers, f"Conv{dims}D")
    reg = regularizer(knobs)
    for b in range(knobs["n_blocks"]):
        for c in range(knobs["convs_per_block"]):
            x = conv(block_filters(knobs, b), knobs["kernel_size"], padding="same",
                     use_bias=not knobs["batch_norm"], kernel_regularizer=reg,
                     name=f"block{b + 1}_conv{c + 1}")(x)
            x = bn_act(x, knobs, f"block{b + 1}_{c + 1}")
        x = squeeze_excite(x, knobs, f"block{b + 1}")
        x, size = pool(x, knobs, size, f"block{b + 1}_pool", least)
        x = spatial_dropout(x, knobs, dims, f"block{b + 1}_sdrop")
    return x, size


def head(x, knobs: dict, output, size: list[int]):
    """Feature maps -> vector (flatten or global pooling) -> dropout -> [dense -> [BN] ->
    activation -> dropout] -> ``output``, the task's last layer (``Task.output``: a softmax
    classifier, a regression's linear outputs).

    The dense layer is batch-normalised when the convs are: a flattened map feeds it thousands
    of non-negative inputs, so one Adam step moves every input's weight alike and can push all
    its ReLUs below zero for good (measured on 32x32 shapes at lr 2e-3: 0-1 of 64 units alive
    after an epoch, validation accuracy stuck at the majority class; with BN 64 of 64, 0.72-0.85
    after 4 epochs)."""
    from keras import layers

    dims = len(size)
    kind = knobs.get("head", "auto")
    positions = 1
    for s in size:
        positions *= s
    if kind == "auto":
        kind = "flatten" if positions <= 16 else "global_average"
    if kind == "flatten":
        x = layers.Flatten(name="flatten")(x)
    elif kind == "global_max":
        x = getattr(layers, f"GlobalMaxPooling{dims}D")(name="gmp")(x)
    else:
        x = getattr(layers, f"GlobalAveragePooling{dims}D")(name="gap")(x)
    reg = regularizer(knobs)
    if knobs["dropout"] > 0:
        x = layers.Dropout(knobs["dropout"], name="dropout")(x)
    if knobs["dense_units"] > 0:
        x = layers.Dense(knobs["dense_units"], use_bias=not knobs["batch_norm"],
                         kernel_regularizer=reg, name="dense")(x)
        x = bn_act(x, knobs, "dense")
        if knobs["dropout"] > 0:
            x = layers.Dropout(knobs["dropout"], name="dense_dropout")(x)
    return output(x)
