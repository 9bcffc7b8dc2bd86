"""Looking at a study: `studies`, `trials` (table/csv/json), `best`, `report` (HTML with
Optuna's plots, logged to MLflow), the JSON-lines log, and the MLflow UI itself opened in
headless Chromium against a store made by a real search."""

import json
import os
import re
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest


pytestmark = pytest.mark.slow

N = 6
SPACE = """
name: look
data: {source: digits, val_fraction: 0.15, test_fraction: 0.2}
training: {epochs: 2, patience: 2, objective: val_accuracy, seed: 0}
search: {engine: optuna, algorithm: random, pruner: none, trials: 6}
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
    """``cnntune ARGS`` run in the study's folder, in this process (a new process costs 3-4 s
    of imports a command; the long-running servers below are real processes)."""
    from types import SimpleNamespace

    from click.testing import CliRunner

    from cnntune.cli import cli as main

    here = os.getcwd()
    os.chdir(store["root"])
    try:
        r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    finally:
        os.chdir(here)
    return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)


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


def test_report_is_one_small_page_about_the_study_and_its_winner(store, request):

    import numpy as np
    from mlflow import MlflowClient

    from cnntune.reports.figures import search_figures
    from cnntune.reports.report import optuna_study
    from cnntune.tracking.studies import StudyView

    out = store["root"] / "new" / "report.html"  # a folder that does not exist yet is made
    r = cli(store, "report", "look", "--out", str(out))
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    for name in ("history", "intermediate", "parallel", "slice", "importances", "timeline"):
        assert f'id="fig-{name}"' in page
    assert 'id="winner-curves"' in page
    assert "<script src" not in page and page.count('const PLOTLY_GZ = "') == 1
    assert out.stat().st_size < 1_500_000  # plotly.js' basic bundle, gzipped, once
    view = StudyView("look", store["uri"])
    best = view.best()
    assert f"The winner: trial {best.number}" in page
    # the confusion matrix counts every test example once, and its diagonal is the accuracy
    cm = re.search(r'<table class="cm">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr><th>\d+</th>(.*?)</tr>", cm)
    counts = np.array([[int(c) for c in re.findall(r'<td style="[^"]*">(\d+)</td>', row)]
                       for row in rows])
    n_test = len(view.load_data().test.y)
    assert counts.shape == (10, 10) and counts.sum() == n_test
    assert abs(np.trace(counts) / n_test - best.metrics["test_accuracy"]) < 0.01
    assert page.count("data:image/") >= 2  # the misclassified grid and the Grad-CAM grid
    assert "block1_conv1" in page  # the architecture table names the layers
    assert page.count("<tr") >= N + 1  # the trials table: a header and a row per trial
    figs = search_figures(optuna_study(view), view)
    history = figs["history"][1]
    assert max(len(tr.x) for tr in history.data) == N  # every trial in the history
    assert len(figs["intermediate"][1].data) == N  # a learning curve per trial
    assert len(figs["parallel"][1].data) == N  # a line per completed trial
    bars = [tr for tr in figs["timeline"][1].data if tr.name == "complete: fit"]
    assert len(bars[0].y) == N
    client = MlflowClient(store["uri"])
    logged = {a.path for a in client.list_artifacts(view.parent.info.run_id, "report")}
    assert "report/report.html" in logged
    # in a browser, every figure is drawn: plotly marks each div it drew in
    # (js-plotly-plot) and fills it; one that could not be drawn says so instead
    figures = page.count('<div class="fig" id=')
    assert figures >= 7

    def drawn_in(dom):
        return len(re.findall(r'<div class="fig js-plotly-plot" id="[^"]+"><div class="plot-cont',
                              dom))

    browser = request.getfixturevalue("browser")  # the checks above run without one too
    # (the page's own script holds the words "could not draw": read the text, not the DOM)
    dom = browser.dom(out.as_uri(),
                      lambda d: drawn_in(d) == figures or "could not draw" in _text(d))
    drawn = drawn_in(dom)
    assert drawn == figures, dom[:2000]
    assert "could not draw" not in _text(dom)


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium for the test's pages (skipped where there is none, outside CI)."""
    from .browser import Browser

    b = Browser(tmp_path / "chromium")
    yield b
    b.close()


def _text(dom: str) -> str:
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", dom).split())


def test_mlflow_ui_in_headless_chromium(store, tmp_path, browser):
    from mlflow import MlflowClient

    from cnntune.cli.ui import free_port

    port = free_port()
    ui = subprocess.Popen([sys.executable, "-m", "cnntune", "ui", "--port", str(port),
                           "--tracking-uri", store["uri"]], cwd=store["root"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = ui.stdout.readline()
        assert f"http://127.0.0.1:{port}/#/experiments?workflowType=machine_learning" in line, \
            (line, ui.stderr.read() if ui.poll() else "")
        # the server listens on loopback only (read from the kernel, not from what cnntune
        # prints): every listening socket on the port is bound to 127.0.0.1
        assert _listening_addresses(port) == {"127.0.0.1"}
        study_line = ui.stdout.readline()  # then a link per study, to its trials table
        assert study_line.strip().startswith("look: "), study_line
        link = study_line.split(": ", 1)[1].strip()
        base = f"http://127.0.0.1:{port}"
        client = MlflowClient(store["uri"])
        exp = client.get_experiment_by_name("look")
        trials = client.search_runs([exp.experiment_id], "tags.`cnntune.role` = 'trial'")
        assert len(trials) == N
        # the printed link lands on the trials table: every trial as a row (not collapsed
        # under the study run), the objective and test accuracy as columns, best first
        dom = browser.dom(link, lambda d: len(re.findall(r">(trial-\d{3})<", d)) == N and all(
            w in _text(d) for w in (f"{N} matching runs", "val_accuracy", "test_accuracy",
                                    "epochs")))
        text = _text(dom)
        # not the GenAI mode (its Overview of traces, or its runs page headed "Training runs")
        assert "Token Usage" not in text and "Training runs" not in text
        assert f"{N} matching runs" in text and "study-look" not in text
        for column in ("val_accuracy", "test_accuracy", "epochs"):  # the grid renders what fits
            assert column in text
        names = re.findall(r">(trial-\d{3})<", dom)
        value = {r.info.run_name: r.data.metrics["val_accuracy"] for r in trials}
        assert sorted(names) == sorted(value)
        assert [value[n] for n in names] == sorted(value.values(), reverse=True)  # best first
        # the study run's description (Markdown, rendered) names the best trial and the
        # commands that go on from it
        parent = client.search_runs([exp.experiment_id], "tags.`cnntune.role` = 'study'")[0]
        best = parent.data.tags["best.trial"]
        text = _text(browser.dom(f"{base}/#/experiments/{exp.experiment_id}/runs/"
                                 f"{parent.info.run_id}?workflowType=machine_learning",
                                 lambda d: f"Best: trial {best}" in _text(d)))
        assert f"Best: trial {best}" in text
        assert "cnntune export look --format onnx" in text
        # the report logged to the study run opens in the UI's artifact view (a sandboxed
        # iframe), every figure drawn: read from inside that frame through the DevTools
        # protocol, since a headless screenshot does not paint such frames
        from cnntune.reports.report import build_report

        build_report("look", tracking_uri=store["uri"], out=tmp_path / "logged.html",
                     winner=False)  # the search's figures; the winner's take a model load
        figures = (tmp_path / "logged.html").read_text().count('<div class="fig" id=')
        def report(frames):
            return [f for f in frames if f["h1"] == ["cnntune report: look"]
                    and f["drawn"] == figures]

        state = browser.frames(f"{base}/#/experiments/{exp.experiment_id}/runs/"
                               f"{parent.info.run_id}/artifacts/report/report.html"
                               "?workflowType=machine_learning", report)
        assert report(state) and not report(state)[0]["failed"], state
        # the trials side by side: run names, every param and its values, the metrics
        ids = urllib.parse.quote(json.dumps([r.info.run_id for r in trials]))
        compare = (f"{base}/#/compare-runs?runs={ids}&experiments="
                   f"{urllib.parse.quote(json.dumps([exp.experiment_id]))}")
        text = _text(browser.dom(compare, lambda d: all(
            w in _text(d) for w in [r.info.run_name for r in trials]
            + ["n_blocks", "batch_norm", "test_accuracy", "epoch/val_accuracy", "n_params"])))
        for r in trials:
            assert r.info.run_name in text
        for param in ("n_blocks", "filters", "learning_rate", "optimizer", "batch_norm"):
            assert param in text
        for metric in ("val_accuracy", "test_accuracy", "epoch/val_accuracy", "n_params"):
            assert metric in text
        first = trials[0]
        assert str(first.data.params["learning_rate"]) in text
    finally:
        browser.close()  # its open connections would hold the server's graceful stop
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


def test_dashboard_shows_the_trials_with_their_mlflow_links(store, tmp_path, browser):
    from cnntune.cli.ui import free_port

    port = free_port()
    board = subprocess.Popen([sys.executable, "-m", "cnntune", "dashboard", "look", "--port",
                              str(port)], cwd=store["root"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = board.stdout.readline()
        url = line.split(": ", 1)[1].split()[0]
        assert url.startswith(f"http://127.0.0.1:{port}/dashboard/studies/"), line
        assert _listening_addresses(port) == {"127.0.0.1"}
        text = _text(browser.dom(url + "/trials", lambda d: all(
            w in _text(d) for w in (f"{N} Trials", f"Trial {N - 1}", "mlflow_run http"))))
        assert f"{N} Trials" in text and "look" in text
        for n in range(N):
            assert f"Trial {n}" in text
        # the selected trial's user attributes carry its MLflow run's link
        assert "mlflow_run http://127.0.0.1:5000/#/experiments/" in text
        # a second dashboard on the same port: one line, exit 2, the port named
        r = cli(store, "dashboard", "look", "--port", str(port))
        assert r.returncode == 2 and f"port {port} on 127.0.0.1 is in use" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    finally:
        browser.close()
        board.send_signal(signal.SIGINT)
        board.wait(timeout=30)
    assert board.returncode == 0, board.stderr.read()
    r = cli(store, "dashboard", "nope")
    assert r.returncode == 2 and "study 'nope' not found" in r.stderr
    r = cli(store, "dashboard", "look", "--storage", f"journal:{tmp_path}/none.journal")
    assert r.returncode == 2 and "does not exist" in r.stderr
    assert not (tmp_path / "none.journal").exists()


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
