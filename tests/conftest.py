import contextlib
import fcntl
import os
import subprocess
import sys
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# decoded-image stores go to a folder of this test run, never to the user's cache
os.environ["CNNTUNE_CACHE"] = tempfile.mkdtemp(prefix="cnntune-test-cache-")


def pytest_configure(config):
    # the folder of the locks that keep an `alone` test from sharing the machine: made once by
    # the main process, inherited by xdist's workers (started after this hook)
    os.environ.setdefault("CNNTUNE_TEST_LOCKS", tempfile.mkdtemp(prefix="cnntune-test-locks-"))


@contextlib.contextmanager
def _machine(alone: bool):
    """Held around a test's setup, call and teardown: shared by every test, whole by a test
    marked `alone` (one whose assertions hold only at the machine's own speed, such as a
    trial that must train within a wall-clock budget), which waits for the other xdist worker's
    test to end and holds it back meanwhile. The turnstile lets a waiting `alone` test in
    before the other worker's next test (Linux's flock favours neither)."""
    folder = os.environ["CNNTUNE_TEST_LOCKS"]
    with open(os.path.join(folder, "turnstile"), "w") as gate, \
            open(os.path.join(folder, "machine"), "w") as machine:
        fcntl.flock(gate, fcntl.LOCK_EX)
        fcntl.flock(machine, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        if not alone:
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(machine, fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    with _machine(item.get_closest_marker("alone") is not None):
        yield


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
