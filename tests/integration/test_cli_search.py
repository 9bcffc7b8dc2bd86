"""The README's main command, small: `cnntune search` in a fresh folder."""

import subprocess
import sys

import pytest

from .pages import plotly_traces

pytestmark = pytest.mark.slow


def test_make_search_path_auto_space_warm_start_jsonl_quiet_and_seed(tmp_path):
    """`make search` is `cnntune search` with no options: the auto space on digits, its
    known-good configuration first, the default stores under ./mlruns. Here with `--jsonl -`
    (stdout only JSON lines, the human output on stderr), then again with `-q` (the summary
    alone) under the same `--seed`: the same configurations, the same scores."""
    import json

    def search(*args):
        r = subprocess.run([sys.executable, "-m", "cnntune", "search", "--trials", "2",
                            "--epochs", "1", "--seed", "3", *args], cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        return r

    r = search("--jsonl", "-")
    events = [json.loads(line) for line in r.stdout.splitlines()]  # every line is JSON
    kinds = [e["event"] for e in events]
    assert kinds[0] == "study_start" and kinds[-1] == "study_end" and kinds.count("trial_end") == 2
    start = events[0]
    assert start["settings"]["space"] == "auto" and start["settings"]["data"] == "digits"
    ends = [e for e in events if e["event"] == "trial_end"]
    assert ends[0]["origin"] and not ends[1]["origin"]  # the known-good start, then sampled
    err = r.stderr  # the human output, with where to look in MLflow
    assert f"study {start['study']} new" in err and "best trial" in err
    assert "the trials:  cnntune ui   then open" in err
    assert "#/experiments/1/runs?viewStateShareKey=cnntune-trials" in err
    assert f"report:      cnntune report {start['study']}" in err
    assert (tmp_path / "mlruns" / "mlflow.db").exists()
    assert (tmp_path / "mlruns" / "optuna.journal").exists()
    # TensorFlow start-up chatter, and the `tensorflow` wheel's on a machine without CUDA
    assert "oneDNN" not in err and "absl" not in err and "cuInit" not in err

    again = search("--study", "again", "-q", "--jsonl", str(tmp_path / "again.jsonl"))
    assert "trial_start" not in again.stdout and "epoch 1" not in again.stdout
    assert "best trial" in again.stdout  # quiet: the final summary only
    second = [json.loads(line) for line in (tmp_path / "again.jsonl").read_text().splitlines()]
    second = [e for e in second if e["event"] == "trial_end"]
    assert [e["params"] for e in second] == [e["params"] for e in ends]  # the same samples
    for a, b in zip(ends, second):  # and the same training, seeded
        assert b["value"] == pytest.approx(a["value"], abs=0.02), (a, b)


def test_cli_kerastuner_hyperband_beside_optuna(tmp_path, tiny_space, monkeypatch):
    """`--engine kerastuner --algorithm hyperband`: trials train for their Hyperband budget,
    the study folder sits under mlruns/, and MLflow holds its runs with the same param columns
    as an Optuna study's."""
    from mlflow import MlflowClient

    def run(*args):
        r = subprocess.run([sys.executable, "-m", "cnntune", "search", *args], cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        return r.stdout

    # checked 3 times a pass: Hyperband's budgets are in checks (1, 1, 1, then 3 of the 3 a
    # trial may train), the tags and epochs in passes
    checked = tmp_path / "checked.yaml"
    checked.write_text(tiny_space.read_text().replace("seed: 0}",
                                                      "seed: 0, checks_per_epoch: 3}"))
    out = run("--engine", "kerastuner", "--algorithm", "hyperband", "--trials", "4",
              "--epochs", "1", "--space", str(checked))
    assert "study tiny-digits-kerastuner-hyperband new" in out and "kerastuner hyperband" in out
    assert (tmp_path / "mlruns" / "kerastuner" / "tiny-digits-kerastuner-hyperband"
            / "oracle.json").exists()
    assert not (tmp_path / "oracle.json").exists()
    # an Optuna study beside it, in the stores the CLI defaults to (in-process: the CLI's
    # own path is the test above)
    import cnntune

    cnntune.search(tiny_space, trials=2, epochs=1, isolate=False,
                   storage=f"journal:{tmp_path}/mlruns/optuna.journal",
                   tracking_uri=f"sqlite:///{tmp_path}/mlruns/mlflow.db")

    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    kt = client.get_experiment_by_name("tiny-digits-kerastuner-hyperband")
    op = client.get_experiment_by_name("tiny-digits")
    kt_runs = client.search_runs([kt.experiment_id], "tags.`cnntune.role` = 'trial'")
    op_runs = client.search_runs([op.experiment_id], "tags.`cnntune.role` = 'trial'")
    assert len(kt_runs) == 4 and len(op_runs) == 2
    budgets = []
    for r in kt_runs:
        budget = float(r.data.tags["cnntune.max_epochs"])
        budgets.append(budget)
        assert 0.33 <= r.data.metrics["epochs"] <= budget + 1e-6 <= 1 + 1e-6  # tag: 6 digits
        steps = client.get_metric_history(r.info.run_id, "epoch/val_accuracy")
        assert len(steps) == round(3 * r.data.metrics["epochs"])  # a point a check
        assert r.data.tags["cnntune.state"] == "COMPLETE"
    assert sorted(round(3 * b) for b in budgets) == [1, 1, 1, 3], budgets

    def columns(runs):
        keys = set()
        for r in runs:
            keys |= {k for k in r.data.params if k != "momentum"}  # momentum: sgd only
        return keys, {k for r in runs for k in r.data.metrics}

    (kt_params, kt_metrics), (op_params, op_metrics) = columns(kt_runs), columns(op_runs)
    assert kt_params == op_params, kt_params ^ op_params
    assert kt_metrics == op_metrics, (kt_metrics - op_metrics, op_metrics - kt_metrics)

    # the rest runs the CLI in this process (TensorFlow is imported already): a KerasTuner
    # study keeps its algorithm, so resuming it with another one is refused
    from click.testing import CliRunner

    from cnntune.cli import cli

    monkeypatch.chdir(tmp_path)

    def command(*args, code=0):
        r = CliRunner().invoke(cli, list(args))
        assert r.exit_code == code, (r.output, r.exception)
        return r

    r = command("search", "--space", str(tiny_space), "--engine", "kerastuner", "--algorithm",
                "random", "--study", "tiny-digits-kerastuner-hyperband", "--trials", "1", code=2)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "hyperband" in r.stderr and "random" in r.stderr
    assert len(client.search_runs([kt.experiment_id], "tags.`cnntune.role` = 'trial'")) == 4
    # optuna-dashboard reads Optuna storages; a KerasTuner study has none, and is told so
    r = command("dashboard", "tiny-digits-kerastuner-hyperband", code=2)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "searched with kerastuner, which keeps no Optuna storage" in r.stderr

    # report and export read a KerasTuner study as they read an Optuna one
    command("report", "tiny-digits-kerastuner-hyperband", "--out", "kt.html", "--no-mlflow")
    # the page's optimisation history plots every KerasTuner trial's score
    scores = sorted(round(r.data.metrics["val_accuracy"], 6) for r in kt_runs)
    plotted = [sorted(round(v, 6) for v in t["y"]) for t in
               plotly_traces((tmp_path / "kt.html").read_text())
               if t.get("y") and all(isinstance(v, float) for v in t["y"])]
    assert scores in plotted, (scores, plotted)
    best = min(kt_runs, key=lambda r: (-r.data.metrics["val_accuracy"],
                                       int(r.data.tags["cnntune.trial"])))
    out = command("export", "tiny-digits-kerastuner-hyperband", "--format", "tflite", "--out",
                  "kt-export").stdout
    assert f"exported trial {best.data.tags['cnntune.trial']} of" in out and "verified" in out
    assert (tmp_path / "kt-export" / "model.tflite").exists()
