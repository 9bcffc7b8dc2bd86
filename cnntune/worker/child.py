"""The trial worker's side: ``python -m cnntune.worker`` imports TensorFlow once, then serves
the study's messages (``protocol``) until told to exit; what it shares with trials run in the
study's own process (``limit_threads``, ``with_steps``).
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import replace
from multiprocessing.connection import Connection

from .clock import Costs
from .device import device_of
from .trial import TrialSettings, release_earlier_trials, run_trial
from .protocol import (Done, Epoch, Exit, Failed, LogModel, Logged, Progress, Ready, Release,
                       Report, Run)


def worker_main(read_fd: int, write_fd: int) -> None:
    """The child side: load TensorFlow, then serve trials until told to exit or the parent
    goes away."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    inbox = Connection(read_fd, writable=False)
    outbox = Connection(write_fd, readable=False)
    try:
        from .._quiet import import_tensorflow_quietly

        import_tensorflow_quietly()
        warming = _ModelLoggingWarmup()
        if not inbox.poll(0.2):  # nobody waits for this worker yet (a spare): warm up now
            warming.start()
        init = inbox.recv()
        if isinstance(init, Exit):
            return
        dataset, settings, tracking_uri = init.dataset, init.settings, init.tracking_uri
        limit_threads(settings.threads)
    except EOFError:
        return
    except BaseException:
        outbox.send(Failed(traceback.format_exc(limit=3)))
        return
    outbox.send(Ready(device_of(os.environ)))
    model = None
    tracker = None
    costs = Costs()  # what this worker's trials measured, for the next trial's plan
    released = False  # the session is already released for the next trial
    while True:
        try:
            msg = inbox.recv()
        except EOFError:
            return
        try:
            match msg:
                case Exit():
                    return
                case Release():  # unanswered; on failure the next trial releases again
                    model = None
                    try:
                        release_earlier_trials(freeze=True)
                        released = True
                    except Exception:
                        released = False
                case Run(number, params, steps, folder):
                    model = None

                    def on_epoch(epoch, logs):
                        outbox.send(Epoch(epoch, logs))
                        warming.start()  # after the first epoch's tracing, which needs the GIL

                    def report(epoch, value):
                        outbox.send(Report(epoch, value))
                        return inbox.recv()

                    fresh, released = released, False
                    result = run_trial(params, dataset,
                                       replace(with_steps(settings, steps), checkpoint=folder),
                                       number=number, report=report, on_epoch=on_epoch,
                                       freeze=True, release=not fresh, costs=costs,
                                       on_progress=lambda info: outbox.send(Progress(info)))
                    model = result.take_model()
                    outbox.send(Done(result, rss_mb()))
                case LogModel(run_id, example):
                    t0 = time.time()
                    warming.join()
                    from ..tracking.runs import Tracker

                    tracker = tracker or Tracker(tracking_uri)
                    tracker.log_model(run_id, model, example)
                    costs.log_s = time.time() - t0
                    outbox.send(Logged())
        except (EOFError, BrokenPipeError):
            return
        except Exception as exc:
            outbox.send(Failed(f"{type(exc).__name__}: {exc}"))


class _ModelLoggingWarmup:
    """What a worker's first model log would wait for (~2.5 s, measured): MLflow's Keras
    flavour, its SQL store (~1.8 s of imports; the default store is SQLite) and its map of
    installed packages (~1.8 s of scanning site-packages, to check a model's requirements).
    Done in a thread off the trials' path: while a spare worker waits to be used, or in the
    first worker once its first epoch is traced (tracing is Python and would share the GIL
    with it; the steps after it are mostly TensorFlow's own threads). ``start()`` is
    idempotent; ``join()`` (start if need be) before logging a model.
    Measured on a first digits trial of 15 epochs (2 cores): its model log took 0.45 s
    instead of 2.5 s, its epochs after the first ~1.4 s longer beside the thread."""

    def __init__(self):
        import threading

        self._thread = threading.Thread(target=self._warm, name="cnntune-warmup", daemon=True)

    @staticmethod
    def _warm() -> None:
        try:
            import mlflow.keras  # noqa: F401
            import mlflow.models  # noqa: F401
            import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
            from mlflow.utils import requirements_utils

            requirements_utils._init_modules_to_packages_map()  # cached for the process
        except Exception:  # MLflow moved something: the first model log does it instead
            pass

    def start(self) -> None:
        if self._thread.ident is None:
            self._thread.start()

    def join(self) -> None:
        self.start()
        self._thread.join()


def limit_threads(threads: int | None) -> None:
    """Cap TensorFlow's thread pools (before it runs anything), so that several workers on
    one machine share its cores instead of each taking all of them."""
    if not threads:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    except RuntimeError:  # TensorFlow already ran something in this process: leave it
        pass


def with_steps(settings: TrialSettings, steps: int | None) -> TrialSettings:
    """The settings with a trial's own budget of checks (Hyperband), when it has one."""
    return settings if steps is None else replace(settings, steps=int(steps))


def rss_mb() -> float:
    """Resident memory of this process now (Linux), else its peak."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
