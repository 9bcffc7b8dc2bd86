"""Explain and baselines: Grad-CAM finds the region that decides the class, saliency maps
have the input's shape, the CLI writes and logs the grids, baselines sit beside the trials."""

import numpy as np
import pytest

import cnntune
from cnntune.data import load_dataset
from cnntune.reports.explain import activations, gradcam, last_conv_layer, saliency
from cnntune.catalog import State
from cnntune.worker.trial import TrialSettings, run_trial

from .pages import heat_mapped_panels

pytestmark = pytest.mark.slow

def squares(n=480, seed=0):
    """16x16 noise with a bright bar (1x6, a distractor) somewhere; class 1 images also hold a
    bright 4x4 square elsewhere, class 0 images a second bar: the square decides the class.
    Returns x, y and each square's top-left corner ((-1, -1) in class 0)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 80, (n, 16, 16)).astype("uint8")
    y = np.arange(n) % 2
    where = np.full((n, 2), -1)

    def free(mask, h, w):
        while True:
            r, c = rng.integers(0, 17 - h), rng.integers(0, 17 - w)
            if not mask[max(0, r - 1):r + h + 1, max(0, c - 1):c + w + 1].any():
                return r, c

    for i in range(n):
        mask = np.zeros((16, 16), bool)
        shapes = [(1, 6) if rng.random() < 0.5 else (6, 1)]
        shapes.append((4, 4) if y[i] == 1 else ((1, 6) if rng.random() < 0.5 else (6, 1)))
        for k, (h, w) in enumerate(shapes):
            r, c = free(mask, h, w)
            x[i, r:r + h, c:c + w] = 255
            mask[r:r + h, c:c + w] = True
            if k == 1 and y[i] == 1:
                where[i] = (r, c)
    return x, y, where


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    x, y, _ = squares()
    path = tmp_path_factory.mktemp("sq") / "squares.npz"
    np.savez(path, x=x, y=y)
    data = load_dataset("npz", path, val_fraction=0.2, test_fraction=0.2, seed=0)
    res = run_trial({"n_blocks": 2, "filters": 16, "batch_norm": True, "dense_units": 0,
                     "dropout": 0.0, "head": "global_average", "learning_rate": 3e-3,
                     "batch_size": 32}, data,
                    TrialSettings(epochs=12, patience=12, objective="val_accuracy", seed=0))
    assert res.state == State.COMPLETE and res.metrics["test_accuracy"] > 0.9, res.metrics
    return res.take_model(), path


def test_gradcam_peaks_inside_the_deciding_square(trained):
    model, _ = trained
    x, y, where = squares(n=120, seed=1)  # fresh images
    maps, probs = gradcam(model, x[..., None].astype("float32"))
    assert maps.shape == (120, 16, 16) and maps.min() >= 0 and maps.max() <= 1
    assert (probs.argmax(1) == y).mean() > 0.9
    hits, shown = 0, 0
    for m, (r, c), label in zip(maps, where, y):
        if label != 1:
            continue
        shown += 1
        pr, pc = np.unravel_index(np.argmax(m), m.shape)
        hits += (r - 2 <= pr <= r + 5) and (c - 2 <= pc <= c + 5)  # the square, 2 px margin
    assert hits / shown >= 0.7, f"Grad-CAM peak on the square in {hits}/{shown} images"


def test_saliency_has_the_input_shape_and_lights_the_square(trained):
    model, _ = trained
    x, y, where = squares(n=40, seed=2)
    maps, _ = saliency(model, x[..., None].astype("float32"))
    assert maps.shape == (40, 16, 16)
    inside = [m[r:r + 4, c:c + 4].mean() > m.mean()
              for m, (r, c), label in zip(maps, where, y) if label == 1]
    assert np.mean(inside) >= 0.7


def test_last_conv_layer_and_activations_for_every_family():
    from cnntune.knobs import resolve
    from cnntune.models import build_model

    for knobs, shape in (({}, (8, 8, 1)), ({"family": "resnet"}, (8, 8, 1)),
                         ({"family": "separable"}, (8, 8, 1)), ({"family": "conv1d"}, (32, 1)),
                         ({"family": "transfer"}, (8, 8, 1))):
        model = build_model(resolve({"n_blocks": 2, "filters": 8, **knobs}), shape, 3, 1.0)
        layer = last_conv_layer(model)
        assert len(layer.output.shape) == len(shape) + 1 and "pool" not in layer.name
        x = np.random.default_rng(0).uniform(0, 1, (2, *shape)).astype("float32")
        maps, probs = gradcam(model, x)
        assert maps.shape == (2, *shape[:-1]) and probs.shape == (2, 3)
        acts = activations(model, x[0])
        assert 1 <= len(acts) <= 2 and all(a.ndim == len(shape) for a in acts.values())


def test_explain_and_baseline_commands_log_beside_the_trials(tiny_space, tmp_path, monkeypatch):
    import pandas as pd
    from click.testing import CliRunner
    from mlflow import MlflowClient

    from cnntune.cli import cli

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    res = cnntune.search(tiny_space, study="exp7", trials=2, epochs=2, isolate=False,
                         storage=f"journal:{tmp_path}/o.journal", tracking_uri=uri,
                         baselines=True)

    monkeypatch.chdir(tmp_path)

    def run(*args):  # the commands in this process: TensorFlow is loaded already
        r = CliRunner().invoke(cli, [*args, "--tracking-uri", uri])
        assert r.exit_code == 0, (r.output, r.exception)
        return r.stdout

    out = run("explain", "exp7", "--n", "10", "--out", "ex")
    # ten examples, each under its Grad-CAM map
    assert heat_mapped_panels(tmp_path / "ex" / "gradcam.png") == 10
    assert (tmp_path / "ex" / "activations.png").exists()
    client = MlflowClient(uri)
    logged = {a.path for a in client.list_artifacts(res.best.run_id, "explain")}
    assert {"explain/gradcam.png", "explain/activations.png"} <= logged
    assert "wrote" in out
    # another trial and method, on the user's own image files
    from PIL import Image

    from cnntune.tracking.studies import StudyView

    data = StudyView("exp7", uri).load_data()
    for i in range(3):
        Image.fromarray(np.round(data.test.x[i, ..., 0] * 255 / 16).astype("uint8")).save(
            tmp_path / f"d{i}.png")
    other = next(n for n in (0, 1) if n != res.best.number)
    out = run("explain", "exp7", "--trial", str(other), "--method", "saliency", "--images",
              "d0.png", "--images", "d1.png", "--images", "d2.png", "--out", "mine")
    assert f"trial {other}" in out and (tmp_path / "mine" / "saliency.png").exists()
    (run_of_other,) = client.search_runs([res.experiment_id],
                                         f"tags.`cnntune.trial` = '{other}'")
    assert "explain/saliency.png" in {a.path for a in client.list_artifacts(
        run_of_other.info.run_id, "explain")}
    # the baselines: sibling runs under the study run, same metric names as trials
    runs = client.search_runs([res.experiment_id], "tags.`cnntune.role` = 'baseline'")
    assert sorted(r.data.tags["cnntune.baseline"] for r in runs) == \
        ["logistic_regression", "random_forest", "rbf_svm"]
    for r in runs:
        assert r.data.tags["mlflow.parentRunId"] == res.parent_run_id
        assert 0.5 < r.data.metrics["val_accuracy"] <= 1 and "test_accuracy" in r.data.metrics
    (tmp_path / "t.csv").write_text(run("trials", "exp7", "--format", "csv"))
    df = pd.read_csv(tmp_path / "t.csv")
    assert set(df["model"]) == {"cnn", "logistic_regression", "rbf_svm", "random_forest"}
    assert (df.loc[df["state"] == "BASELINE", "test_accuracy"] > 0.5).all()
    run("baseline", "exp7")  # the command logs another set on demand
    assert len(client.search_runs([res.experiment_id], "tags.`cnntune.role` = 'baseline'")) == 6
