"""`cnntune search --ray`: a study spread over a real local Ray cluster of two nodes (a head
and a second node started with `ray start --address`, with different declared resources),
sharing the study through PostgreSQL. The second node is killed (SIGKILL, every process of
it) in the middle of a trial: Ray restarts its worker on the head, the lost trial is failed
and retried once, and the study completes with every trial in PostgreSQL and MLflow."""

import json
import os
import subprocess
import sys
import uuid

import pytest

from .test_workers import PG, SPACE, check_complete, load, pg_or_skip

pytestmark = pytest.mark.slow

if not os.environ.get("CI"):  # CI installs the ray extra: there it must be importable
    pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    """A head (2 CPUs, resource `head`) and a second node (1 CPU, resource `second`, label
    node=second)."""
    pg_or_skip()
    from .ray_cluster import LocalCluster

    with LocalCluster([{"cpus": 2, "resources": {"head": 1}},
                       {"cpus": 1, "resources": {"second": 1},
                        "labels": {"node": "second"}}]) as c:
        yield c


def test_a_study_spreads_over_two_nodes_and_survives_losing_one(cluster, tmp_path):
    (tmp_path / "many.yaml").write_text(SPACE)
    study = f"ray-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cnntune", "search", "--space", "many.yaml", "--study", study,
         "--ray", cluster.address, "--workers", "2", "--total-trials", "4",
         "--epochs", "6", "--heartbeat", "2", "--jsonl", "-", "-q"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, CNNTUNE_STORAGE=PG))
    starts, killed_trial, evs = [], None, []
    for line in proc.stdout:
        e = json.loads(line)
        evs.append(e)
        if e["event"] == "worker_start":
            starts.append(e)
        on_second = {s["worker"] for s in starts if s["labels"].get("node") == "second"}
        if killed_trial is None and e["event"] == "epoch" and e["epoch"] == 1 \
                and e["worker"] in on_second:
            killed_trial = e["number"]
            cluster.kill(1)
    err = proc.stderr.read()
    proc.wait(timeout=600)
    try:
        assert proc.returncode == 0, err
        assert killed_trial is not None, "no trial ran on the second node"
        # one worker per node at first; the lost one restarted by Ray on the head
        first = {s["worker"]: s["labels"].get("node") for s in starts[:2]}
        assert set(first.values()) == {None, "second"}
        lost = next(w for w, n in first.items() if n == "second")
        again = [s for s in starts[2:] if s["worker"] == lost]
        assert again and again[0]["labels"].get("node") is None

        trials = load(PG, study)
        dead = trials[killed_trial]
        assert dead.state.name == "FAIL"
        retries = [t for t in trials if t.user_attrs.get("retry_of") == killed_trial]
        assert len(retries) == 1 and retries[0].state.name == "COMPLETE"
        assert retries[0].params == dead.params
        check_complete(trials, 4)

        from mlflow import MlflowClient

        client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
        exp = client.get_experiment_by_name(study)
        runs = client.search_runs([exp.experiment_id], "tags.`cnntune.role` = 'trial'")
        by_trial = {int(r.data.tags["cnntune.trial"]): r for r in runs}
        assert sorted(by_trial) == sorted(t.number for t in trials)  # every trial has a run
        assert by_trial[killed_trial].info.status == "FAILED"
        assert all(r.info.status == "FINISHED" for n, r in by_trial.items() if n != killed_trial)
        nodes = {r.data.tags["cnntune.node"] for r in runs}
        assert len(nodes) == 2  # trials ran on both nodes
        parent = client.search_runs([exp.experiment_id], "tags.`cnntune.role` = 'study'")
        assert parent[0].info.status == "FINISHED"
    finally:
        import optuna

        optuna.delete_study(study_name=study, storage=PG)
