"""Ctrl-C during a search loses nothing already written, and the study resumes."""

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow


def test_sigint_mid_trial_keeps_finished_trials_and_resumes(tmp_path, tiny_space):
    import optuna
    from mlflow import MlflowClient

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "cnntune", "search", "--space", str(tiny_space), "--study",
           "intr", "--trials", "50", "--epochs", "40"]
    # Ctrl-C's default handling even where this test runs in the background (a shell's
    # background jobs start with SIGINT ignored, and a child inherits that)
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    for line in proc.stdout:  # wait until the first trial has finished
        if line.startswith("trial") or time.time() > deadline:
            break
    time.sleep(2.0)  # now inside the second trial
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "resume" in err

    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    # the default storage: Optuna's journal file
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "mlruns" / "optuna.journal")))
    trials = optuna.load_study(study_name="intr", storage=storage).get_trials()
    assert trials[0].state.name == "COMPLETE"
    assert all(t.state.name != "RUNNING" for t in trials)
    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    exp = client.get_experiment_by_name("intr")
    runs = client.search_runs([exp.experiment_id])
    statuses = {r.info.run_name: r.info.status for r in runs}
    assert statuses["study-intr"] == "KILLED"
    assert statuses["trial-000"] == "FINISHED"
    assert "RUNNING" not in statuses.values()

    r = subprocess.run(cmd[:-4] + ["--trials", "1", "--epochs", "1"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "resuming" in r.stdout
    assert len(optuna.load_study(study_name="intr", storage=storage).get_trials()) == \
        len(trials) + 1
