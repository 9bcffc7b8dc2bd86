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
    return out
