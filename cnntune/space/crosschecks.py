"""What a space is checked against once parsed: the knobs cnntune knows, the families and
tasks its params use, its ``start_from`` configurations.
"""

from __future__ import annotations

from typing import Any


from ..catalog import (TASKS)
from ..errors import SpaceError
from ..knobs import KNOBS
from .params import BoolParam, FloatParam, IntParam
from .schema import SpaceFile
from .searchspace import SearchSpace


def _check_against_knobs(spec: SpaceFile, source: str) -> None:
    """Each param is a knob, with values the knob takes. With a user's builder, only the knobs
    cnntune reads around the model (``knobs.AROUND_MODEL``) are its; every other name is the
    builder's, and ``family`` has no meaning."""
    from ..knobs import AROUND_MODEL

    known = ", ".join(sorted(KNOBS))
    for name, p in spec.params.items():
        knob = KNOBS.get(name)
        if spec.model is not None:
            if name == "family":
                raise SpaceError(f"space '{source}', param 'family': the space's model."
                                 f"{spec.model.kind} builds the model; drop the family param")
            if name not in AROUND_MODEL:
                continue
        if knob is None:
            raise SpaceError(f"space '{source}', param '{name}': unknown knob; "
                             f"use one of: {known}")
        if isinstance(p, IntParam | FloatParam):
            if knob.kind in (str, bool):
                raise SpaceError(f"space '{source}', param '{name}': is a {knob.kind.__name__} "
                                 f"knob and cannot be a numeric range; use categorical/bool")
            if isinstance(p, FloatParam) and knob.kind is int:
                raise SpaceError(f"space '{source}', param '{name}': is an integer knob; "
                                 f"use type: int")
            values = [p.low, p.high]
        elif isinstance(p, BoolParam):
            values = [True, False]
        else:
            values = p.grid()
        for v in values:
            why = knob.check(v)
            if why:
                raise SpaceError(f"space '{source}', param '{name}': {why}; "
                                 f"change the value ({knob.help})")


def _check_start_from(sp: SearchSpace) -> None:
    """Each ``start_from`` entry names only params of the space, each with a value the param
    can take and active given the entry's other values."""
    for i, entry in enumerate(sp.start_from() or [], 1):
        where = f"space '{sp.source}', start_from entry {i}"
        if not entry:
            raise SpaceError(f"{where}: is empty; give param: value pairs or remove it")
        active: dict[str, Any] = {}
        for name in sp.order:
            if name in entry and sp.is_active(name, active):
                active[name] = entry[name]
        for name, value in entry.items():
            if name not in sp.params:
                raise SpaceError(f"{where}, param '{name}': not a param of this space; use one "
                                 f"of {', '.join(sp.order)} or remove it")
            why = sp.params[name].outside(value)
            if why:
                raise SpaceError(f"{where}, param '{name}': {why}; give a value the space "
                                 "allows or widen the param")
            if name not in active:
                raise SpaceError(f"{where}, param '{name}': does not apply, its 'when' "
                                 f"({sp.params[name].when}) does not hold in this entry; "
                                 "remove it or set its parent")


def _check_task_use(sp: SearchSpace) -> None:
    """Refuse a param only another task reads (label_smoothing in a regression, ...), and a
    family that cannot give the task's outputs (segmentation needs a decoder, a decoder's
    class per pixel suits segmentation only)."""
    from ..knobs import DECODERS
    from ..tasks import task

    fam = sp.params.get("family")
    pixels = task(sp.spec.task).per_pixel
    # a builder's model is checked against the task when it is built (Task.output_problem)
    for f in ([] if sp.own_model else fam.grid() if fam is not None else ["plain"]):
        if pixels != (f in DECODERS):
            raise SpaceError(
                f"space '{sp.source}', param 'family': {f} " + (
                    f"has no decoder, and task {sp.spec.task} predicts a class per pixel; use "
                    f"family {' or '.join(DECODERS)}" if pixels else
                    f"predicts a class per pixel, and task {sp.spec.task} does not; use it "
                    "with task: segmentation, or another family"))
    for name in sp.order:
        owners = [t for t in TASKS if name in task(t).knobs]
        if owners and sp.spec.task not in owners:
            raise SpaceError(f"space '{sp.source}', param '{name}': is read by task "
                             f"{' and '.join(owners)} only, and this space's task is "
                             f"{sp.spec.task}; remove it or set task: {owners[0]}")


def _check_family_use(sp: SearchSpace) -> None:
    """Refuse a param that would be handed to a family that does not read it: each param must
    be conditional (``when: {family: ...}``, directly or through its parents) on the families
    that use it."""
    from ..knobs import FAMILY

    params = sp.params
    fam = params.get("family")
    if sp.own_model:  # the builder reads every param it is given
        return
    every = set(fam.grid()) if fam is not None else {"plain"}
    memo: dict[str, set] = {}

    def active_for(name: str) -> set:
        if name not in memo:
            out = set(every)
            for parent, wanted in (params[name].when or {}).items():
                if parent == "family":
                    out &= set(wanted if isinstance(wanted, list) else [wanted])
                else:
                    out &= active_for(parent)
            memo[name] = out
        return memo[name]

    for name in sp.order:
        if name == "family":
            continue
        for f in sorted(active_for(name)):
            if f in FAMILY and name not in FAMILY[f].uses:
                users = [g for g, family in FAMILY.items() if name in family.uses]
                fix = (f"add when: {{family: [{', '.join(users)}]}}" if fam is not None
                       else f"add family: {users[0]}" if len(users) == 1
                       else f"add a family param ({', '.join(users)})")
                raise SpaceError(f"space '{sp.source}', param '{name}': would be handed to "
                                 f"family {f}, which does not use it; {fix} or remove it")
