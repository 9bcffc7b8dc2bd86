"""Trial isolation: worker processes are replaced, and a dead worker fails only its trial."""

import os
import signal

import pytest

from cnntune.data import load_dataset
from cnntune.worker.runner import WorkerProcess, WorkerRunner
from cnntune.catalog import State
from cnntune.worker.trial import TrialSettings

pytestmark = pytest.mark.slow

PARAMS = dict(n_blocks=1, filters=8, dense_units=0, batch_size=64, learning_rate=1e-2)


@pytest.fixture(scope="module")
def data():
    return load_dataset("digits", None, val_fraction=0.15, test_fraction=0.2, seed=0)


def test_worker_serves_trials_and_is_replaced(data, tmp_path):
    runner = WorkerRunner(data, TrialSettings(epochs=2, patience=2, objective="val_accuracy",
                                              seed=0), f"sqlite:///{tmp_path}/m.db",
                          trials_per_worker=2)
    epochs, reports, pids = [], [], []
    try:
        for n in range(3):
            res = runner.run(n, PARAMS, report=lambda e, v: reports.append((e, v)) or False,
                             on_epoch=lambda e, logs: epochs.append(e))
            assert res.state == State.COMPLETE and res.model is None
            assert 0 <= res.metrics["test_accuracy"] <= 1
            pids.append(runner._worker.proc.pid)
            if n == 1:  # the successor was started during the first worker's last trial
                spare = runner._spare.proc
                assert spare.poll() is None
        assert runner.workers_started == 2  # 2 trials in the first worker, 1 in the second
        assert pids[0] == pids[1] != pids[2] == spare.pid
        assert epochs == [1, 2] * 3 and [e for e, _ in reports] == [1, 2] * 3
    finally:
        runner.close()
    assert runner._worker is None and runner._spare is None


def test_a_worker_started_ahead_serves_first(data, tmp_path):
    ahead = WorkerProcess()
    runner = WorkerRunner(data, TrialSettings(epochs=1, patience=1, objective="val_accuracy",
                                              seed=0), f"sqlite:///{tmp_path}/m.db",
                          spare=ahead)
    try:
        assert runner.run(0, PARAMS).state == State.COMPLETE
        assert runner._worker is ahead and runner.workers_started == 1
    finally:
        runner.close()
    assert ahead.proc.poll() is not None
    unused = WorkerProcess()  # a runner closed before it ran anything ends its spare too
    WorkerRunner(data, TrialSettings(epochs=1, patience=1, objective="val_accuracy", seed=0),
                 f"sqlite:///{tmp_path}/m.db", spare=unused).close()
    assert unused.proc.poll() is not None


def test_pruning_answer_crosses_the_process_boundary(data, tmp_path):
    runner = WorkerRunner(data, TrialSettings(epochs=5, patience=5, objective="val_accuracy",
                                              seed=0), f"sqlite:///{tmp_path}/m.db")
    try:
        res = runner.run(0, PARAMS, report=lambda e, v: e == 2)
        assert res.state == "PRUNED" and res.metrics["epochs"] == 2
    finally:
        runner.close()


def test_release_keeps_the_conversation_and_a_killed_worker_fails_only_its_trial(data, tmp_path):
    # release() is unanswered: a reply would be read as the next trial's first message
    runner = WorkerRunner(data, TrialSettings(epochs=2, patience=2, objective="val_accuracy",
                                              seed=0), f"sqlite:///{tmp_path}/m.db")

    def kill_worker(epoch, logs):
        os.kill(runner._worker.proc.pid, signal.SIGKILL)

    try:
        assert runner.run(0, PARAMS).state == State.COMPLETE
        pid = runner._worker.proc.pid
        runner.release()
        runner.release()  # twice is harmless
        res = runner.run(1, PARAMS, on_epoch=lambda e, logs: None)
        assert res.state == State.COMPLETE and runner._worker.proc.pid == pid
        assert res.metrics["epochs"] == 2 and 0 <= res.metrics["test_accuracy"] <= 1
        dead = runner.run(2, PARAMS, on_epoch=kill_worker)  # killed after its first epoch
        assert dead.state == State.FAIL and "exit code -9" in dead.error
        runner.release()  # a dead worker is found out by the next run, not here
        alive = runner.run(3, PARAMS)
        assert alive.state == State.COMPLETE and runner.workers_started == 2
    finally:
        runner.close()


def test_successor_starts_early_enough_to_import(data, tmp_path, monkeypatch):
    # short trials: the successor starts while the trials left take less than SPARE_LEAD_S
    # (its TensorFlow import takes ~5 s): here from the second trial, once the first one's
    # time is known (at the latest, during the last trial: test_worker_serves_trials_...)
    monkeypatch.setattr("cnntune.worker.runner.SPARE_LEAD_S", 1e6)
    runner = WorkerRunner(data, TrialSettings(epochs=1, patience=1, objective="val_accuracy",
                                              seed=0), f"sqlite:///{tmp_path}/m.db",
                          trials_per_worker=3)
    try:
        spares = []
        for n in range(3):
            runner.run(n, PARAMS)
            spares.append(runner._spare is not None)
        assert spares == [False, True, True]
    finally:
        runner.close()


def test_model_logging_warmup_leaves_nothing_for_the_first_log():
    # a fresh process, so nothing an earlier test imported counts; if MLflow moves what the
    # warm-up touches, its first model log in each worker pays ~2.5 s again: found out here
    import subprocess
    import sys

    code = ("import sys\n"
            "from cnntune.worker.child import _ModelLoggingWarmup\n"
            "w = _ModelLoggingWarmup(); w.start(); w.start(); w.join()\n"
            "from mlflow.utils import requirements_utils as r\n"
            "assert r._MODULES_TO_PACKAGES and 'mlflow' in r._MODULES_TO_PACKAGES, 'no map'\n"
            "for m in ('mlflow.keras', 'mlflow.models', 'mlflow.store.tracking.sqlalchemy_store'):"
            "\n    assert m in sys.modules, m\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
