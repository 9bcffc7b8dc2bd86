"""Which GPU each study worker trains on: ``--gpus`` and ``--trials-per-gpu`` as slots.

The GPUs are found without importing TensorFlow (the CLI answers at once): the ids in
``CUDA_VISIBLE_DEVICES`` when it is set, else the indices ``nvidia-smi`` lists, else none. A
worker is pinned by the environment its processes start with: ``CUDA_VISIBLE_DEVICES`` set
to its GPU (empty for none) before TensorFlow is imported, and memory growth on, so that
several trials can share one GPU. On a machine without GPUs nothing is set: trials run as
they always did.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from ..errors import ConfigError
from ..worker.device import VISIBLE, device_of  # noqa: F401  (where a worker trains)

NODE = "CNNTUNE_NODE"  # set by a --ray worker: the cluster node its trials train on
GROWTH = "TF_FORCE_GPU_ALLOW_GROWTH"  # TensorFlow reads it when it first sets up a GPU
SPECS = ("all", "none")  # besides a comma-separated list of ids


def visible_gpus() -> list[str]:
    """The GPU ids this process may use, as CUDA numbers them."""
    given = os.environ.get(VISIBLE)
    if given is not None:
        ids = [g.strip() for g in given.split(",") if g.strip()]
        # CUDA stops at the first invalid id; "-1" is the usual way to hide every GPU
        return ids[:next((i for i, g in enumerate(ids) if g.startswith("-")), len(ids))]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "--query-gpu=index", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip().isdigit()] \
        if out.returncode == 0 else []


def choose(spec: str | None, visible: list[str]) -> list[str]:
    """The GPUs ``--gpus spec`` names among ``visible``: ``all`` (the default), ``none``, or
    ids such as ``0,2``."""
    spec = "all" if spec is None else spec.strip()
    if spec == "all":
        return list(visible)
    if spec == "none":
        return []
    ids = [s.strip() for s in spec.split(",")]
    if not all(i.isdigit() for i in ids) or not ids:
        raise ConfigError(f"--gpus {spec!r} is not a list of GPU ids; give e.g. 0,2, or "
                          f"{' or '.join(SPECS)}")
    if len(set(ids)) < len(ids):
        raise ConfigError(f"--gpus {spec} names a GPU twice; name each once")
    unknown = [i for i in ids if i not in visible]
    if unknown:
        have = f"GPUs {', '.join(visible)}" if visible else "no GPU"
        raise ConfigError(f"--gpus {spec}: GPU {unknown[0]} is not on this machine, which "
                          f"shows {have}; use --gpus all, none, or ids from that list")
    return ids


def check_per_gpu(per_gpu: int) -> None:
    if per_gpu < 1:
        raise ConfigError(f"--trials-per-gpu must be >= 1, got {per_gpu}")


def slots(gpus: list[str], workers: int | None, per_gpu: int) -> list[str | None]:
    """The GPU of each worker (None: no GPU), ``per_gpu`` workers sharing one. ``workers``
    None: one per slot, or 1 without GPUs."""
    check_per_gpu(per_gpu)
    if not gpus:
        return [None] * (workers or 1)
    capacity = len(gpus) * per_gpu
    workers = capacity if workers is None else workers
    if workers > capacity:
        raise ConfigError(f"--workers {workers} needs {workers} GPU slots; {len(gpus)} GPU(s) "
                          f"x --trials-per-gpu {per_gpu} give {capacity}: raise "
                          "--trials-per-gpu, or use --gpus none to train on the CPU")
    return [gpus[i // per_gpu] for i in range(workers)]


def worker_env(slot: str | None, visible: list[str]) -> dict[str, str]:
    """What a worker's processes must start with to train on ``slot``: nothing on a machine
    with no ``visible`` GPU; else ``CUDA_VISIBLE_DEVICES`` (empty hides them all) and memory
    growth."""
    if slot is None and not visible:
        return {}
    return {VISIBLE: slot or "", GROWTH: "true"}


def node_of(env) -> str:
    """The machine a worker with ``env`` trains on, as logged: its Ray node, else the host."""
    import socket

    return env.get(NODE) or socket.gethostname()
