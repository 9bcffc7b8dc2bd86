"""Writing files that other processes and later commands read: atomically (a crash or a
concurrent reader never sees half a file), and JSON that holds numpy scalars. Standard
library only."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def jsonable(value: Any) -> Any:
    """What ``json.dumps`` cannot write as it is: numpy scalars as Python numbers (ints stay
    ints), other number-likes as floats, anything else as its string."""
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            pass
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def event_line(kind: str, payload: dict) -> str:
    """One search event as a JSON line (no newline): ``{"event": kind, "time": unix seconds,
    ...payload}``, NaN and infinities as null (JSON has no such numbers)."""
    import time

    return json.dumps(_finite({"event": kind, "time": round(time.time(), 3), **payload}),
                      default=jsonable, allow_nan=False)


def _finite(value: Any) -> Any:
    import math

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it, then rename."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: str | Path, data: Any, *, indent: int = 2) -> None:
    write_text(path, json.dumps(data, indent=indent, default=jsonable))
