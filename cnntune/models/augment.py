"""Input rescaling and augmentation layers, placed inside the model.

Keras preprocessing layers are active only when the model is called with ``training=True``
(that is, inside ``fit``); ``predict``/``evaluate`` and exported models pass images unchanged.
"""

from __future__ import annotations


def input_stack(knobs: dict, scale: float) -> list:
    from keras import layers

    out = [layers.Rescaling(scale, name="rescale")]
    if knobs.get("aug_flip", "none") != "none":
        out.append(layers.RandomFlip(knobs["aug_flip"], name="aug_flip"))
    if knobs.get("aug_rotation", 0.0) > 0:
        out.append(layers.RandomRotation(knobs["aug_rotation"], fill_mode="constant",
                                         name="aug_rotation"))
    if knobs.get("aug_translation", 0.0) > 0:
        t = knobs["aug_translation"]
        out.append(layers.RandomTranslation(t, t, fill_mode="constant", name="aug_translation"))
    if knobs.get("aug_zoom", 0.0) > 0:
        out.append(layers.RandomZoom(knobs["aug_zoom"], fill_mode="constant", name="aug_zoom"))
    if knobs.get("aug_contrast", 0.0) > 0:
        out.append(layers.RandomContrast(knobs["aug_contrast"], value_range=(0.0, 1.0),
                                         name="aug_contrast"))
    if knobs.get("aug_randaugment", 0) > 0:
        out.append(layers.RandAugment(value_range=(0.0, 1.0), num_ops=knobs["aug_randaugment"],
                                      factor=knobs.get("aug_randaugment_magnitude", 0.5),
                                      name="aug_randaugment"))
    if knobs.get("aug_augmix", 0.0) > 0:
        out.append(layers.AugMix(value_range=(0.0, 1.0), factor=knobs["aug_augmix"],
                                 name="aug_augmix"))
    if knobs.get("aug_erasing", 0.0) > 0:
        out.append(layers.RandomErasing(factor=knobs["aug_erasing"], value_range=(0.0, 1.0),
                                        name="aug_erasing"))
    return out


def standardise(prep: dict) -> list:
    """A sequence's input layers: (x - mean) / std per channel with the training split's
    statistics, as a per-channel Rescaling (plain constants in every export: a Normalization
    layer's captured tensors become missing inputs in the ONNX graph); none without them."""
    import numpy as np
    from keras import layers

    mean, std = prep.get("mean"), prep.get("std")
    if mean is None:
        return []
    scale = (1.0 / np.asarray(std, dtype="float64")).tolist()
    offset = (-np.asarray(mean, dtype="float64") * np.asarray(scale)).tolist()
    return [layers.Rescaling(scale, offset=offset, name="standardise")]


def paired_augmentation(knobs: dict):
    """A function (images, masks) -> (images, masks) that moves a batch's images and their
    masks together (flip, rotation, translation, zoom, nearest-neighbour for the masks), or
    None when the knobs ask for none. Contrast changes the images only."""
    from keras import layers

    steps = []
    if knobs.get("aug_flip", "none") != "none":
        steps.append(layers.RandomFlip(knobs["aug_flip"]))
    if knobs.get("aug_rotation", 0.0) > 0:
        steps.append(layers.RandomRotation(knobs["aug_rotation"], fill_mode="reflect"))
    if knobs.get("aug_translation", 0.0) > 0:
        t = knobs["aug_translation"]
        steps.append(layers.RandomTranslation(t, t, fill_mode="reflect"))
    if knobs.get("aug_zoom", 0.0) > 0:
        steps.append(layers.RandomZoom(knobs["aug_zoom"], fill_mode="reflect"))
    if not steps:
        return None

    def augment(images, masks):
        import tensorflow as tf

        pair = {"images": tf.cast(images, "float32"),
                "segmentation_masks": tf.cast(masks[..., None], "float32")}
        for step in steps:
            pair = step(pair, training=True)
        return pair["images"], tf.cast(tf.round(pair["segmentation_masks"][..., 0]),
                                       masks.dtype)

    return augment


def mixing(knobs: dict):
    """A function (examples, targets) -> (examples, targets) that mixes a training batch's
    examples with each other's and their (one-hot or multi-hot) targets alike: Keras 3's MixUp
    and CutMix layers, one of them per batch when both are on; None when the knobs ask for
    neither. A sequence batch (batch, steps, channels) is mixed as images one pixel wide (CutMix
    then pastes a stretch of steps). It runs in the training pipeline, never in the model."""
    from keras import layers

    from ..knobs import mixes

    if not mixes(knobs):
        return None
    steps = []
    if knobs.get("aug_mixup", 0.0) > 0:
        steps.append(layers.MixUp(alpha=knobs["aug_mixup"]))
    if knobs.get("aug_cutmix", 0.0) > 0:
        steps.append(layers.CutMix(factor=knobs["aug_cutmix"]))

    def mix(examples, targets):
        import tensorflow as tf

        x = tf.cast(examples, "float32")
        seq = len(x.shape) == 3
        if seq:
            x = x[:, :, None, :]
        pair = {"images": x, "labels": tf.cast(targets, "float32")}
        if len(steps) == 1:
            out = steps[0](pair, training=True)
        else:
            out = tf.cond(tf.random.uniform([]) < 0.5, lambda: steps[0](pair, training=True),
                          lambda: steps[1](pair, training=True))
        x = out["images"][:, :, 0, :] if seq else out["images"]
        return x, out["labels"]

    return mix
