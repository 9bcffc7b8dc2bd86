"""Model builders, one module per architecture family, behind a registry.

``build_model(knobs, input_shape, num_classes, scale)`` returns an uncompiled Keras model whose
first layers rescale the input to [0, 1] and augment it (active only in training).
"""

from __future__ import annotations

from importlib import import_module

_FAMILIES = {"plain": "cnntune.models.plain"}


def families() -> list[str]:
    return sorted(_FAMILIES)


def build_model(knobs: dict, input_shape: tuple[int, ...], num_classes: int, scale: float):
    family = knobs.get("family", "plain")
    if family not in _FAMILIES:
        raise KeyError(f"unknown architecture family '{family}'; use one of {families()}")
    return import_module(_FAMILIES[family]).build(knobs, input_shape, num_classes, scale)
