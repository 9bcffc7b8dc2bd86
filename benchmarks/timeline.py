"""What every benchmark contender writes as it goes: one JSON line per finished trial, with the
seconds since its process was started (by the parent, ``t0`` a ``time.time()``), so that what
it reached by its deadline is known even though it is killed there. Standard library only: the
AutoKeras contender runs it in a venv of its own."""

from __future__ import annotations

import json
import os
import time


def rss_mb_tree() -> float:
    """Resident memory of this process and its children (MB)."""
    total, me = 0.0, os.getpid()
    pids = [me] + [int(p) for p in open(f"/proc/{me}/task/{me}/children").read().split()]
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except OSError:
            pass
    return total


class Timeline:
    def __init__(self, path: str, t0: float | None = None):
        self.f = open(path, "a")
        self.t0 = time.time() if t0 is None else t0

    def trial(self, val: float | None, test: float | None, epochs: float, fit_s: float) -> None:
        self.f.write(json.dumps({"t": time.time() - self.t0, "val": val, "test": test,
                                 "epochs": epochs, "fit": fit_s, "rss": rss_mb_tree()}) + "\n")
        self.f.flush()
