"""Many workers on one study: journal storage with --workers, PostgreSQL with separately
started processes, and crash safety (a worker killed with SIGKILL mid-trial: its trial is
failed, retried once by another worker, its MLflow run ends FAILED, the study completes)."""

import json
import os
import signal
import subprocess
import sys
import uuid

import pytest

pytestmark = pytest.mark.slow

PG = "postgresql://postgres@127.0.0.1:5432/test"
SPACE = """
name: many
data: {source: digits, val_fraction: 0.15, test_fraction: 0.2}
training: {epochs: 3, patience: 3, objective: val_accuracy, seed: 0}
search: {engine: optuna, algorithm: random, pruner: none, trials: 4}
params:
  n_blocks: {type: int, low: 1, high: 2}
  filters: [8, 16]
  dense_units: 0
  learning_rate: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}
  batch_size: 128
"""


def pg_or_skip():
    import optuna

    try:
        optuna.study.get_all_study_names(PG)
    except Exception as exc:
        if os.environ.get("CI"):
            raise  # under CI the server must be there: .ci/run starts it
        pytest.skip(f"PostgreSQL not reachable: {exc}")


def worker(tmp_path, storage, study, *extra):
    """A `cnntune search` process on ``study`` with its events as JSON lines on stdout."""
    return subprocess.Popen(
        [sys.executable, "-m", "cnntune", "search", "--space", "many.yaml", "--study", study,
         "--storage", storage, "--threads", "1", "--jsonl", "-", "-q", *extra],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def events(proc):
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def load(storage, study):

    from cnntune.tuning.engines.optuna import OptunaEngine
    from cnntune.space import parse_space

    eng = OptunaEngine(parse_space(SPACE), study, storage)
    eng.open()
    return eng._study.get_trials(deepcopy=False)


def check_complete(trials, total):
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))  # no duplicate trial numbers
    assert all(t.state.name in ("COMPLETE", "PRUNED", "FAIL") for t in trials)  # none lost
    retried = {t.user_attrs.get("retry_of") for t in trials}
    counted = [t for t in trials if not (t.state.name == "FAIL" and t.number in retried)]
    assert total <= len(counted) <= total + 2  # workers may each finish one more
    return counted


def test_two_processes_share_a_postgresql_study(tmp_path):
    pg_or_skip()
    (tmp_path / "many.yaml").write_text(SPACE)
    study = f"pg-many-{uuid.uuid4().hex[:8]}"
    import optuna

    try:
        procs = [worker(tmp_path, PG, study, "--total-trials", "6", "--epochs", "1",
                        "--worker-index", str(i)) for i in range(2)]
        ran = [sum(e["event"] == "trial_end" for e in events(p)) for p in procs]
        assert sum(ran) >= 6 and all(n >= 1 for n in ran)  # every process took trials
        trials = load(PG, study)
        counted = check_complete(trials, 6)
        assert len(counted) == sum(ran)
        owners = {t.user_attrs["owner"] for t in trials}
        assert len(owners) == 2
        # every trial has exactly one finished MLflow run
        from mlflow import MlflowClient

        client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
        exp = client.get_experiment_by_name(study)
        runs = client.search_runs([exp.experiment_id], "tags.`cnntune.role` = 'trial'")
        assert sorted(int(r.data.tags["cnntune.trial"]) for r in runs) == \
            sorted(t.number for t in trials)
        assert all(r.info.status == "FINISHED" for r in runs)
    finally:
        optuna.delete_study(study_name=study, storage=PG)


@pytest.mark.parametrize("storage", ["journal", "postgresql"])
def test_sigkill_mid_trial_is_failed_retried_and_the_study_completes(tmp_path, storage):
    if storage == "postgresql":
        pg_or_skip()
        url = PG
    else:
        url = f"journal:{tmp_path}/mlruns/optuna.journal"
    (tmp_path / "many.yaml").write_text(SPACE)
    study = f"kill-{uuid.uuid4().hex[:8]}"
    victim = worker(tmp_path, url, study, "--total-trials", "3", "--epochs", "6",
                    "--heartbeat", "2")
    killed_trial = None
    for line in victim.stdout:  # wait until the victim is inside a trial, then kill -9 it
        e = json.loads(line)
        if e["event"] == "epoch" and e["epoch"] == 1:
            killed_trial = e["number"]
            victim.send_signal(signal.SIGKILL)
            break
    victim.wait()
    assert killed_trial is not None and victim.returncode == -signal.SIGKILL
    survivor = worker(tmp_path, url, study, "--total-trials", "3", "--epochs", "1",
                      "--worker-index", "1")
    events(survivor)
    try:
        trials = load(url, study)
        dead = trials[killed_trial]
        assert dead.state.name == "FAIL"  # by its dead owner's PID, or by missed heartbeats
        retries = [t for t in trials if t.user_attrs.get("retry_of") == killed_trial]
        assert len(retries) == 1 and retries[0].state.name == "COMPLETE"
        assert retries[0].params == dead.params
        check_complete(trials, 3)
        from mlflow import MlflowClient

        client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
        exp = client.get_experiment_by_name(study)
        runs = client.search_runs([exp.experiment_id], f"tags.`cnntune.trial` = '{killed_trial}'")
        assert len(runs) == 1 and runs[0].info.status == "FAILED"  # not RUNNING forever
        assert "died" in runs[0].data.tags["cnntune.error"]
        again = client.search_runs([exp.experiment_id], "tags.`cnntune.retry_of` = "
                                   f"'{killed_trial}'")
        assert len(again) == 1 and again[0].info.status == "FINISHED"
    finally:
        if storage == "postgresql":
            import optuna

            optuna.delete_study(study_name=study, storage=url)


def test_workers_one_per_gpu_on_journal_storage(tmp_path):
    """On a (simulated) machine with two GPUs, --workers defaults to one per GPU, each pinned
    to its own; every trial's run says where it trained, as the trial worker process that
    trained it read its own environment (Ready.device), not as the study meant it."""
    from mlflow import MlflowClient

    (tmp_path / "many.yaml").write_text(SPACE)
    r = subprocess.run([sys.executable, "-m", "cnntune", "search", "--space", "many.yaml",
                        "--trials", "4", "--epochs", "1", "--jsonl", "ev.jsonl"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, CUDA_VISIBLE_DEVICES="0,1"))
    assert r.returncode == 0, r.stderr
    assert "by 2 workers" in r.stdout
    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    exp = client.get_experiment_by_name("many-digits")
    runs = client.search_runs([exp.experiment_id], "tags.`cnntune.role` = 'trial'")
    owner = {r.data.tags["cnntune.trial"]: r.data.tags["cnntune.device"] for r in runs}
    assert all(r.data.params["cnntune.device"] == r.data.tags["cnntune.device"] for r in runs)
    assert set(owner.values()) == {"gpu:0", "gpu:1"}
    trials = load(f"journal:{tmp_path}/mlruns/optuna.journal", "many-digits")
    check_complete(trials, 4)
    assert len({t.user_attrs["owner"] for t in trials}) == 2
    evs = [json.loads(line) for line in (tmp_path / "ev.jsonl").read_text().splitlines()]
    assert {e.get("worker") for e in evs if e["event"] == "trial_end"} == {0, 1}


def test_workers_refuse_sqlite_and_kerastuner(tmp_path):
    (tmp_path / "many.yaml").write_text(SPACE)
    for extra, msg in ((["--storage", "sqlite:///x.db"], "SQLite is not"),
                       (["--engine", "kerastuner"], "--workers needs --engine optuna")):
        r = subprocess.run([sys.executable, "-m", "cnntune", "search", "--space", "many.yaml",
                            "--workers", "2", *extra], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 2 and msg in r.stderr and r.stderr.count("\n") == 1


def test_missed_heartbeats_fail_a_trial_of_another_machine():
    """A trial owned by a process on another host cannot be checked by PID: Optuna's
    heartbeats find it (here 1 s, so 3 s of silence), and it is failed and retried."""
    import time

    import optuna

    from cnntune.tuning.engines import Outcome
    from cnntune.tuning.engines.optuna import OptunaEngine
    from cnntune.space import parse_space

    pg_or_skip()
    study = f"hb-{uuid.uuid4().hex[:8]}"
    eng = OptunaEngine(parse_space(SPACE), study, PG, algorithm="random", pruner="none",
                       heartbeat=1)
    dead = []
    eng.on_dead = lambda record, reason: dead.append((record.number, reason))
    eng.open()
    try:
        lost = eng._study.ask()
        lost.set_user_attr("owner", "some-other-machine:4242:1")
        eng._study._storage.record_heartbeat(lost._trial_id)  # then silence
        time.sleep(3.5)
        eng.run(lambda s: Outcome("COMPLETE", 0.5), n_trials=2, budget=None)
        trials = eng._study.get_trials(deepcopy=False)
        assert trials[0].state.name == "FAIL"
        assert dead == [(0, "no heartbeat for 3 s: its worker died")]
        assert [t.user_attrs.get("retry_of") for t in trials[1:]].count(0) == 1
    finally:
        optuna.delete_study(study_name=study, storage=PG)


def test_a_storage_password_is_never_shown_or_stored(tmp_path):
    """PostgreSQL here trusts local connections, so a URL with a made-up password works: it
    must appear in no output, no event log, no MLflow record and no worker command line."""
    import optuna

    pg_or_skip()
    secret = "s3cret-Pw-" + uuid.uuid4().hex[:6]
    url = f"postgresql://postgres:{secret}@127.0.0.1:5432/test"
    study = f"pw-{uuid.uuid4().hex[:8]}"
    (tmp_path / "many.yaml").write_text(SPACE)
    proc = subprocess.Popen([sys.executable, "-m", "cnntune", "search", "--space", "many.yaml",
                             "--study", study, "--workers", "2", "--trials", "2", "--epochs",
                             "1", "--jsonl", "ev.jsonl"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, CNNTUNE_STORAGE=url))
    cmdlines = set()
    while proc.poll() is None:  # the command lines of every process under this one
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    cmdlines.add(open(f"/proc/{pid}/cmdline", "rb").read().decode(
                        errors="replace"))
                except OSError:
                    pass
        try:
            proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
    out, err = proc.communicate()
    try:
        assert proc.returncode == 0, err
        assert any("cnntune.tuning.study_worker" in c for c in cmdlines)  # workers seen
        assert not any(secret in c for c in cmdlines)
        assert secret not in out + err
        from mlflow import MlflowClient

        client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
        exp = client.get_experiment_by_name(study)
        parent = client.search_runs([exp.experiment_id], "tags.`cnntune.role` = 'study'")[0]
        assert parent.data.params["storage"] == "postgresql://postgres:***@127.0.0.1:5432/test"
        assert secret not in (tmp_path / "ev.jsonl").read_text()
        for f in (tmp_path / "mlruns").rglob("*"):
            if f.is_file():
                assert secret.encode() not in f.read_bytes(), f
        r = subprocess.run([sys.executable, "-m", "cnntune", "search", "--space", "many.yaml",
                            "--study", study, "--storage", url.replace("5432", "1")],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and secret not in r.stderr and "***" in r.stderr
    finally:
        optuna.delete_study(study_name=study, storage=url)
