"""The transfer family: a keras.applications backbone with a new head.

Images are rescaled to [0, 1], augmented, resized to ``transfer_size`` squared, repeated to 3
channels when grey, and mapped to the range the backbone was trained on (MobileNetV2 and
ResNet50V2: [-1, 1]; EfficientNetB0 rescales 0-255 itself). The backbone is built without its
top; its weights are random (``backbone_weights: none``), Keras' ImageNet file
(``imagenet``: downloaded once into ~/.keras, so offline it must already be there) or a local
weights file saved with ``model.save_weights`` from the same backbone without its top.
``unfreeze`` layers from the top of the backbone train with the head; the rest stay frozen, and
batch-norm layers always run in inference mode (as Keras' fine-tuning guide advises).
"""

from __future__ import annotations

from pathlib import Path

from .augment import input_stack
from .common import head

_APPS = {"mobilenetv2": ("MobileNetV2", 2.0, -1.0),
         "efficientnetb0": ("EfficientNetB0", 255.0, 0.0),
         "resnet50v2": ("ResNet50V2", 2.0, -1.0)}


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


def build(knobs: dict, input_shape: tuple[int, ...], output, prep: dict):
    import keras
    from keras import layers

    if len(input_shape) != 3:
        raise ValueError(f"the transfer family needs images (height, width, channels), got "
                         f"inputs of shape {input_shape}")
    app_name, mul, offset = _APPS[knobs["backbone"]]
    size = knobs["transfer_size"]
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for layer in input_stack(knobs, prep["scale"]):
        x = layer(x)
    if tuple(input_shape[:2]) != (size, size):
        x = layers.Resizing(size, size, name="resize")(x)
    if input_shape[2] == 1:
        x = layers.Concatenate(name="to_rgb")([x, x, x])
    elif input_shape[2] != 3:
        raise ValueError(f"the transfer family needs 1 or 3 channels, got {input_shape[2]}")
    x = layers.Rescaling(mul, offset=offset, name="backbone_range")(x)
    backbone = getattr(keras.applications, app_name)(
        include_top=False, weights=weights_argument(knobs["backbone_weights"]),
        input_shape=(size, size, 3))
    n = knobs["unfreeze"]
    backbone.trainable = n > 0
    if n > 0:
        for layer in backbone.layers[:-n]:
            layer.trainable = False
        for layer in backbone.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
    x = backbone(x, training=False)
    side = max(1, size // 32)
    return keras.Model(inputs, head(x, knobs, output, [side, side]),
                       name=f"transfer_{knobs['backbone']}")
