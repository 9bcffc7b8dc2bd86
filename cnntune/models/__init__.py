"""Model builders, one module per architecture family, behind a registry.

``build_model(knobs, input_shape, outputs, prep, task)`` returns an uncompiled Keras model. Every
family takes the raw data: image families start with a Rescaling to [0, 1] (``prep["scale"]``)
and augmentation layers (active only in training); the sequence family standardises with the
training split's per-channel ``prep["mean"]`` and ``prep["std"]``. So an exported model takes
the same inputs as the data it was searched on.

A family module has ``build(knobs, input_shape, output, prep)``, where ``output`` is the
task's last layer (``Task.output``: a softmax classifier, or a regression's outputs in the
targets' units); which knobs each one reads is ``cnntune.knobs.USES``.
"""

from __future__ import annotations

from importlib import import_module

_FAMILIES = {
    "plain": "cnntune.models.plain",
    "resnet": "cnntune.models.resnet",
    "separable": "cnntune.models.separable",
    "conv1d": "cnntune.models.conv1d",
    "transfer": "cnntune.models.transfer",
    "unet": "cnntune.models.unet",
}
SEQUENCE_FAMILIES = {"conv1d"}


def families() -> list[str]:
    return sorted(_FAMILIES)


def build_model(knobs: dict, input_shape: tuple[int, ...], outputs: int,
                prep: dict | float | None = None, task=None):
    """The family's model with ``outputs`` outputs (classes, or targets) for ``task``
    (default: classification); ``prep`` is the data's preprocessing (a bare float is a
    scale)."""
    from ..tasks import task as task_named
    family = knobs.get("family", "plain")
    if family not in _FAMILIES:
        raise KeyError(f"unknown architecture family '{family}'; use one of {families()}")
    if not isinstance(prep, dict):
        prep = {"scale": 1.0 if prep is None else float(prep)}
    rank = len(input_shape)
    if family in SEQUENCE_FAMILIES and rank != 2:
        raise ValueError(f"family {family} needs sequences (steps, channels), the data has "
                         f"inputs of shape {tuple(input_shape)}; use an image family")
    if family not in SEQUENCE_FAMILIES and rank != 3:
        raise ValueError(f"family {family} needs images (height, width, channels), the data "
                         f"has inputs of shape {tuple(input_shape)}; use family conv1d")
    output = task_named(task).output(outputs, prep)
    return import_module(_FAMILIES[family]).build(knobs, tuple(input_shape), output, prep)
