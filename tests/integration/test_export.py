"""Export a small trained model in every format (and both TFLite quantisations), reload each
through its own runtime, compare with the Keras model; predict, register, retrain, bad files."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import cnntune
from cnntune.errors import CnntuneError
from cnntune.deploy.export import export_study
from cnntune.errors import ExportMismatch, ModelFileError
from cnntune.formats.registry import load_predictor
from cnntune.tracking.studies import StudyView

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory, request):
    root = tmp_path_factory.mktemp("export")
    space = root / "tiny.yaml"
    from tests.conftest import TINY_SPACE

    space.write_text(TINY_SPACE)
    uri = f"sqlite:///{root}/mlflow.db"
    res = cnntune.search(space, study="exp", trials=2, epochs=3, isolate=False,
                         storage=f"sqlite:///{root}/optuna.db", tracking_uri=uri)
    assert res.best is not None
    return {"root": root, "uri": uri, "result": res}


FORMATS = [  # format, quantisation, largest probability difference, largest accuracy drop
    ("keras", "none", 1e-6, 0.0),
    ("savedmodel", "none", 1e-4, 0.0),
    ("onnx", "none", 1e-4, 0.0),
    ("tflite", "none", 1e-4, 0.0),
    ("tflite", "float16", 1e-2, 0.01),
    ("tflite", "int8", 0.1, 0.05),  # measured 0.013-0.024 over 3 seeds
]


@pytest.fixture(scope="module")
def exports(study):
    """The best trial exported once in every format: (format, quantize) -> (report, folder).
    Every test that reads an export takes it from here, so none depends on test order."""
    out = {}
    for fmt, quantize, *_ in FORMATS:
        folder = study["root"] / f"out-{fmt}-{quantize}"
        out[fmt, quantize] = (export_study("exp", fmt=fmt, quantize=quantize, out=folder,
                                           tracking_uri=study["uri"]), folder)
    return out


@pytest.mark.parametrize("fmt,quantize,max_diff,max_drop", FORMATS)
def test_every_format_round_trips_through_its_runtime(study, exports, fmt, quantize, max_diff,
                                                      max_drop):
    rep, out = exports[fmt, quantize]
    best = study["result"].best
    assert rep.passed and rep.trial == best.number
    assert rep.max_abs_diff <= max_diff and rep.keras_test_score - rep.test_score <= max_drop
    # the Keras inference model reproduces the accuracy the search logged for this trial
    assert rep.keras_test_score == pytest.approx(best.metrics["test_accuracy"], abs=1e-6)
    assert rep.size_bytes > 0 and rep.latency_ms > 0
    meta = json.loads((out / "cnntune.json").read_text())
    assert meta["source"]["study"] == "exp" and meta["source"]["trial"] == best.number
    assert meta["input"]["shape"] == [None, 8, 8, 1] and meta["class_names"][0] == "0"
    assert meta["params"] == best.params and meta["verification"]["passed"] is True
    assert meta["preprocessing"]["scale"] == pytest.approx(1 / 16)
    assert {"tensorflow_version", "keras_version", "cnntune_version"} <= set(meta)
    # reloaded independently, the export gives the recorded accuracy
    data = StudyView("exp", study["uri"]).load_data()
    probs = load_predictor(out).predict(data.test.x)
    acc = float((probs.argmax(1) == data.test.y).mean())
    assert acc == pytest.approx(rep.test_score, abs=1e-9)


def test_int8_is_smaller_than_float(exports):
    sizes = {q: exports["tflite", q][0].size_bytes for q in ("none", "float16", "int8")}
    assert sizes["int8"] < sizes["float16"] < sizes["none"]


def _pngs(study, folder, n=12):
    """The first ``n`` test digits as 0-255 PNG files, as a user would have them."""
    from PIL import Image

    data = StudyView("exp", study["uri"]).load_data()
    folder.mkdir()
    for i, img in enumerate(data.test.x[:n]):  # digits are 0-16
        Image.fromarray(np.round(img[..., 0] * 255 / 16).astype("uint8")).save(
            folder / f"{i:02d}.png")
    return np.stack([np.asarray(Image.open(folder / f"{i:02d}.png"), "float32") * 16 / 255
                     for i in range(n)])[..., None]


def test_predict_on_an_image_folder_matches_keras(study, exports, tmp_path):
    import keras

    from cnntune.deploy.predict import predict_files

    folder = tmp_path / "imgs"
    pngs = _pngs(study, folder)
    model = keras.saving.load_model(exports["keras", "none"][1] / "model.keras")
    expected = model.predict(pngs, verbose=0).argmax(1)
    for key in (("keras", "none"), ("onnx", "none"), ("tflite", "none")):
        table = predict_files(exports[key][1], [folder])
        assert list(table["input"]) == [str(folder / f"{i:02d}.png") for i in range(len(pngs))]
        assert [int(c) for c in table["class"]] == expected.tolist()
        assert ((table["probability"] > 0) & (table["probability"] <= 1)).all()


def test_predict_command_on_image_files_and_a_model_file_with_top(study, exports, tmp_path):
    import keras
    from click.testing import CliRunner

    from cnntune.cli import cli

    folder = tmp_path / "imgs"
    pngs = _pngs(study, folder, n=3)
    probs = keras.saving.load_model(exports["keras", "none"][1] / "model.keras").predict(
        pngs, verbose=0)
    files = [str(folder / f"{i:02d}.png") for i in range(3)]
    model_file = exports["onnx", "none"][1] / "model.onnx"  # a file, not the export folder
    csv = tmp_path / "p.csv"
    r = CliRunner().invoke(cli, ["predict", str(model_file), *files, "--top", "3",
                                 "--csv", str(csv)])
    assert r.exit_code == 0, r.output
    import pandas as pd

    table = pd.read_csv(csv)
    assert list(table["input"]) == files
    for k, suffix in enumerate(("", "_2", "_3")):
        want = np.argsort(-probs, axis=1)[:, k]
        assert table[f"class{suffix}"].tolist() == want.tolist()
        np.testing.assert_allclose(table[f"probability{suffix}"],
                                   probs[np.arange(3), want], atol=1e-4)
    r = CliRunner().invoke(cli, ["predict", str(model_file), files[0], "--top", "2"])
    assert r.exit_code == 0 and "class_2" in r.output and "probability_2" in r.output


def test_tampered_and_wrong_format_files_are_clear_errors(tmp_path):
    import keras

    inp = keras.Input((4,))
    out = keras.layers.Lambda(lambda t: t * 2)(inp)  # Python code inside: unsafe to load
    keras.Model(inp, out).save(tmp_path / "lambda.keras")
    with pytest.raises(ModelFileError, match="not a loadable .keras file"):
        load_predictor(tmp_path / "lambda.keras")
    for name in ("junk.keras", "junk.tflite", "junk.onnx"):
        (tmp_path / name).write_bytes(b"definitely not a model")
        with pytest.raises(ModelFileError) as info:
            load_predictor(tmp_path / name)
        assert "\n" not in str(info.value) and name in str(info.value)
    with pytest.raises(ModelFileError, match="unknown format '.pt'"):
        (tmp_path / "m.pt").write_bytes(b"x")
        load_predictor(tmp_path / "m.pt")


def test_retrain_and_register(study):
    import mlflow

    out = study["root"] / "out-retrain"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rep = export_study("exp", fmt="onnx", out=out, tracking_uri=study["uri"], retrain=True,
                           register="tiny-digits", alias="candidate")
    assert not [w for w in caught if "type hint" in str(w.message)]  # MLflow's, on logging
    assert rep.passed and rep.retrained
    assert rep.registered["version"] == 1 and rep.registered["alias"] == "candidate"
    mlflow.set_tracking_uri(study["uri"])
    served = mlflow.pyfunc.load_model("models:/tiny-digits@candidate")
    data = StudyView("exp", study["uri"]).load_data()
    probs = np.asarray(served.predict(data.test.x[:20].astype("float32")))
    np.testing.assert_allclose(probs, load_predictor(out).predict(data.test.x[:20]), atol=1e-6)
    meta = json.loads((out / "cnntune.json").read_text())
    assert meta["retrained"] is True and meta["registered"]["name"] == "tiny-digits"
    # serving installs what ran here: every requirement pinned to its installed version, and
    # the TensorFlow distribution that is installed (it once named tensorflow-cpu, unpinned)
    from importlib.metadata import version

    from cnntune.deploy.serving import pip_requirements

    reqs = mlflow.pyfunc.get_model_dependencies("models:/tiny-digits@candidate")
    assert f"onnxruntime=={version('onnxruntime')}" in Path(reqs).read_text().split()
    for fmt in ("keras", "savedmodel"):
        pins = dict(r.split("==") for r in pip_requirements(fmt))
        assert pins["tensorflow"] == version("tensorflow") and "tensorflow-cpu" not in pins


def test_refusals_and_a_mismatch_keeps_the_files(study, exports, monkeypatch):
    from cnntune import tasks

    out = exports["keras", "none"][1]
    with pytest.raises(CnntuneError, match="already exists"):
        export_study("exp", fmt="keras", out=out, tracking_uri=study["uri"])
    with pytest.raises(CnntuneError, match="applies to --format tflite only"):
        export_study("exp", fmt="onnx", quantize="int8", out=out, tracking_uri=study["uri"])
    with pytest.raises(CnntuneError, match="has no trial 99"):
        export_study("exp", fmt="keras", trial=99, out=study["root"] / "x",
                     tracking_uri=study["uri"])
    monkeypatch.setitem(tasks.TOLERANCE, "none", -1.0)  # nothing can pass
    bad = study["root"] / "out-mismatch"
    with pytest.raises(ExportMismatch, match="disagrees with the Keras model"):
        export_study("exp", fmt="keras", out=bad, tracking_uri=study["uri"])
    assert (bad / "model.keras").exists()
    assert json.loads((bad / "cnntune.json").read_text())["verification"]["passed"] is False


def test_cli_export_and_predict(study, tmp_path):
    import subprocess
    import sys

    import pandas as pd

    def run(*args):
        return subprocess.run([sys.executable, "-m", "cnntune", *args], capture_output=True,
                              text=True, timeout=600, cwd=tmp_path)

    r = run("export", "exp", "--format", "tflite", "--quantize", "int8", "--out", "edge",
            "--tracking-uri", study["uri"])
    assert r.returncode == 0, r.stderr
    assert "verified with its runtime" in r.stdout and "latency at batch 1" in r.stdout
    assert "XNNPACK" not in r.stderr and "Downloading artifacts" not in r.stderr
    data = StudyView("exp", study["uri"]).load_data()
    np.savez(tmp_path / "few.npz", x=data.test.x[:5])
    r = run("predict", "edge", "few.npz", "--csv", "p.csv")
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(tmp_path / "p.csv")
    assert list(table.columns) == ["input", "class", "probability"] and len(table) == 5
    r = run("export", "exp", "--format", "onnx", "--quantize", "int8", "--out", "x",
            "--tracking-uri", study["uri"])
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "tflite only" in r.stderr


@pytest.mark.parametrize("knobs,shape", [
    ({"activation": "gelu", "aug_rotation": 0.1, "aug_randaugment": 2, "aug_erasing": 0.5,
      "aug_augmix": 0.3}, (8, 8, 1)),
    ({"family": "resnet", "preactivation": True, "activation": "swish", "se_ratio": 4,
      "drop_path": 0.2}, (8, 8, 1)),
    ({"family": "separable", "activation": "elu", "head": "global_max", "se_ratio": 2},
     (8, 8, 1)),
    ({"family": "conv1d", "spatial_dropout": 0.1, "se_ratio": 4}, (32, 2)),
    ({"family": "transfer", "transfer_size": 32, "unfreeze": 5}, (8, 8, 1)),
    ({"family": "hybrid", "patch_size": 2, "attn_dim": 16, "attn_heads": 2, "se_ratio": 2},
     (16, 16, 3)),
], ids=["plain-gelu-aug", "resnet", "separable", "conv1d", "transfer", "hybrid"])
def test_every_family_exports_to_onnx_and_tflite(knobs, shape, tmp_path):
    from cnntune.formats.convert import inference_model
    from cnntune.formats.registry import write_model
    from cnntune.knobs import resolve
    from cnntune.models import build_model

    prep = {"scale": 1 / 16} if len(shape) == 3 else {"scale": 1.0, "mean": [0.5, -1.0],
                                                      "std": [2.0, 1.0]}
    model = build_model(resolve({"n_blocks": 2, "filters": 8, **knobs}), shape, 4, prep)
    se = [layer.name for layer in model.layers if layer.name.endswith("_se_scale")]
    assert len(se) == (2 if knobs.get("se_ratio") else 0), se  # one a block (a unit) each
    infer = inference_model(model)
    x = np.random.default_rng(0).uniform(0, 16, (6, *shape)).astype("float32")
    ref = infer.predict(x, verbose=0)
    # SavedModel is a trace of the same graph for every family (its round trip:
    # test_every_format_round_trips_through_its_runtime); ONNX and TFLite convert op by op
    for fmt, name in (("onnx", "m.onnx"), ("tflite", "m.tflite")):
        write_model(infer, fmt, tmp_path / name)
        got = load_predictor(tmp_path / name).predict(x)
        np.testing.assert_allclose(got, ref, atol=1e-4, err_msg=fmt)


def test_export_command_exit_codes_pick_and_trial(study, exports, monkeypatch):
    from click.testing import CliRunner

    from cnntune.cli import cli
    from cnntune import tasks

    uri = ["--tracking-uri", study["uri"]]
    best = study["result"].best.number
    r = CliRunner().invoke(cli, ["export", "exp", "--pick", "best", "--out",
                                 str(study["root"] / "picked"), *uri])
    assert r.exit_code == 0 and f"--pick best: trial {best}" in r.output, r.output
    r = CliRunner().invoke(cli, ["export", "exp", "--trial", "0", "--pick", "best", "--out",
                                 str(study["root"] / "both"), *uri])
    assert r.exit_code == 2 and "give --trial or --pick, not both" in r.output
    assert not (study["root"] / "both").exists()
    monkeypatch.setitem(tasks.TOLERANCE, "none", -1.0)  # nothing can pass
    r = CliRunner().invoke(cli, ["export", "exp", "--out", str(study["root"] / "cli-bad"), *uri])
    assert r.exit_code == 1, r.output  # a mismatch is not bad input: exit 1, files kept
    errors = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "disagrees with the Keras model" in errors[0]
    assert (study["root"] / "cli-bad" / "model.keras").exists()
