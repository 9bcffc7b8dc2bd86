"""The command line: help, bad input -> one line and exit 2, nothing written."""

import os
import subprocess
import sys

import numpy as np
import pytest


def test_help_lists_commands_without_loading_the_heavy_libraries(tmp_path, cnntune_cli):
    # what makes the CLI answer at once: no TensorFlow, Keras, Optuna or MLflow behind --help
    code = ("import sys; from cnntune.cli import cli\n"
            "for argv in (['--help'], ['search', '--help'], ['export', '--help']):\n"
            "    try:\n        cli(argv)\n    except SystemExit:\n        pass\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'optuna', 'mlflow') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert "HEAVY []" in r.stdout, (r.stdout[-500:], r.stderr)
    assert "search" in r.stdout and "export" in r.stdout
    r = cnntune_cli("search", "--help")
    for opt in ("--space", "--data", "--study", "--storage", "--tracking-uri", "--trials",
                "--timeout", "--seed", "--engine", "--algorithm", "--sampler", "--pruner"):
        assert opt in r.stdout


def _one_line_error(r, *fragments):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.fixture
def cli_here(tmp_path, monkeypatch):
    """``cnntune ARGS`` run in this process (click's runner) in ``tmp_path``: the same
    command, exit code and stderr as a new process, without a Python start per case (the
    process path is tested by test_ray_bad_inputs and the search tests)."""
    from types import SimpleNamespace

    from click.testing import CliRunner

    from cnntune.cli.main import cli

    monkeypatch.chdir(tmp_path)

    def _run(*args, env=None):
        r = CliRunner().invoke(cli, [str(a) for a in args], env=env)
        return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)

    return _run


def test_bad_inputs_exit_2_and_write_nothing(tmp_path, cli_here):
    cnntune_cli = cli_here
    np.savez(tmp_path / "bad.npz", x=np.zeros((10, 4, 4)), y=np.zeros(9))
    (tmp_path / "hy.yaml").write_text("name: hy\nparams:\n  family: hybrid\n"
                                      "  patch_size: [8, 16]\n")
    (tmp_path / "tl.yaml").write_text("name: tl\nparams:\n  family: transfer\n"
                                      "  backbone_weights: [none, weights/missing.h5]\n")
    (tmp_path / "one" / "cat").mkdir(parents=True)
    (tmp_path / "sf.yaml").write_text("name: sf\nstart_from: [{n_blocks: 2}, {n_blocks: 9}]\n"
                                      "params:\n  n_blocks: {type: int, low: 1, high: 3}\n")
    np.savez(tmp_path / "xt.npz", x_train=np.zeros((9, 4, 4)))
    np.savez(tmp_path / "small.npz", x=np.zeros((30, 4, 4)), y=np.arange(30) % 3)
    for part, cls in (("train", "cat"), ("train", "dog"), ("test", "owl")):
        (tmp_path / "split" / part / cls).mkdir(parents=True)
    (tmp_path / "cw.yaml").write_text("name: cw\ntraining: {class_weight: {owl: 2.0}}\n"
                                      "params:\n  n_blocks: 1\n")
    (tmp_path / "f1.yaml").write_text("name: f1\ntraining: {folds: 1}\nparams:\n  n_blocks: 1\n")
    (tmp_path / "f9.yaml").write_text("name: f9\ntraining: {folds: 9}\nparams:\n  n_blocks: 1\n")
    (tmp_path / "im.yaml").write_text("name: im\ndata: {in_memory: maybe}\n"
                                      "params:\n  n_blocks: 1\n")
    (tmp_path / "mp.yaml").write_text("name: mp\nparams:\n  mixed_precision: [true, false]\n")
    (tmp_path / "flat").mkdir()
    (tmp_path / "lab.csv").write_text("file,label\na.png,cat\na.png,dog\n")
    (tmp_path / "lab.yaml").write_text("name: lab\ndata: {path: flat, labels: lab.csv}\n"
                                       "params:\n  n_blocks: 1\n")
    y = np.linspace(0, 1, 40)
    y[3] = np.nan
    np.savez(tmp_path / "nan.npz", x=np.zeros((40, 4, 4)), y=y)
    x = np.zeros((40, 4, 4))
    x[5, 1, 2] = np.inf
    np.savez(tmp_path / "xinf.npz", x=x, y=np.arange(40) % 2)
    x[5, 1, 2] = np.nan
    np.savez(tmp_path / "xnan.npz", x=x, y=np.arange(40) % 2)
    (tmp_path / "rg.yaml").write_text("name: rg\ntask: regression\nparams:\n  n_blocks: 1\n")
    (tmp_path / "ro.yaml").write_text("name: ro\ntask: regression\n"
                                      "training: {objective: val_macro_f1}\n"
                                      "params:\n  n_blocks: 1\n")
    (tmp_path / "ml.yaml").write_text("name: ml\ntask: multilabel\ndata: {min_labels: 1}\n"
                                      "params:\n  n_blocks: 1\n")
    (tmp_path / "mo.yaml").write_text("name: mo\ntask: multilabel\n"
                                      "training: {objective: val_accuracy}\n"
                                      "params:\n  n_blocks: 1\n")
    np.savez(tmp_path / "ml.npz", x=np.zeros((30, 4, 4)),
             y=np.array([[1, 0], [0, 1], [0, 0]] * 10))
    (tmp_path / "sg.yaml").write_text("name: sg\ntask: segmentation\n"
                                      "params:\n  family: unet\n  n_blocks: 1\n")
    (tmp_path / "sp.yaml").write_text("name: sp\ntask: segmentation\nparams:\n  n_blocks: 1\n")
    masks = np.zeros((30, 4, 4), "int64")
    masks[:, :2] = 1
    np.savez(tmp_path / "sz.npz", x=np.zeros((30, 8, 8)), masks=masks)
    masks[7, 0, 0] = 5
    np.savez(tmp_path / "mv.npz", x=np.zeros((30, 4, 4)), masks=masks,
             class_names=np.array(["bg", "fg"]))
    cases = [
        # the task: targets it cannot learn from, an objective it does not have
        (("search", "--space", "sg.yaml", "--data", "sz.npz"),
         ["npz 'sz.npz', masks: masks are 4x4 and images 8x8"]),
        (("search", "--space", "sg.yaml", "--data", "mv.npz"),
         ["npz 'mv.npz', masks, mask 7: value 5 is outside the 2 classes"]),
        (("search", "--space", "sp.yaml"),
         ["param 'family': plain has no decoder, and task segmentation"]),
        (("search", "--space", "ml.yaml", "--data", "ml.npz"),
         ["npz 'ml.npz', y, row 2: 0 labels, and data.min_labels is 1"]),
        (("search", "--space", "mo.yaml"),
         ["training.objective val_accuracy does not fit task multilabel"]),
        (("search", "--space", "rg.yaml", "--data", "nan.npz"),
         ["npz 'nan.npz', y, row 3: target is NaN or infinite"]),
        (("search", "--data", "xinf.npz"), ["xinf.npz", "finite numbers", "NaN/inf"]),
        (("search", "--data", "xnan.npz"), ["xnan.npz", "finite numbers", "NaN/inf"]),
        (("search", "--space", "ro.yaml"),
         ["training.objective val_macro_f1 does not fit task regression"]),
        (("search", "--space", "rg.yaml", "--data", "digits"),
         ["'digits' is a classification set and the space's task is regression"]),
        # data as users bring it: their splits, their labels, their class weights
        (("search", "--data", "xt.npz"), ["has x_train but no y_train"]),
        (("search", "--data", "split"), ["class 'owl' is in test/ but not in train/"]),
        (("search", "--space", "cw.yaml"), ["training.class_weight names class 'owl'"]),
        (("search", "--space", "f1.yaml"), ["training.folds", "greater than or equal to 2"]),
        (("search", "--space", "f1.yaml", "--data", "xt.npz"), ["training.folds"]),
        (("search", "--space", "f9.yaml", "--data", "small.npz"),
         ["training.folds is 9 but class", "has 8 examples in train + val; give fewer"]),
        (("search", "--space", "im.yaml"), ["data.in_memory"]),
        (("search", "--space", "lab.yaml"),
         ["labels csv 'lab.csv', row 2: file 'a.png' is not in"]),
        (("search", "--patience-trials", "0"), ["--patience-trials must be >= 1"]),
        (("search", "--warm-start", "earlier"),
         ["--warm-start earlier: no such study", "cnntune studies"]),
        (("search", "--space", "sf.yaml"),
         ["start_from entry 2, param 'n_blocks': 9 is outside [1, 3]"]),
        (("space", "show", "sf.yaml"), ["start_from entry 2"]),
        (("space", "show", "--data", "missing_dir"), ["'missing_dir' does not exist"]),
        (("search", "--data", "missing_dir"), ["'missing_dir' does not exist"]),
        (("search", "--data", "bad.npz"), ["x has 10 examples but y has 9"]),
        (("search", "--data", "one"), ["found 1 class sub-folder"]),
        (("search", "--space", "nope.yaml"), ["space 'nope.yaml': file not found"]),
        (("search", "--trials", "0"), ["--trials must be >= 1"]),
        (("search", "--study", "bad name!"), ["study name 'bad name!' is not allowed"]),
        (("search", "--engine", "kerastuner", "--algorithm", "tpe"),
         ["algorithm 'tpe' is unknown to engine kerastuner", "bayesian, random, hyperband"]),
        (("search", "--engine", "kerastuner", "--sampler", "tpe"),
         ["--sampler is for the optuna engine"]),
        (("search", "--engine", "kerastuner", "--pruner", "median"),
         ["--pruner is for the optuna engine"]),
        (("search", "--space", "hy.yaml"),
         ["param 'patch_size': family hybrid needs a grid of 2x2 patches of 8x8",
          "'digits' has 8-pixel sides; use a patch_size of at most 4"]),
        (("search", "--space", "tl.yaml"),
         ["param 'backbone_weights': file 'weights/missing.h5' not found"]),
        (("search", "--space", "conv1d", "--data", "digits"),
         ["holds images but the space says kind: sequence"]),
        (("search", "--space", "families", "--data", "waveforms"),
         ["can pick family plain, which needs images", "holds sequences"]),
        (("search", "--algorithm", "hyperband"),
         ["algorithm 'hyperband' is unknown to engine optuna"]),
    ]
    # commands that only read never make a store, not even an empty one
    no_store = ["no tracking store at 'mlruns/mlflow.db'", "run `cnntune search` first"]
    cases += [(("trials", "nope"), no_store), (("best", "nope"), no_store),
              (("report", "nope"), no_store), (("pareto", "nope"), no_store),
              (("explain", "nope"), no_store), (("ui",), no_store),
              (("export", "nope", "--format", "keras", "--out", "x"), no_store),
              # a study storage that cannot be opened is found before MLflow is touched
              (("search", "--storage", "bogus://x"), ["study storage 'bogus://x' cannot be"]),
              (("search", "--storage", "postgresql://bob:pw2@127.0.0.1:1/x"),
               ["cannot be opened", "Connection refused", "bob:***@127.0.0.1:1"])]
    for args, fragments in cases:
        r = cnntune_cli(*args)
        _one_line_error(r, *fragments)
        assert "pw2" not in r.stderr
    # the stores may come from the environment (README: CNNTUNE_TRACKING_URI, CNNTUNE_STORAGE)
    elsewhere = dict(os.environ, CNNTUNE_TRACKING_URI="sqlite:///elsewhere/t.db",
                     CNNTUNE_STORAGE="journal:adir")
    _one_line_error(cnntune_cli("trials", "nope", env=elsewhere),
                    "no tracking store at 'elsewhere/t.db' (from 'sqlite:///elsewhere/t.db')")
    (tmp_path / "adir").mkdir()  # a storage "file" that exists and cannot be read
    _one_line_error(cnntune_cli("studies", env=elsewhere),
                    "study storage 'journal:adir' cannot be read", "IsADirectoryError")
    (tmp_path / "junk.db").write_text("not a database")
    _one_line_error(cnntune_cli("trials", "x", "--tracking-uri", "sqlite:///junk.db"),
                    "MLflow tracking store 'sqlite:///junk.db' cannot be used",
                    "file is not a database")
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "junk.db.lock").exists()
    assert (tmp_path / "junk.db").read_text() == "not a database"
    r = cnntune_cli("search", "--engine", "kerastuner", "--storage", "postgresql://bob:pw1@db/x")
    _one_line_error(r, "keeps studies in a folder, not in a postgresql database")
    assert "pw1" not in r.stderr
    r = cnntune_cli("search", "--sampler", "bayes")
    assert r.returncode == 2 and "bayes" in r.stderr  # click's own usage error
    # GPU slots, on a simulated machine with two GPUs
    two = dict(os.environ, CUDA_VISIBLE_DEVICES="0,1")
    for args, fragments in ((("--gpus", "5"), ["--gpus 5: GPU 5 is not on this machine, which "
                                               "shows GPUs 0, 1"]),
                            (("--gpus", "0;1"), ["--gpus '0;1' is not a list of GPU ids"]),
                            (("--workers", "3"), ["--workers 3 needs 3 GPU slots"]),
                            (("--trials-per-gpu", "0"), ["--trials-per-gpu must be >= 1"]),
                            (("--space", "mp.yaml", "--gpus", "none"),
                             ["param 'mixed_precision' can be true, but this search's trials "
                              "train on the CPU"])):
        _one_line_error(cnntune_cli("search", *args, env=two), *fragments)
    _one_line_error(cnntune_cli("search", "--space", "mp.yaml",  # a machine without GPUs
                                env=dict(os.environ, CUDA_VISIBLE_DEVICES="")),
                    "param 'mixed_precision' can be true")
    assert not (tmp_path / "mlruns").exists()


def test_ray_bad_inputs_exit_2_and_write_nothing(tmp_path, cnntune_cli):
    """--ray: a missing extra, an address where no cluster answers, options that cannot hold
    on a cluster; each one line, exit 2, before anything is written."""
    shadow = tmp_path / "shadow" / "ray"  # a Python without the ray extra
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    _one_line_error(cnntune_cli("search", "--ray", "auto",
                                env=dict(os.environ, PYTHONPATH=str(shadow.parent))),
                    "--ray needs Ray, which is not installed", "pip install 'cnntune[ray]'")
    if not os.environ.get("CI"):
        pytest.importorskip("ray")
    nowhere = dict(os.environ, TMPDIR=str(tmp_path), RAY_ADDRESS="")
    for args, fragments in (
            (("--ray", "127.0.0.1:1"), ["--ray 127.0.0.1:1: no Ray cluster answers at "
                                        "127.0.0.1:1 (connection refused)", "ray start --head"]),
            (("--ray", "nonsense"), ["--ray 'nonsense' is not an address", "HOST:PORT"]),
            (("--ray", "auto"), ["--ray auto: no Ray cluster was started on this machine"]),
            (("--ray", "127.0.0.1:1", "--gpus", "0"), ["--gpus 0 names GPUs of this machine"]),
            (("--ray", "127.0.0.1:1", "--trials-per-gpu", "0"),
             ["--trials-per-gpu must be >= 1"]),
            (("--ray", "127.0.0.1:1", "--storage", "sqlite:///s.db"), ["SQLite is not"])):
        _one_line_error(cnntune_cli("search", *args, env=nowhere), *fragments)
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "s.db").exists()


def test_ray_gives_up_within_its_limit_where_something_else_listens(monkeypatch):
    """A port that accepts connections but speaks no Ray (here a bare socket) is refused
    after CONNECT_S, where Ray's own ray.init retries for minutes."""
    import socket
    import time

    pytest.importorskip("grpc")
    from cnntune.tuning import ray_workers

    monkeypatch.setattr(ray_workers, "CONNECT_S", 1)
    server = socket.create_server(("127.0.0.1", 0))
    try:
        t0 = time.monotonic()
        why = ray_workers._unanswered("127.0.0.1", server.getsockname()[1])
        assert "something listens there, but not Ray" in why
        assert time.monotonic() - t0 < 5
    finally:
        server.close()


def test_space_show_prints_the_auto_space_as_yaml_a_user_can_use(tmp_path, cnntune_cli):
    from cnntune.space import load_space

    r = cnntune_cli("space", "show", "--data", "digits")
    assert r.returncode == 0, r.stderr
    (tmp_path / "mine.yaml").write_text(r.stdout)
    sp = load_space(tmp_path / "mine.yaml")
    assert sp.name == "auto" and sp.params["n_blocks"].high == 2  # 8x8 digits: 1-2 blocks
    r = cnntune_cli("space", "validate", "mine.yaml")
    assert r.returncode == 0 and r.stdout.startswith("ok: mine.yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml"]  # it wrote nothing
