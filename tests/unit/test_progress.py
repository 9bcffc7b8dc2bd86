"""The terminal view of a search: the live panel and the closing summary, fed the events a
search emits, in an 80-column terminal and in a CI log (not a TTY)."""

import io
import re
import time

from rich.console import Console

from cnntune.cli.progress import Progress
from cnntune.tuning.session import SearchResult, TrialSummary

ANSI = re.compile(r"\x1b\[")


def _start(timeout_left: float = 300.0) -> dict:
    return {"study": "look", "resumed": False, "existing_trials": 0, "trials": 10,
            "warm_start": {}, "ends_at": time.time() + timeout_left,
            "settings": {"direction": "maximize", "objective": "val_accuracy",
                         "data": "digits", "n_train": 1000, "n_val": 200, "n_test": 300,
                         "engine": "optuna", "algorithm": "tpe", "pruner": "median",
                         "epochs": 5}}


def _end(number: int, state: str, value, best=False) -> dict:
    return {"number": number, "state": state, "value": value, "best": best,
            "metrics": {"test_accuracy": value or 0.0, "epochs": 2.0}, "error": None,
            "stopped": None, "origin": None, "params": {}, "seconds": 3.0}


def test_live_panel_shows_rate_time_left_best_and_pruned_failed_in_80_columns():
    out = io.StringIO()
    progress = Progress(Console(file=out, width=80, force_terminal=True))
    progress.t0 -= 120  # two minutes in
    progress("study_start", _start(timeout_left=185))
    progress("trial_end", _end(0, "COMPLETE", 0.91, best=True))
    progress("trial_end", _end(1, "PRUNED", None))
    progress("trial_end", _end(2, "FAIL", None))
    progress("trial_end", _end(3, "COMPLETE", 0.95, best=True))
    progress("trial_start", {"number": 4, "params": {}})
    panel = Console(file=io.StringIO(), width=80, record=True)
    panel.print(progress._render())
    text = panel.export_text()
    assert "trials 4 of 10" in text and "elapsed 2m00s" in text
    assert re.search(r"left 3m0[45]s", text), text
    assert "best 0.9500 (trial 3, test 0.9500)" in text
    assert "2.0 trials/min" in text and "1 pruned" in text and "1 fail" in text
    assert "running trial 4" in text
    assert max(len(line) for line in text.splitlines()) <= 80, text


def test_ci_log_is_one_plain_line_per_trial_and_a_summary_with_where_to_look():
    out = io.StringIO()
    console = Console(file=out, width=80)  # a pipe: not a terminal
    assert not console.is_terminal
    with Progress(console) as progress:
        progress("study_start", _start())
        progress("trial_end", _end(0, "COMPLETE", 0.91, best=True))
        progress("trial_end", _end(1, "PRUNED", None))
    best = TrialSummary(number=0, state="COMPLETE", value=0.91, params={"filters": 16},
                        metrics={"test_accuracy": 0.9, "n_params": 1234.0}, run_id="abc",
                        model_logged=True)
    progress.summary(SearchResult(study="look", storage="journal:x",
                                  tracking_uri="sqlite:///mlruns/mlflow.db", experiment_id="7",
                                  parent_run_id="p", objective="val_accuracy",
                                  direction="maximize", best=best,
                                  counts={"COMPLETE": 1, "PRUNED": 1}, new_trials=2))
    log = out.getvalue()
    assert not ANSI.search(log)  # no control codes in a CI log
    lines = log.splitlines()
    assert sum(line.startswith("trial ") for line in lines) == 2
    assert any("trial   1 (2/10)  PRUNED" in line for line in lines)
    assert ("http://127.0.0.1:5000/#/experiments/7/runs?viewStateShareKey=cnntune-trials"
            "&workflowType=machine_learning") in log
    assert "report:      cnntune report look --out look-report.html" in log
    assert "export:      cnntune export look --format onnx --out export/look" in log


def test_a_study_checked_several_times_a_pass_shows_epochs_as_passes():
    """checks_per_epoch 3: the start line says so, the running trial's check 7 is epoch
    2.33, and a trial's epochs are shown as the passes they were (2.33, not 2)."""
    out = io.StringIO()
    start = _start()
    start["settings"]["checks_per_epoch"] = 3
    with Progress(Console(file=out, width=160)) as progress:
        progress("study_start", start)
        end = _end(0, "COMPLETE", 0.91, best=True)
        end["metrics"]["epochs"] = 7 / 3
        progress("trial_end", end)
        progress("epoch", {"number": 1, "epoch": 7, "logs": {"val_accuracy": 0.5}})
        panel = Console(file=io.StringIO(), width=100, record=True)
        panel.print(progress._render())
    log = out.getvalue()
    assert "up to 5 epochs per trial, checked 3 times an epoch" in log
    assert "2.33 ep" in log
    assert "running trial 1: epoch 2.33, val_accuracy 0.5000" in panel.export_text()
