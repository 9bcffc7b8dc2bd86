"""One of the processes of ``search(workers=N)``: ``python -m cnntune.tuning.study_worker``.

It reads ``search()``'s keyword arguments as one JSON object on stdin, runs that search on the
shared study and writes its events as JSON lines on stdout, the last one ``study_end``. The
coordinator (``parallel.py``) builds the arguments as a dict keyed by ``search()``'s own
parameter names, so no option is spelled twice: what ``search`` accepts is what a worker gets.
A cnntune error ends the process with its exit code and its one line as the last line of
stderr, which the coordinator quotes.
"""

from __future__ import annotations

import dataclasses
import json
import sys

from ..errors import CnntuneError
from ..files import event_line


def _emit(kind: str, payload: dict) -> None:
    sys.stdout.write(event_line(kind, payload) + "\n")
    sys.stdout.flush()


def main() -> int:
    from .study import search

    kwargs = json.loads(sys.stdin.read())
    try:
        result = search(kwargs.pop("space"), on_event=_emit, **kwargs)
    except CnntuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the coordinator reports
        return 130
    _emit("study_end", dataclasses.asdict(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
