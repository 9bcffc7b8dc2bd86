import os
import subprocess
import sys
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# decoded-image stores go to a folder of this test run, never to the user's cache
os.environ["CNNTUNE_CACHE"] = tempfile.mkdtemp(prefix="cnntune-test-cache-")


@pytest.fixture
def write_space(tmp_path):
    """Write a space file from YAML text and return its path."""

    def _write(text: str, name: str = "space.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write


TINY_SPACE = """
name: tiny
data: {source: digits, val_fraction: 0.15, test_fraction: 0.2}
training: {epochs: 2, patience: 2, objective: val_accuracy, seed: 0}
search: {engine: optuna, sampler: random, pruner: none, trials: 3}
params:
  n_blocks: {type: int, low: 1, high: 2}
  filters: {type: categorical, choices: [8, 16]}
  dense_units: 32
  batch_norm: {type: bool}
  optimizer: {type: categorical, choices: [adam, sgd]}
  momentum: {type: float, low: 0.5, high: 0.9, when: {optimizer: sgd}}
  learning_rate: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}
  batch_size: 64
"""


@pytest.fixture
def tiny_space(write_space):
    return write_space(TINY_SPACE, "tiny.yaml")


@pytest.fixture
def cnntune_cli(tmp_path):
    """``cnntune ARGS`` as a new process in ``tmp_path`` (or ``cwd``): what a user's shell runs."""

    def _run(*args, cwd=None, timeout=300, **kwargs):
        return subprocess.run([sys.executable, "-m", "cnntune", *map(str, args)],
                              cwd=cwd or tmp_path, capture_output=True, text=True,
                              timeout=timeout, **kwargs)

    return _run
