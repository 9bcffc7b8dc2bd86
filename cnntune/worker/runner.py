"""Where trials run: in this process, or in a replaceable worker process (the default).

``WorkerRunner`` runs trials in a child process (``python -m cnntune.worker``) that imports
TensorFlow once, serves many trials, and is replaced after ``trials_per_worker`` trials or once
it has grown by ``max_growth_mb``; its successor is started ~10 s before it is needed (during
the last trial at the latest), and the study's first worker while the study opens its stores,
so their TensorFlow import is off the trials' path. Between trials the worker releases the
last model while the study tracks the trial and samples the next (``release``). The study
process never imports TensorFlow. A worker that dies (OOM kill, segfault) fails only its
trial; the next trial gets a fresh worker. What TensorFlow itself keeps of each model is
released between trials (``trial.release_earlier_trials``: ~0.4 MB a trial remains, from
~10 MB); replacing workers bounds whatever a family or a TensorFlow version still leaks.

This module is the study's side; the worker's is ``child`` (``python -m cnntune.worker``), and
what travels between them is ``protocol``.

Both runners have the same interface:
    run(number, params, report, on_epoch, steps) -> TrialResult
                               (steps: Hyperband's budget; the model stays with the runner)
    log_model(tracker, run_id, example)                    the last trial's model -> MLflow
    release()                  the last trial's model is not needed any more: free it now
    close()
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from multiprocessing.connection import Connection

from ..catalog import State, Stop
from ..data import Dataset
from ..errors import WorkerDied, WorkerOverran
from ..formats import checkpoint
from .device import device_of
from .trial import TrialResult, TrialSettings, run_trial
from .child import limit_threads, with_steps
from .protocol import (Done, Epoch, Exit, Failed, Init, LogModel, Progress, Ready, Release,
                       Report, Run)





class InProcessRunner:
    """Trials in this process: simplest to debug; memory grows with every trial."""

    def __init__(self, dataset: Dataset, settings: TrialSettings):
        self.dataset = dataset
        self.settings = settings
        self._model = None
        limit_threads(settings.threads)

    def ready(self) -> str:
        """Where the next trial trains: this process, as its environment says."""
        return device_of(os.environ)

    def run(self, number, params, report=None, on_epoch=None, steps=None) -> TrialResult:
        self._model = None
        result = run_trial(params, self.dataset, with_steps(self.settings, steps),
                           number=number, report=report, on_epoch=on_epoch)
        self._model = result.take_model()
        return result

    def log_model(self, tracker, run_id: str, example) -> str:
        tracker.log_model(run_id, self._model, example)
        return MODEL

    def release(self) -> None:
        self._model = None  # the session itself is released when the next trial starts

    def close(self) -> None:
        self._model = None


class WorkerProcess:
    """A started ``python -m cnntune.worker``: it imports TensorFlow and Keras at once, then
    waits for its data and settings (what logging a model needs is imported in a thread,
    ``_ModelLoggingWarmup``). Starting one ahead of need (the study's first worker while the
    study opens its stores, a replacement while the retiring worker runs its last trial)
    takes its ~6 s start off the trials' path."""

    def __init__(self, env: dict[str, str] | None = None):
        # ``env``: set on top of this process's environment (the GPU it may use, devices.py)
        self.env = env or {}
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cnntune.worker", str(to_child_r), str(to_parent_w)],
            pass_fds=(to_child_r, to_parent_w), stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env} if self.env else None)
        os.close(to_child_r)
        os.close(to_parent_w)
        self.outbox = Connection(to_child_w, readable=False)  # us -> worker
        self.inbox = Connection(to_parent_r, writable=False)  # worker -> us

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, wait: float = 10.0) -> None:
        """Ask it to exit (killed when it does not within ``wait`` s), close the pipes."""
        proc = self.proc
        try:
            if proc.poll() is None:
                self.outbox.send(Exit())
                proc.wait(timeout=wait)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            for conn in (self.inbox, self.outbox):
                try:
                    conn.close()
                except OSError:
                    pass

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.close()


SPARE_LEAD_S = 10.0  # a successor worker starts this long before it is needed
# a worker is replaced after this many trials: memory stays bounded over long studies
TRIALS_PER_WORKER = 100
# what log_model logged: the model (MLflow's Keras flavour), or a killed trial's kept weights
MODEL, CHECKPOINT = "model", "checkpoint"


class WorkerRunner:
    """Trials in a child process, replaced every ``trials_per_worker`` trials (or once grown
    by ``max_growth_mb``); ``spare`` is a WorkerProcess started earlier, to serve first."""

    def __init__(self, dataset: Dataset, settings: TrialSettings, tracking_uri: str, *,
                 trials_per_worker: int = TRIALS_PER_WORKER, max_growth_mb: float = 1024.0,
                 spare: WorkerProcess | None = None, env: dict[str, str] | None = None):
        self.dataset = dataset
        self.env = env  # every worker's, on top of this process's environment
        self.settings = settings
        self.tracking_uri = tracking_uri
        self.trials_per_worker = trials_per_worker
        self.max_growth_mb = max_growth_mb
        self._worker: WorkerProcess | None = None
        self._spare = spare
        self._served = 0
        self._baseline_mb: float | None = None
        self._rss_mb = 0.0
        self._trial_s: float | None = None  # a moving average of trial wall time
        self.workers_started = 0
        self.device = "cpu"  # where the current worker trains, as it said when it started
        # with a budget, each trial keeps its best weights in a folder under this one, which
        # outlives a worker killed at the deadline (formats.checkpoint)
        self._kept_root: str | None = None
        self._folder: str | None = None  # the last trial's
        self._cut = False  # the last trial's worker was killed: its model is the folder's

    # -- lifecycle ------------------------------------------------------------------------

    def _start(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None and not spare.alive():
            spare.close()
            spare = None
        self._worker = spare or WorkerProcess(self.env)
        self._send(Init(self.dataset, self.settings, self.tracking_uri))
        msg = self._recv()
        if not isinstance(msg, Ready):
            raise WorkerDied(f"trial worker failed to start: {getattr(msg, 'error', msg)}")
        self.device = msg.device
        self._served = 0
        self._baseline_mb = None
        self.workers_started += 1

    def _stop(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def close(self) -> None:
        self._stop()
        if self._spare is not None:
            self._spare.kill()
            self._spare = None
        if self._kept_root is not None:
            import shutil

            shutil.rmtree(self._kept_root, ignore_errors=True)
            self._kept_root = None

    def _checkpoint_folder(self, number: int) -> str | None:
        """A fresh folder for trial ``number``'s best weights (the last trial's is dropped);
        None without a budget, where no worker is killed."""
        import shutil
        import tempfile

        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        if self.settings.budget is None:
            return None
        if self._kept_root is None:
            self._kept_root = tempfile.mkdtemp(prefix="cnntune-kept-")
        self._folder = os.path.join(self._kept_root, f"trial-{number}")
        return self._folder

    def _kill(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker = None

    def _successor_due(self) -> bool:
        """Start the successor so that its import (~5 s) is over by the time it serves: during
        the last trial, or earlier when the trials left are shorter than ``SPARE_LEAD_S``."""
        left = self.trials_per_worker - self._served
        return left == 1 or (self._trial_s is not None and left * self._trial_s < SPARE_LEAD_S)

    def ready(self) -> str:
        """Start (or replace) the worker that will run the next trial, and say where it
        trains, as that worker read its own environment (``worker.device``)."""
        if self._needs_recycle():
            self._stop()
            self._start()
        return self.device

    def _needs_recycle(self) -> bool:
        if self._worker is None or not self._worker.alive():
            return True
        if self._served >= self.trials_per_worker:
            return True
        return self._baseline_mb is not None and \
            self._rss_mb - self._baseline_mb > self.max_growth_mb

    # -- messaging --------------------------------------------------------------------------

    def _send(self, msg) -> None:
        try:
            self._worker.outbox.send(msg)
        except (OSError, EOFError, ValueError):
            raise WorkerDied(self._death_reason()) from None

    def _recv(self, until: float | None = None):
        if until is not None and not self._worker.inbox.poll(max(0.0, until - time.time())):
            raise WorkerOverran()
        try:
            return self._worker.inbox.recv()
        except (OSError, EOFError):
            raise WorkerDied(self._death_reason()) from None

    def _death_reason(self) -> str:
        code = None
        if self._worker is not None:
            proc = self._worker.proc
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pipe broken but the process hangs on
                proc.kill()
                code = proc.wait()
        hint = " (killed: out of memory?)" if code in (-9, 137) else ""
        return f"trial worker died with exit code {code}{hint}"

    # -- trials -----------------------------------------------------------------------------

    def run(self, number, params, report=None, on_epoch=None, steps=None) -> TrialResult:
        checks: list[tuple[int, dict]] = []  # the checks that ended: (check, logs)
        progress: dict | None = None  # how training went, last told
        started = time.time()
        folder = self._checkpoint_folder(number)
        self._cut = False
        budget = self.settings.budget
        try:
            if self._needs_recycle():
                self._stop()
                self._start()
            if self._spare is None and self._successor_due():
                self._spare = WorkerProcess(self.env)  # its successor imports while it trains
            until = None if budget is None else budget.kill_at
            self._send(Run(number, params, steps, folder))
            pending = None  # an epoch's logs, tracked once the worker is not waiting on us

            def flush():
                nonlocal pending
                if pending is not None and on_epoch is not None:
                    on_epoch(*pending)
                pending = None

            while True:
                match self._recv(until):
                    case Epoch(epoch, logs):
                        flush()
                        pending = (epoch, logs)
                        checks.append(pending)
                    case Report(epoch, value):  # the worker waits for the answer: answer first
                        self._send(bool(report(epoch, value)) if report is not None else False)
                        flush()
                    case Progress(info):
                        progress = info
                    case Done(result, rss):
                        flush()
                        self._rss_mb = rss
                        if self._baseline_mb is None:
                            self._baseline_mb = self._rss_mb
                        self._served += 1
                        seconds = time.time() - started
                        self._trial_s = seconds if self._trial_s is None else \
                            0.8 * self._trial_s + 0.2 * seconds
                        return result
                    case Failed(error):
                        flush()
                        self._served += 1
                        return TrialResult(state=State.FAIL, error=error)
        except WorkerDied as exc:
            self._kill()
            return TrialResult(state=State.FAIL, error=str(exc), retry=True)
        except WorkerOverran:
            self._kill()
            if pending is not None and on_epoch is not None:
                on_epoch(*pending)
            self._cut = True
            return cut_result(checkpoint.read(folder), checks, self.settings,
                              self.dataset.task, progress, started, budget)
        except BaseException:
            self._kill()  # interrupted mid-trial: the worker's state is unknown
            raise

    def log_model(self, tracker, run_id: str, example) -> str:
        """Log the last trial's model to ``run_id``: through its worker, or, when the worker
        was killed at the deadline (before or while logging), the best weights it kept.
        Returns what was logged (MODEL or CHECKPOINT)."""
        if not self._cut:
            self._send(LogModel(run_id, example))
            budget = self.settings.budget
            try:
                msg = self._recv(None if budget is None else budget.kill_at)
            except WorkerOverran:
                self._kill()
                self._cut = True
            else:
                if isinstance(msg, Failed):
                    raise RuntimeError(f"logging the model of run {run_id} failed: "
                                       f"{msg.error}")
                return MODEL
        if checkpoint.read(self._folder) is None:
            raise RuntimeError(f"the model of run {run_id} was not logged before the "
                               "deadline and no weights were kept")
        tracker.log_checkpoint(run_id, self._folder)
        return CHECKPOINT

    def release(self) -> None:
        """The worker drops the last model and releases the session now, unanswered: it does
        so while the study tracks the trial and samples the next one, not on the next trial's
        path. A worker that is gone is found out (and replaced) by the next run."""
        if self._worker is not None:
            try:
                self._send(Release())
            except WorkerDied:
                pass










def cut_result(kept, checks: list[tuple[int, dict]], settings: TrialSettings, task,
               progress: dict | None, started: float, budget) -> TrialResult:
    """The result of a trial whose worker was killed at the deadline: COMPLETE with its best
    check's weights (``kept``, a ``checkpoint.Kept``) and what that check measured, on the
    check's part of the validation split; its test figures are scored later from those
    weights. FAIL when no check ended, saying what --timeout would hold one."""
    figures = {*task.figures, *(f"val_{f}" for f in task.figures)}
    value = None if kept is None else kept.logs.get(settings.objective)
    if value is None or not math.isfinite(value):
        error = too_short(progress, started, budget, settings.checks) if not checks else (
            "cut off at the --timeout deadline with no weights kept (k-fold trials keep "
            "none); give more time" if settings.folds else
            f"cut off at the --timeout deadline; its {settings.objective} was "
            f"{'not measured' if value is None else value}")
        return TrialResult(state=State.FAIL, stopped=Stop.DEADLINE, error=error)
    metrics = {k: v for k, v in kept.logs.items() if k in figures}
    metrics.update(epochs=len(checks) / settings.checks, best_epoch=kept.check / settings.checks)
    if kept.extra.get("n_params"):
        metrics["n_params"] = float(kept.extra["n_params"])
    history: dict[str, list[float]] = {}
    for _, logs in checks:
        for k, v in logs.items():
            history.setdefault(k, []).append(v)
    unscored = ("val",) * (settings.checks > 1) + ("test",) + \
        ("latency",) * (settings.latency is not None)
    return TrialResult(state=State.COMPLETE, value=float(value), metrics=metrics,
                       history=history, stopped=Stop.DEADLINE, unscored=unscored,
                       kept=str(kept.folder))


def too_short(progress: dict | None, started: float, budget, checks: int) -> str:
    """Why a trial killed at the deadline kept nothing, and the --timeout that would hold its
    first check (measured on this trial: its start-up, its training steps)."""
    waited = (started - budget.started) if budget is not None else 0.0
    if not progress or not progress.get("step_s") or not progress.get("check_batches"):
        took = (budget.kill_at - started) if budget is not None else 0.0
        need = waited + 3 * max(took, 1.0)
        return (f"cut off at the --timeout deadline before it trained a step: building and "
                f"tracing its model took more than the {took:.0f} s it had; give --timeout >= "
                f"{round_up(need)} or a smaller space")
    check_s = progress["first_batch_s"] + progress["first_step_s"] + \
        (progress["check_batches"] - 1) * progress["step_s"]
    # a check's validation: predicting costs about half a training step an example
    need = waited + 1.5 * check_s + 10
    what = "a check" if checks > 1 else "a pass"
    return (f"cut off at the --timeout deadline before its first check ended: it trained "
            f"{progress['batches']:,} of the {progress['check_batches']:,} batches of {what} in "
            f"{progress['seconds']:.0f} s (~{check_s:.0f} s {what} here, this configuration); "
            f"give --timeout >= {round_up(need)}, or a smaller space or less data")


def round_up(seconds: float) -> int:
    """A --timeout to advise: up to the next 10 s (the next minute from 5 minutes)."""
    step = 10 if seconds < 300 else 60
    return int(math.ceil(seconds / step) * step)


