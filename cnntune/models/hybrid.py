"""The hybrid family: a small conv-transformer (MobileViT- and CoAtNet-like) for 32-64 px
images on a CPU.

Convolutional stages first, the plain family's blocks (conv -> [BN] -> activation, [SE],
pool), pooled no further than a grid of ``GRID`` x ``GRID`` patches; then the maps are cut
into ``patch_size`` x ``patch_size`` patches, one token each (a conv of that kernel and
stride to ``attn_dim`` channels: ViT's patch embedding), a depthwise 3x3 conv adds where each
token is (a conditional position encoding, as in CPVT: no table tied to one input size), and
``attn_blocks`` pre-norm transformer blocks mix the tokens: multi-head self-attention over
all of them (``attn_heads`` heads), then an MLP twice ``attn_dim`` wide, each added back. The
token grid goes to the usual head. Only Keras core layers: every export format takes it.
"""

from __future__ import annotations

from .augment import input_stack
from .common import conv_stack, head, regularizer

GRID = 2  # the attention stage sees at least this many patches along each side


def min_side(patch: int) -> int:
    """The smallest image side a hybrid with ``patch`` x ``patch`` patches takes."""
    return GRID * patch


def build(knobs: dict, input_shape: tuple[int, ...], output, prep: dict):
    import keras
    from keras import layers

    p = knobs["patch_size"]
    h, w = input_shape[:2]
    if min(h, w) < min_side(p):
        raise ValueError(f"the hybrid family cuts images into a grid of at least {GRID}x{GRID} "
                         f"patches of {p}x{p}, so it needs images of at least "
                         f"{min_side(p)}x{min_side(p)}, and these are {h}x{w}; use a smaller "
                         "patch_size or another family")
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for layer in input_stack(knobs, prep["scale"]):
        x = layer(x)
    x, size = conv_stack(x, knobs, [h, w], least=min_side(p))
    d, heads, reg = knobs["attn_dim"], knobs["attn_heads"], regularizer(knobs)
    x = layers.Conv2D(d, p, strides=p, kernel_regularizer=reg, name="patch_embed")(x)
    grid = [s // p for s in size]
    x = layers.Add(name="patch_position")(
        [x, layers.DepthwiseConv2D(3, padding="same", name="patch_position_conv")(x)])
    t = layers.Reshape((grid[0] * grid[1], d), name="tokens")(x)
    for i in range(1, knobs["attn_blocks"] + 1):
        y = layers.LayerNormalization(epsilon=1e-6, name=f"attn{i}_norm")(t)
        y = layers.MultiHeadAttention(heads, max(1, d // heads), kernel_regularizer=reg,
                                      name=f"attn{i}")(y, y)
        t = layers.Add(name=f"attn{i}_add")([t, y])
        y = layers.LayerNormalization(epsilon=1e-6, name=f"mlp{i}_norm")(t)
        y = layers.Dense(2 * d, activation="gelu", kernel_regularizer=reg, name=f"mlp{i}_up")(y)
        y = layers.Dense(d, kernel_regularizer=reg, name=f"mlp{i}_down")(y)
        t = layers.Add(name=f"mlp{i}_add")([t, y])
    t = layers.LayerNormalization(epsilon=1e-6, name="tokens_norm")(t)
    x = layers.Reshape((grid[0], grid[1], d), name="token_grid")(t)
    return keras.Model(inputs, head(x, knobs, output, grid), name="hybrid")
