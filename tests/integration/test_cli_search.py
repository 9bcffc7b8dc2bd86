"""The README's main command, small: `cnntune search` in a fresh folder."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_cli_search_runs_and_says_where_to_look(tmp_path, tiny_space):
    r = subprocess.run([sys.executable, "-m", "cnntune", "search", "--space", str(tiny_space),
                        "--trials", "2", "--epochs", "1"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "study tiny-digits new" in out
    assert out.count("COMPLETE") >= 2 or "PRUNED" in out
    assert "best trial" in out and "test_accuracy" in out
    assert "mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db" in out
    assert (tmp_path / "mlruns" / "mlflow.db").exists()
    assert (tmp_path / "mlruns" / "optuna.db").exists()
    assert "oneDNN" not in r.stderr and "absl" not in r.stderr  # TensorFlow start-up chatter
