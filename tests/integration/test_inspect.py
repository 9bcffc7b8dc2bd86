"""Looking at a study: `studies`, `trials` (table/csv/json), `best`, `report` (HTML with
Optuna's plots, logged to MLflow), the JSON-lines log, and the MLflow UI itself opened in
headless Chromium against a store made by a real search."""

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest


pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
N = 10
SPACE = """
name: look
data: {source: digits, val_fraction: 0.15, test_fraction: 0.2}
training: {epochs: 2, patience: 2, objective: val_accuracy, seed: 0}
search: {engine: optuna, algorithm: random, pruner: none, trials: 10}
params:
  n_blocks: {type: int, low: 1, high: 2}
  filters: [8, 16]
  dense_units: 0
  batch_norm: {type: bool}
  optimizer: [adam, sgd]
  momentum: {type: float, low: 0.5, high: 0.9, when: {optimizer: sgd}}
  learning_rate: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}
  batch_size: 128
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("inspect")
    (root / "look.yaml").write_text(SPACE)
    jsonl = root / "events.jsonl"
    r = subprocess.run([sys.executable, "-m", "cnntune", "search", "--space", "look.yaml",
                        "--study", "look", "--jsonl", str(jsonl), "-q"], cwd=root,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    return {"root": root, "uri": f"sqlite:///{root}/mlruns/mlflow.db",
            "storage": f"sqlite:///{root}/mlruns/optuna.db", "jsonl": jsonl}


def cli(store, *args):
    return subprocess.run([sys.executable, "-m", "cnntune", *args], cwd=store["root"],
                          capture_output=True, text=True, timeout=600)


def test_jsonl_log_has_every_event(store):
    events = [json.loads(line) for line in store["jsonl"].read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "study_start" and kinds[-1] == "study_end"
    assert kinds.count("trial_start") == kinds.count("trial_end") == N
    assert kinds.count("epoch") >= N
    end = events[-1]
    assert end["study"] == "look" and end["new_trials"] == N and end["best"]["number"] >= 0


def test_studies_lists_counts_and_best(store):
    r = cli(store, "studies", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["study"] for row in rows] == ["look"]
    row = rows[0]
    assert row["engine"] == "optuna" and row["trials"] == N and row["complete"] == N
    r = cli(store, "studies")
    assert r.returncode == 0 and "look" in r.stdout and "best_value" in r.stdout


def test_trials_csv_round_trips_with_dtypes(store):
    r = cli(store, "trials", "look", "--format", "csv")
    assert r.returncode == 0, r.stderr
    (store["root"] / "t.csv").write_text(r.stdout)
    df = pd.read_csv(store["root"] / "t.csv")
    assert len(df) == N and list(df["number"]) == list(range(N))
    types = df.dtypes
    assert types["number"] == "int64" and types["n_blocks"] == "int64"
    assert types["filters"] == "int64" and types["epochs"] == "int64"
    assert types["learning_rate"] == "float64" and types["val_accuracy"] == "float64"
    assert types["momentum"] == "float64"  # empty where the optimizer was adam
    assert types["batch_norm"] == "bool"
    assert pd.api.types.is_string_dtype(types["state"]) and set(df["state"]) == {"COMPLETE"}
    assert df["momentum"].isna().tolist() == (df["optimizer"] == "adam").tolist()
    assert (df["trial_seconds"] > 0).all() and df["run_id"].str.len().eq(32).all()
    from cnntune.tracking.studies import StudyView
    from cnntune.reports.tables import trials_frame

    ours = trials_frame(StudyView("look", store["uri"]))
    pd.testing.assert_series_equal(df["val_accuracy"], ours["val_accuracy"].astype("float64"),
                                   check_names=False)


def test_trials_sort_state_and_bad_column(store):
    r = cli(store, "trials", "look", "--sort", "-val_accuracy", "--format", "json")
    values = [row["val_accuracy"] for row in json.loads(r.stdout)]
    assert values == sorted(values, reverse=True)
    r = cli(store, "trials", "look", "--state", "pruned", "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout) == []
    r = cli(store, "trials", "look", "--state", "complete", "--format", "json")
    assert [row["number"] for row in json.loads(r.stdout)] == list(range(N))
    r = cli(store, "trials", "look", "--sort", "nope")
    assert r.returncode == 2 and "--sort nope: no such column" in r.stderr
    r = cli(store, "trials", "missing-study")
    assert r.returncode == 2 and "study 'missing-study' not found" in r.stderr


def test_best_matches_the_best_row(store):
    r = cli(store, "best", "look", "--format", "json")
    info = json.loads(r.stdout)
    rows = json.loads(cli(store, "trials", "look", "--format", "json").stdout)
    top = max(rows, key=lambda row: (row["val_accuracy"], -row["number"]))
    assert info["trial"] == top["number"] and info["value"] == top["val_accuracy"]
    assert info["model_uri"] == f"runs:/{info['run_id']}/model"


def test_report_plots_every_trial_and_is_logged(store):
    from mlflow import MlflowClient

    from cnntune.reports.report import figures, optuna_study
    from cnntune.tracking.studies import StudyView

    out = store["root"] / "report.html"
    r = cli(store, "report", "look", "--out", str(out))
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    for name in ("history", "intermediate", "parallel", "slice", "importances"):
        assert f'id="fig-{name}"' in page
    assert "<script" in page and "<script src" not in page  # plotly.js inline: self-contained
    assert page.count("<tr") >= N + 1  # the trials table: a header and a row per trial
    figs = figures(optuna_study(StudyView("look", store["uri"])))
    history = figs["history"][1]
    points = max(len(tr.x) for tr in history.data)
    assert points == N  # every trial in the optimisation history
    assert len(figs["intermediate"][1].data) == N  # a learning curve per trial
    client = MlflowClient(store["uri"])
    parent = StudyView("look", store["uri"]).parent.info.run_id
    logged = {a.path for a in client.list_artifacts(parent, "report")}
    assert {"report/report.html", "report/history.html", "report/slice.html"} <= logged


def _chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; .ci/run installs Debian's chromium package")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return path


def _browse(chromium, url, tmp, *extra):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp}", "--virtual-time-budget=20000", "--window-size=1600,1100"]
    r = subprocess.run([chromium, *flags, *extra, url], capture_output=True, text=True,
                       timeout=180)
    return r.stdout


def _text(dom: str) -> str:
    import re

    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", dom).split())


def test_mlflow_ui_in_headless_chromium(store, tmp_path):
    from mlflow import MlflowClient

    from cnntune.cli.ui import free_port

    chromium = _chromium()
    port = free_port()
    ui = subprocess.Popen([sys.executable, "-m", "cnntune", "ui", "--port", str(port),
                           "--tracking-uri", store["uri"]], cwd=store["root"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = ui.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line, (line, ui.stderr.read() if ui.poll() else "")
        # the server listens on loopback only (read from the kernel, not from what cnntune
        # prints): every listening socket on the port is bound to 127.0.0.1
        assert _listening_addresses(port) == {"127.0.0.1"}
        base = f"http://127.0.0.1:{port}"
        client = MlflowClient(store["uri"])
        exp = client.get_experiment_by_name("look")
        trials = client.search_runs([exp.experiment_id], "tags.`cnntune.role` = 'trial'")
        assert len(trials) == N
        shots = ROOT / "test-artifacts"
        shots.mkdir(exist_ok=True)
        # the experiment's runs page: the study's run and all its runs
        runs_page = f"{base}/#/experiments/{exp.experiment_id}/runs"
        text = _text(_browse(chromium, runs_page, tmp_path / "p1", "--dump-dom"))
        assert "look" in text and "study-look" in text and f"{N + 1} matching runs" in text
        _browse(chromium, runs_page, tmp_path / "p2", f"--screenshot={shots / 'mlflow-runs.png'}")
        # the trials side by side: run names, every param and its values, the metrics
        ids = urllib.parse.quote(json.dumps([r.info.run_id for r in trials]))
        compare = (f"{base}/#/compare-runs?runs={ids}&experiments="
                   f"{urllib.parse.quote(json.dumps([exp.experiment_id]))}")
        text = _text(_browse(chromium, compare, tmp_path / "p3", "--dump-dom"))
        for r in trials:
            assert r.info.run_name in text
        for param in ("n_blocks", "filters", "learning_rate", "optimizer", "batch_norm"):
            assert param in text
        for metric in ("val_accuracy", "test_accuracy", "epoch/val_accuracy", "n_params"):
            assert metric in text
        first = trials[0]
        assert str(first.data.params["learning_rate"]) in text
        _browse(chromium, compare, tmp_path / "p4", f"--screenshot={shots / 'mlflow-compare.png'}")
        assert (shots / "mlflow-compare.png").stat().st_size > 10_000
    finally:
        ui.send_signal(signal.SIGINT)  # Ctrl-C: cnntune stops the server and exits
        try:
            ui.wait(timeout=30)
        except subprocess.TimeoutExpired:
            ui.kill()
            raise
    assert ui.returncode == 0, ui.stderr.read()
    import socket

    with socket.socket() as s:  # the server is gone with it
        assert s.connect_ex(("127.0.0.1", port)) != 0


def _listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on ``port`` (Linux /proc/net/tcp[6])."""
    import ipaddress

    out = set()
    for name, width in (("tcp", 8), ("tcp6", 32)):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for row in path.read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            addr, _, hex_port = local.partition(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(addr)
            if width == 8:
                out.add(str(ipaddress.IPv4Address(raw[::-1])))
            else:  # four little-endian 32-bit words
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                out.add(str(ipaddress.IPv6Address(words)))
    return out
