"""keras.applications backbones, shared by the transfer family (a backbone and a new head) and
the unet family's encoder (``encoder: mobilenetv2`` ...).

What this module owns, for both:
- which application a ``backbone``/``encoder`` name is, and the input range it was trained on
  (MobileNetV2 and ResNet50V2: [-1, 1]; EfficientNetB0 rescales 0-255 itself);
- its weights (``backbone_weights``): random (``none``), Keras' ImageNet file (``imagenet``:
  downloaded once into ~/.keras, so offline it must already be there), or a local file saved
  with ``model.save_weights`` from the same backbone without its top;
- what trains: with kept weights (imagenet or a file), the top ``unfreeze`` layers, and
  batch-norm layers always run in inference mode, as Keras' fine-tuning guide advises. Random
  weights have nothing to keep, so the whole backbone trains, batch norm included;
- its feature maps per stride (``features``), the skips a decoder joins.
"""

from __future__ import annotations

from pathlib import Path

_APPS = {"mobilenetv2": ("MobileNetV2", 2.0, -1.0),
         "efficientnetb0": ("EfficientNetB0", 255.0, 0.0),
         "resnet50v2": ("ResNet50V2", 2.0, -1.0)}
# each backbone's feature maps at strides 2, 4, 8, 16 and 32: the last layer at each size
# before a strided conv halves it (as TensorFlow's pix2pix segmentation tutorial takes
# MobileNetV2's, and segmentation_models EfficientNet's)
_STRIDE_LAYERS = {
    "mobilenetv2": ("block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu",
                    "block_13_expand_relu", "out_relu"),
    "efficientnetb0": ("block2a_expand_activation", "block3a_expand_activation",
                       "block4a_expand_activation", "block6a_expand_activation",
                       "top_activation"),
    "resnet50v2": ("conv1_conv", "conv2_block3_1_relu", "conv3_block4_1_relu",
                   "conv4_block6_1_relu", "post_relu"),
}
# keras.applications refuses smaller inputs
MIN_SIDE = 32


def weights_argument(value: str):
    """The ``weights=`` argument of keras.applications for a ``backbone_weights`` knob."""
    if value == "none":
        return None
    if value == "imagenet":
        return "imagenet"
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights file '{value}' not found; give the path of a "
                                "file saved with model.save_weights, or 'none' for random "
                                "weights")
    return str(path)


def to_backbone_input(x, name: str, channels: int):
    """Images in [0, 1] as the backbone ``name`` takes them: 3 channels (grey repeated), in
    the range it was trained on."""
    from keras import layers

    if channels == 1:
        x = layers.Concatenate(name="to_rgb")([x, x, x])
    elif channels != 3:
        raise ValueError(f"a {name} backbone needs images of 1 or 3 channels, got {channels}")
    _, mul, offset = _APPS[name]
    return layers.Rescaling(mul, offset=offset, name="backbone_range")(x)


def make(name: str, knobs: dict, side: tuple[int, int]):
    """The backbone ``name`` without its top for ``side`` (height, width) RGB inputs, its
    weights loaded and its layers frozen or not as the knobs say."""
    import keras

    if min(side) < MIN_SIDE:
        raise ValueError(f"a {name} backbone needs images of at least {MIN_SIDE}x{MIN_SIDE}, "
                         f"and these are {side[0]}x{side[1]}; resize them (data.image_size) "
                         "or use encoder: own")
    backbone = getattr(keras.applications, _APPS[name][0])(
        include_top=False, weights=weights_argument(knobs["backbone_weights"]),
        input_shape=(*side, 3))
    if pretrained(knobs):
        # two-phase fine-tuning: frozen whole in phase one, its top thawed in phase two
        _train_top(backbone, 0 if first_phase(knobs) else knobs["unfreeze"])
    return backbone


def _train_top(backbone, n: int) -> None:
    """The top ``n`` layers of ``backbone`` train (none: 0), batch norm's never."""
    from keras import layers

    backbone.trainable = n > 0
    for layer in backbone.layers[:-n] if n > 0 else []:
        layer.trainable = False
    for layer in backbone.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False


def first_phase(knobs: dict) -> int:
    """The epochs of two-phase fine-tuning's phase one (the head alone), 0 for one phase:
    it applies to a backbone with kept weights whose top ``unfreeze`` layers are to train."""
    if knobs.get("finetune_epochs", 0) > 0 and pretrained(knobs) and knobs["unfreeze"] > 0:
        return knobs["finetune_epochs"]
    return 0


def thaw(model, knobs: dict) -> None:
    """Phase two of fine-tuning: the top ``unfreeze`` layers of ``model``'s backbone (its one
    nested model) train from now on; compile it again for Keras to see it."""
    import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise ValueError(f"fine-tuning's phase two looks for one backbone in model "
                         f"{model.name} and found {len(nested)}")
    _train_top(nested[0], knobs["unfreeze"])


def pretrained(knobs: dict) -> bool:
    """Whether the backbone's weights are kept (so batch norm runs in inference mode)."""
    return knobs["backbone_weights"] != "none"


def call(backbone, x, knobs: dict):
    """``backbone`` applied to ``x``: batch norm in inference mode when the weights are kept."""
    return backbone(x, training=False) if pretrained(knobs) else backbone(x)


def features(name: str, knobs: dict, side: tuple[int, int], depth: int):
    """A model from the backbone ``name``'s input (``make``) to its feature maps at strides
    2, 4, ..., 2 ** ``depth``; a depth it does not reach is refused before it is built."""
    import keras

    levels = _STRIDE_LAYERS[name]
    if depth > len(levels):
        raise ValueError(f"a {name} backbone halves the image at most {len(levels)} times, so "
                         f"a depth of {depth} is too deep; use n_blocks 1-{len(levels)}")
    backbone = make(name, knobs, side)
    outputs = [backbone.get_layer(n).output for n in levels[:depth]]
    return keras.Model(backbone.input, outputs, name=f"{name}_features")
