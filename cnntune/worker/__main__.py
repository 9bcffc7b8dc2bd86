"""Entry point of a trial worker process: ``python -m cnntune.worker READ_FD WRITE_FD``.

Started by ``cnntune.worker.runner.WorkerRunner`` (its side: ``child``); not run by hand.
"""

import sys

from .child import worker_main

if __name__ == "__main__":
    worker_main(int(sys.argv[1]), int(sys.argv[2]))
