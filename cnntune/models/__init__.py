"""Model builders, one module per architecture family, behind a registry.

``build_model(knobs, input_shape, outputs, prep, task)`` returns an uncompiled Keras model. Every
family takes the raw data: image families start with a Rescaling to [0, 1] (``prep["scale"]``)
and augmentation layers (active only in training); the sequence family standardises with the
training split's per-channel ``prep["mean"]`` and ``prep["std"]``. So an exported model takes
the same inputs as the data it was searched on.

A family module has ``build(knobs, input_shape, output, prep)``, where ``output`` is the
task's last layer (``Task.output``: a softmax classifier, or a regression's outputs in the
targets' units); which knobs each one reads, and what inputs it takes, is its
``cnntune.knobs.Family``.
"""

from __future__ import annotations

from importlib import import_module

from ..knobs import FAMILY, family_named

def families() -> list[str]:
    return sorted(FAMILY)


def build_model(knobs: dict, input_shape: tuple[int, ...], outputs: int,
                prep: dict | float | None = None, task=None):
    """The family's model with ``outputs`` outputs (classes, or targets) for ``task``
    (default: classification); ``prep`` is the data's preprocessing (a bare float is a
    scale)."""
    from ..tasks import task as task_named
    family = family_named(knobs.get("family", "plain"))
    if not isinstance(prep, dict):
        prep = {"scale": 1.0 if prep is None else float(prep)}
    if len(input_shape) != family.rank:
        shape = "(steps, channels)" if family.rank == 2 else "(height, width, channels)"
        others = [f.name for f in FAMILY.values() if f.rank == len(input_shape)]
        raise ValueError(f"family {family.name} needs {family.takes}s {shape}, the data has "
                         f"inputs of shape {tuple(input_shape)}; use family "
                         f"{' or '.join(others) or 'of another kind'}")
    output = task_named(task).output(outputs, prep)
    return import_module(family.module).build(knobs, tuple(input_shape), output, prep)
