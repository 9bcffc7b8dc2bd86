"""`cnntune search --workers N`: N study processes on one machine sharing one Optuna study.

The coordinator (this module, in the calling process) validates everything, opens the study
and its MLflow parent run once, works out the study-wide total (the trials already there plus
``trials``), and starts N study processes on the same study (``study_worker``: the same
``SearchOptions``, given as JSON) with a study-wide ``total_trials``, a seed offset each
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
from ..tracking.stores import Store
from .engines import abilities
from .options import SearchOptions


def search_workers(n: int, opts: SearchOptions, *, launcher, on_event=None,
                   gpu: bool = False):
    """Run ``n`` study workers on one study; ``launcher`` starts them (``LocalWorkers`` here,
    ``ray_workers.RayWorkers`` on a cluster)."""
    from .plan import make_plan, warm_starts
    from .session import open_study, study_result

    emit = on_event or (lambda kind, payload: None)
    t0 = time.perf_counter()
    store = Store.of(opts.storage)
    if not store.concurrent:
        raise ConfigError(f"--workers needs a storage safe for concurrent writers; "
                          f"{store.label} is not: use the default journal "
                          "storage (journal:mlruns/optuna.journal) or a PostgreSQL URL")
    plan = make_plan(opts, gpu=gpu)
    plan.warm = warm_starts(plan, opts.storage, None, 1)  # enqueued once, for every worker
    if not abilities(plan.engine).shares_study:
        shared = " or ".join(e for e in ENGINES if abilities(e).shares_study)
        raise ConfigError(f"--workers needs --engine {shared}; a {plan.engine} study belongs "
                          "to one process")
    threads = opts.threads or launcher.default_threads(n)
    tracker, eng, parent, payload = open_study(plan, opts.storage, opts.tracking_uri,
                                               heartbeat=opts.heartbeat)
    existing = payload["existing_trials"]
    total_trials = opts.total_trials
    if total_trials is None and (opts.trials is not None or opts.timeout is None):
        total_trials = existing + (plan.n_trials or plan.space.search.trials)
    payload.update(workers=n, threads=threads, total_trials=total_trials,
                   trials=None if total_trials is None else max(0, total_trials - existing))
    emit("study_start", payload)

    # the coordinator's options, as the plan resolved them, one copy per worker (as JSON)
    common = opts.replace(study=plan.study, engine=plan.engine, algorithm=plan.algorithm,
                          sampler=None, pruner=plan.pruner, trials=None,
                          seed=opts.seed if opts.seed is not None else plan.space.training.seed,
                          epochs=plan.trial.epochs, threads=threads, total_trials=total_trials)
    ends: list[dict] = []  # each worker's study_end: its SearchResult
    try:
        launcher.start([common.for_worker(i).to_json() for i in range(n)])
        for worker, line in launcher.lines():
            _forward(worker, line, emit, ends)
    except BaseException:
        launcher.stop()
        tracker.end_study(parent, "KILLED")
        raise
    failed = launcher.failed()
    new_trials = sum(int(e.get("new_trials") or 0) for e in ends)
    if opts.baselines:
        from .session import log_baselines_once

        log_baselines_once(plan, tracker, parent, emit)
    tracker.end_study(parent, "FINISHED")
    if failed and new_trials == 0:
        i, code, last = failed[0]
        raise CnntuneError(f"worker {i} exited with code {code}: {last or 'no message'}")
    result = study_result(eng, plan.study, opts.storage, tracker, parent, plan.space, new_trials,
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

    def start(self, options: list[str]) -> None:
        """One worker per ``SearchOptions`` JSON document; the stores travel on stdin, not
        argv: a password in a URL stays out of `ps`."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        for i, doc in enumerate(options):
            with open(self.logs / f"worker-{i}.err", "w") as err:
                p = subprocess.Popen([sys.executable, "-m", "cnntune.tuning.study_worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=err, text=True,
                                     env=dict(env, **(self.envs[i] if self.envs else {})))
            p.stdin.write(doc)
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
