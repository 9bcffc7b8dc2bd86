"""`cnntune search --workers N`: N study processes on one machine sharing one Optuna study.

The coordinator (this module, in the calling process) validates everything, opens the study
and its MLflow parent run once, works out the study-wide total (the trials already there plus
``trials``), and starts N study processes on the same study (``study_worker``: ``search()``
with the same arguments, given as JSON) with a study-wide ``total_trials``, a seed offset each
and ``threads`` = cores / N, so they share the cores instead of fighting over them. The workers
report their events as JSON lines on their stdout; the coordinator forwards them to its own
progress display and returns one SearchResult.

Each worker runs what ``cnntune search`` runs: on several machines, start the same command
on each (``--storage postgresql://...``, ``--tracking-uri http://mlflow-server:5000``,
``--total-trials M``) and they share the study the same way, without a coordinator; or let
``--ray`` place the workers on a Ray cluster (``ray_workers.RayWorkers``, the same interface
as ``LocalWorkers`` here).
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..catalog import ENGINES
from ..errors import CnntuneError, ConfigError
from .engines import abilities


def search_workers(n: int, *, space, data, study, storage, tracking_uri, trials, timeout, seed,
                   engine, algorithm, pruner, epochs, total_trials, threads, heartbeat,
                   launcher, on_event=None, baselines: bool = False,
                   started: float | None = None, gpu: bool = False):
    """Run ``n`` study workers on one study; ``launcher`` starts them (``LocalWorkers`` here,
    ``ray_workers.RayWorkers`` on a cluster)."""
    from ..space import resolve_space_path
    from ..tracking.stores import absolute_store
    from .plan import AUTO, make_plan, warm_starts
    from .session import open_study, study_result

    emit = on_event or (lambda kind, payload: None)
    t0 = time.perf_counter()
    if storage.startswith("sqlite:"):
        raise ConfigError("--workers needs a storage safe for concurrent writers; SQLite is "
                          "not: use the default journal storage (journal:mlruns/optuna.journal) "
                          "or a PostgreSQL URL")
    started = time.time() if started is None else started
    plan = make_plan(space, data, study, trials, timeout, seed, engine, algorithm, pruner,
                     epochs, started=started, gpu=gpu)
    plan.warm = warm_starts(plan, storage, None, 1)  # enqueued once, for every worker
    if not abilities(plan.engine).shares_study:
        shared = " or ".join(e for e in ENGINES if abilities(e).shares_study)
        raise ConfigError(f"--workers needs --engine {shared}; a {plan.engine} study belongs "
                          "to one process")
    threads = threads or launcher.default_threads(n)
    tracker, eng, parent, payload = open_study(plan, storage, tracking_uri, heartbeat=heartbeat)
    existing = payload["existing_trials"]
    if total_trials is None and (trials is not None or timeout is None):
        total_trials = existing + (plan.n_trials or plan.space.search.trials)
    payload.update(workers=n, threads=threads, total_trials=total_trials,
                   trials=None if total_trials is None else max(0, total_trials - existing))
    emit("study_start", payload)

    # search()'s own keyword arguments, one dict per worker: nothing is spelled twice; paths
    # absolute, as a worker may start in another folder (a Ray node)
    given = None if data is None else Path(data)
    common = dict(space=AUTO if str(space) == AUTO else str(resolve_space_path(space).resolve()),
                  data=None if given is None else str(given.resolve() if given.exists()
                                                      else given),
                  study=plan.study, storage=absolute_store(storage),
                  tracking_uri=absolute_store(tracking_uri), engine=plan.engine,
                  algorithm=plan.algorithm, pruner=plan.pruner,
                  seed=seed if seed is not None else plan.space.training.seed,
                  epochs=plan.trial.epochs, threads=threads, total_trials=total_trials,
                  timeout=timeout, started=started, heartbeat=heartbeat,
                  workers=1)  # each is one worker, pinned by its environment
    ends: list[dict] = []  # each worker's study_end: its SearchResult
    try:
        launcher.start([dict(common, worker_index=i) for i in range(n)])
        for worker, line in launcher.lines():
            _forward(worker, line, emit, ends)
    except BaseException:
        launcher.stop()
        tracker.end_study(parent, "KILLED")
        raise
    failed = launcher.failed()
    new_trials = sum(int(e.get("new_trials") or 0) for e in ends)
    if baselines:
        from .session import log_baselines_once

        log_baselines_once(plan, tracker, parent, emit)
    tracker.end_study(parent, "FINISHED")
    if failed and new_trials == 0:
        i, code, last = failed[0]
        raise CnntuneError(f"worker {i} exited with code {code}: {last or 'no message'}")
    result = study_result(eng, plan.study, storage, tracker, parent, plan.space, new_trials,
                          time.perf_counter() - t0,
                          cut=sorted((c for e in ends for c in e.get("cut") or []),
                                     key=lambda c: c["number"]),
                          advice=next((e["advice"] for e in ends if e.get("advice")), None))
    result.workers = n
    result.failed_workers = [f"worker {i}: exit {code} ({launcher.where(i)})"
                             for i, code, _ in failed]
    return result


def _forward(worker: int, line: str, emit, ends: list[dict]) -> None:
    """Pass one of a worker's JSON-line events on; its study_end (its result) goes to
    ``ends``."""
    try:
        event = json.loads(line)
    except ValueError:
        return
    kind = event.pop("event", None)
    event.pop("time", None)
    if kind == "study_end":
        ends.append(event)
    elif kind in ("worker_start", "trial_start", "epoch", "trial_end"):
        event["worker"] = worker
        emit(kind, event)


class LocalWorkers:
    """The study workers as processes on this machine, each started with its own environment
    (its GPU), their events read from their stdout."""

    def __init__(self, envs: list[dict[str, str]] | None = None):
        self.envs = envs
        self.logs = Path(tempfile.mkdtemp(prefix="cnntune-workers-"))
        self.procs: list[subprocess.Popen] = []

    def default_threads(self, n: int) -> int:
        return max(1, (os.cpu_count() or 1) // n)  # they share the cores

    def start(self, kwargs: list[dict]) -> None:
        # the stores travel on stdin, not argv: a password in a URL stays out of `ps`
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        for i, kw in enumerate(kwargs):
            with open(self.logs / f"worker-{i}.err", "w") as err:
                p = subprocess.Popen([sys.executable, "-m", "cnntune.tuning.study_worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=err, text=True,
                                     env=dict(env, **(self.envs[i] if self.envs else {})))
            p.stdin.write(json.dumps(kw))
            p.stdin.close()
            self.procs.append(p)

    def lines(self):
        """(worker, line) from the workers' stdout until all have exited."""
        sel = selectors.DefaultSelector()
        for i, p in enumerate(self.procs):
            sel.register(p.stdout, selectors.EVENT_READ, i)
        open_pipes = len(self.procs)
        while open_pipes:
            for key, _ in sel.select(timeout=1.0):
                line = key.fileobj.readline()
                if not line:
                    sel.unregister(key.fileobj)
                    open_pipes -= 1
                    continue
                yield key.data, line
        for p in self.procs:
            p.wait()

    def failed(self) -> list[tuple[int, int, str]]:
        """(worker, exit code, its last line of stderr) for each worker that failed."""
        out = []
        for i, p in enumerate(self.procs):
            if p.returncode != 0:
                last = (self.logs / f"worker-{i}.err").read_text().strip().splitlines()
                out.append((i, p.returncode, last[-1] if last else ""))
        return out

    def where(self, i: int) -> str:
        return f"log {self.logs}/worker-{i}.err"

    def stop(self) -> None:
        """Ctrl-C reached the workers too (same process group): wait for them to end."""
        for p in self.procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
