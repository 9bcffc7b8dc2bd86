"""One of the processes of ``search(workers=N)``: ``python -m cnntune.tuning.study_worker``.

It reads its ``SearchOptions`` as one JSON object on stdin (the coordinator's, made for this
worker by ``SearchOptions.for_worker``), runs that search on the shared study and writes its
events as JSON lines on stdout, the last one ``study_end``.
A cnntune error ends the process with its exit code and its one line as the last line of
stderr, which the coordinator quotes.
"""

from __future__ import annotations

import dataclasses
import sys

from ..errors import CnntuneError
from ..files import event_line


def _emit(kind: str, payload: dict) -> None:
    sys.stdout.write(event_line(kind, payload) + "\n")
    sys.stdout.flush()


def main() -> int:
    from .options import SearchOptions
    from .study import run

    try:
        result = run(SearchOptions.from_json(sys.stdin.read()), on_event=_emit)
    except CnntuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the coordinator reports
        return 130
    _emit("study_end", dataclasses.asdict(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
