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
``--total-trials M``) and they share the study the same way, without a coordinator.
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

from ..errors import CnntuneError, ConfigError


def search_workers(n: int, *, space, data, study, storage, tracking_uri, trials, timeout, seed,
                   engine, algorithm, pruner, epochs, total_trials, threads, heartbeat,
                   on_event=None, baselines: bool = False, started: float | None = None,
                   envs: list[dict[str, str]] | None = None, gpu: bool = False):
    from ..space import resolve_space_path
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
    if plan.engine != "optuna":
        raise ConfigError(f"--workers needs --engine optuna; a {plan.engine} study belongs to "
                          "one process")
    cores = os.cpu_count() or 1
    threads = threads or max(1, cores // n)
    tracker, eng, parent, payload = open_study(plan, storage, tracking_uri, heartbeat=heartbeat)
    existing = payload["existing_trials"]
    if total_trials is None and (trials is not None or timeout is None):
        total_trials = existing + (plan.n_trials or plan.space.search.trials)
    payload.update(workers=n, threads=threads, total_trials=total_trials,
                   trials=None if total_trials is None else max(0, total_trials - existing))
    emit("study_start", payload)

    # search()'s own keyword arguments, one dict per worker: nothing is spelled twice
    common = dict(space=AUTO if str(space) == AUTO else str(resolve_space_path(space).resolve()),
                  data=None if data is None else str(data), study=plan.study,
                  storage=storage, tracking_uri=tracking_uri, engine="optuna",
                  algorithm=plan.algorithm, pruner=plan.pruner,
                  seed=seed if seed is not None else plan.space.training.seed,
                  epochs=plan.trial.epochs, threads=threads, total_trials=total_trials,
                  timeout=timeout, started=started, heartbeat=heartbeat,
                  workers=1)  # each is one worker, pinned by its environment (envs)
    # the stores travel on stdin, not argv: a password in a URL stays out of `ps`
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    logs = Path(tempfile.mkdtemp(prefix="cnntune-workers-"))
    procs = []
    for i in range(n):
        err = open(logs / f"worker-{i}.err", "w")
        p = subprocess.Popen([sys.executable, "-m", "cnntune.tuning.study_worker"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                             text=True, env=dict(env, **(envs[i] if envs else {})))
        p.stdin.write(json.dumps(dict(common, worker_index=i)))
        p.stdin.close()
        procs.append((p, err))
    new_trials = 0
    try:
        new_trials = _pump(procs, emit)
    except BaseException:
        for p, _ in procs:  # Ctrl-C reached them too (same process group); wait for them
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        tracker.end_study(parent, "KILLED")
        raise
    finally:
        for _, err in procs:
            err.close()
    failed = [(i, p.returncode) for i, (p, _) in enumerate(procs) if p.returncode != 0]
    if baselines:
        from .session import log_baselines_once

        log_baselines_once(plan, tracker, parent, emit)
    tracker.end_study(parent, "FINISHED")
    if failed and new_trials == 0:
        i, code = failed[0]
        last = (logs / f"worker-{i}.err").read_text().strip().splitlines()
        raise CnntuneError(f"worker {i} exited with code {code}: "
                           f"{last[-1] if last else 'no message'}")
    result = study_result(eng, plan.study, storage, tracker, parent, plan.space, new_trials,
                          time.perf_counter() - t0)
    result.workers = n
    result.failed_workers = [f"worker {i}: exit {code} (log {logs}/worker-{i}.err)"
                             for i, code in failed]
    return result


def _pump(procs, emit) -> int:
    """Forward the workers' JSON-line events until all have exited; return their new trials."""
    sel = selectors.DefaultSelector()
    for i, (p, _) in enumerate(procs):
        sel.register(p.stdout, selectors.EVENT_READ, i)
    open_pipes = len(procs)
    new_trials = 0
    while open_pipes:
        for key, _ in sel.select(timeout=1.0):
            line = key.fileobj.readline()
            if not line:
                sel.unregister(key.fileobj)
                open_pipes -= 1
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.pop("event", None)
            event.pop("time", None)
            if kind == "study_end":
                new_trials += int(event.get("new_trials") or 0)
            elif kind in ("trial_start", "epoch", "trial_end"):
                event["worker"] = key.data
                emit(kind, event)
    for p, _ in procs:
        p.wait()
    return new_trials
