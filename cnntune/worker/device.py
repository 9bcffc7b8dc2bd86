"""Where a trial worker trains, as the worker itself reads its environment: the device its
trials' runs are tagged with (``cnntune.device``) comes from here, in the worker process, so
the tag shows where training happened, not where the study meant it to happen."""

from __future__ import annotations

VISIBLE = "CUDA_VISIBLE_DEVICES"


def device_of(env) -> str:
    """The device a process with environment ``env`` trains on, as logged: ``gpu:N`` (the
    GPUs CUDA lets it see) or ``cpu``."""
    slot = env.get(VISIBLE, "")
    return f"gpu:{slot}" if slot else "cpu"
