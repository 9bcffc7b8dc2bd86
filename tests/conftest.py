import os
import subprocess
import sys
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# decoded-image stores go to a folder of this test run, never to the user's cache
os.environ["CNNTUNE_CACHE"] = tempfile.mkdtemp(prefix="cnntune-test-cache-")


@pytest.fixture(autouse=True, scope="session")
def _mlflow_schema_once():
    """Each new SQLite tracking store a test makes in this process gets MLflow's schema as a
    copy of one made here once by MLflow itself, instead of running its ~40 migrations again
    (1.5-2 s a store, ~80 stores a run). Stores made in other processes (the CLI, workers)
    are initialised by MLflow as usual. What is copied is what MLflow's own initialisation
    wrote, so every store the tests read and write is MLflow's schema at its latest revision."""
    import shutil

    try:
        import mlflow.store.db.utils as db_utils
        import sqlalchemy
    except ImportError:
        yield
        return
    initialize = db_utils._initialize_tables
    made: dict[str, str] = {}

    def from_template(engine):
        path = engine.url.database
        if engine.url.get_backend_name() != "sqlite" or not path or path == ":memory:":
            return initialize(engine)
        if "template" not in made:
            template = os.path.join(tempfile.mkdtemp(prefix="cnntune-test-mlflow-"), "t.db")
            first = sqlalchemy.create_engine(f"sqlite:///{template}")
            initialize(first)
            first.dispose()
            made["template"] = template
        engine.dispose()  # no connection holds the empty file while it is replaced
        shutil.copyfile(made["template"], path)

    db_utils._initialize_tables = from_template
    yield
    db_utils._initialize_tables = initialize


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
