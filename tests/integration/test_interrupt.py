"""Ctrl-C during a search loses nothing already written, and the study resumes."""

import json
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
    events = tmp_path / "events.jsonl"
    # Ctrl-C's default handling even where this test runs in the background (a shell's
    # background jobs start with SIGINT ignored, and a child inherits that)
    proc = subprocess.Popen([*cmd, "--jsonl", str(events)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def seen() -> list[dict]:  # whole lines only: the last may be being written
        return [json.loads(x) for x in events.read_text().split("\n")[:-1]] \
            if events.exists() else []

    # the signal lands mid-trial: trial 0 has ended and trial 1 has reported a check
    deadline = time.time() + 300
    while not any(e["event"] == "epoch" and e["number"] == 1 for e in seen()):
        assert proc.poll() is None and time.time() < deadline, "trial 1 never trained"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "resume" in err
    ended = [e["number"] for e in seen() if e["event"] == "trial_end"]
    assert ended == [0]  # trial 1 was running when the signal came, and never ended

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
    assert statuses["trial-001"] == "KILLED"  # the trial under the signal, closed as such
    tags = {r.info.run_name: r.data.tags.get("cnntune.state") for r in runs}
    assert tags["trial-001"] == "INTERRUPTED" and trials[1].state.name != "COMPLETE"
    assert "RUNNING" not in statuses.values()

    r = subprocess.run(cmd[:-4] + ["--trials", "1", "--epochs", "1"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "resuming" in r.stdout
    assert len(optuna.load_study(study_name="intr", storage=storage).get_trials()) == \
        len(trials) + 1
