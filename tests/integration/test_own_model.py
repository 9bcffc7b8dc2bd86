"""Your own model: a space names a builder (``model: {builder: "module:function"}``) or an
estimator takes one (``model=build``); every trial calls it with every param the space sampled,
cnntune trains, tracks and exports what it returns, a broken configuration fails its trial
alone, and a builder that fails on the first configuration stops the search with its error."""

import json
import textwrap

import numpy as np
import pytest

import cnntune
from cnntune.errors import BuilderError, SpaceError

pytestmark = pytest.mark.slow

BUILDERS = '''
import json, os
import keras
from keras import layers


def build(params, input_shape, outputs):
    with open(os.environ["OWN_MODEL_CALLS"], "a") as f:
        f.write(json.dumps({"params": params, "input_shape": list(input_shape),
                            "outputs": outputs}) + "\\n")
    if params["width"] == 8:
        raise ValueError("width 8 is too wide for this test")
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(params["width"], 3, activation="relu", padding="same",
                      name="my_conv")(inputs)
    x = layers.Flatten()(x)
    x = layers.Dropout(params["my_dropout"])(x)
    return keras.Model(inputs, layers.Dense(outputs, activation="softmax")(x))


def logits(params, input_shape, outputs):
    inputs = keras.Input(input_shape)
    x = layers.Flatten()(inputs)
    return keras.Model(inputs, layers.Dense(outputs)(x))  # no softmax


NOT_A_FUNCTION = 3
'''


def _space(folder, builder="own_models:build", start_from=None, extra=""):
    (folder / "own_models.py").write_text(BUILDERS)
    path = folder / "own.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: own
        model: {{builder: "{builder}"}}
        training: {{epochs: 2, patience: 1}}
        search: {{algorithm: random, pruner: none}}
        start_from: {json.dumps(start_from or [])}
        params:
          width: {{type: categorical, choices: [4, 6, 8]}}
          my_dropout: 0.1
          learning_rate: 0.01
          batch_size: 64
        """) + extra)
    return path


@pytest.fixture(scope="module")
def own_study(tmp_path_factory):
    """Two trials of a builder space in worker processes: width 4 builds, width 8 raises."""
    folder = tmp_path_factory.mktemp("own")
    calls = folder / "calls.jsonl"
    mp = pytest.MonkeyPatch()
    mp.setenv("OWN_MODEL_CALLS", str(calls))
    stores = dict(storage=f"journal:{folder}/optuna.journal",
                  tracking_uri=f"sqlite:///{folder}/mlflow.db")
    result = cnntune.search(_space(folder, start_from=[{"width": 4}, {"width": 8}]),
                            data="digits", study="own", trials=2, **stores)
    yield result, calls, stores, folder
    mp.undo()


def test_every_param_of_the_space_reaches_the_builder(own_study):
    _, calls, _, _ = own_study
    seen = [json.loads(line) for line in calls.read_text().splitlines()]
    trial_calls = [c for c in seen if c["params"]["width"] in (4, 8)]
    assert {c["params"]["width"] for c in trial_calls} == {4, 8}
    for c in trial_calls:
        # names cnntune does not know (width, my_dropout) and those it does, every one
        assert set(c["params"]) == {"width", "my_dropout", "learning_rate", "batch_size"}
        assert c["input_shape"] == [8, 8, 1] and c["outputs"] == 10


def test_a_failing_configuration_fails_its_trial_and_the_study_goes_on(own_study):
    from mlflow import MlflowClient

    result, _, stores, _ = own_study
    assert result.counts.get("COMPLETE") == 1 and result.counts.get("FAIL") == 1
    assert result.best is not None and result.best.params["width"] == 4
    client = MlflowClient(stores["tracking_uri"])
    exp = client.get_experiment_by_name("own")
    runs = {r.data.params["width"]: r for r in client.search_runs(
        [exp.experiment_id], "tags.`cnntune.role` = 'trial'")}
    failed = runs["8"].data.tags
    assert failed["cnntune.state"] == "FAIL"
    assert "width 8 is too wide" in failed["cnntune.error"]
    assert runs["4"].data.tags["cnntune.family"] == "own"


def test_the_builders_model_is_trained_inside_cnntunes_input_layers_and_exports(own_study):
    from cnntune.deploy.export import export_study
    from cnntune.tracking.studies import StudyView

    _, _, stores, folder = own_study
    view = StudyView("own", stores["tracking_uri"])
    model = view.load_model(view.best())
    names = [layer.name for layer in model.layers]
    assert names[:2] == ["image", "rescale"] and "my_conv" in _names(model)
    report = export_study("own", fmt="keras", out=folder / "export",
                          tracking_uri=stores["tracking_uri"])
    assert report.passed and report.test_score > 0.3
    # retraining rebuilds the model through the builder, from the stored space
    again = export_study("own", fmt="keras", out=folder / "retrained",
                         tracking_uri=stores["tracking_uri"], retrain=True)
    assert again.passed and again.retrained


def test_a_builder_failing_on_the_first_configuration_stops_the_search(tmp_path, monkeypatch):
    monkeypatch.setenv("OWN_MODEL_CALLS", str(tmp_path / "calls.jsonl"))
    with pytest.raises(BuilderError) as err:
        cnntune.search(_space(tmp_path, start_from=[{"width": 8}]), data="digits",
                       study="first", trials=3, storage=f"journal:{tmp_path}/o.journal",
                       tracking_uri=f"sqlite:///{tmp_path}/m.db", isolate=False)
    text = str(err.value)
    assert "width 8 is too wide" in text and "first configuration" in text
    assert "\n" not in text
    assert len((tmp_path / "calls.jsonl").read_text().splitlines()) == 1  # no more trials


def test_a_model_that_does_not_fit_the_task_fails_with_why(tmp_path):
    from cnntune.data import load_dataset
    from cnntune.errors import BuilderFailed
    from cnntune.space import ModelSettings
    from cnntune.worker.trial import build_trial_model

    _space(tmp_path)
    data = load_dataset("digits", None, val_fraction=0.15, test_fraction=0.2, seed=0)
    with pytest.raises(BuilderFailed, match="not probabilities.*softmax"):
        build_trial_model({"width": 4}, data, str(tmp_path),
                          ModelSettings(builder="own_models:logits"))


@pytest.mark.parametrize("builder, why", [
    ("no_such_module:build", "module no_such_module does not import"),
    ("own_models:nothing", "module own_models has no nothing"),
    ("own_models:NOT_A_FUNCTION", "is a int; name a function build"),
    ("own_models", "is not 'module:function'"),
])
def test_a_builder_that_cannot_be_called_is_refused_before_anything_is_written(
        tmp_path, builder, why):
    with pytest.raises(BuilderError, match=why):
        cnntune.search(_space(tmp_path, builder=builder), data="digits", study="bad",
                       storage=f"journal:{tmp_path}/o.journal",
                       tracking_uri=f"sqlite:///{tmp_path}/m.db")
    assert not (tmp_path / "o.journal").exists() and not (tmp_path / "m.db").exists()


def test_a_builder_space_takes_its_own_names_but_no_family(tmp_path):
    from cnntune.space import load_space

    sp = load_space(_space(tmp_path))
    assert sp.own_model.builder == "own_models:build" and sp.start_from() == []
    with pytest.raises(SpaceError, match="drop the family param"):
        load_space(_space(tmp_path, extra="  family: plain\n"))
    plain = _space(tmp_path).read_text().replace('model: {builder: "own_models:build"}\n', "")
    (tmp_path / "plain.yaml").write_text(plain)
    with pytest.raises(SpaceError, match="param 'width': unknown knob"):
        load_space(tmp_path / "plain.yaml")


def _names(model) -> set:
    """The names of every layer in ``model``, nested models' included."""
    out = set()
    for layer in model.layers:
        out.add(layer.name)
        if hasattr(layer, "layers"):
            out |= _names(layer)
    return out


def build_here(params, input_shape, outputs):
    """A builder defined in a test module (as in a notebook): pickled by value for the
    workers, which cannot import this module."""
    import keras
    from keras import layers

    inputs = keras.Input(input_shape)
    x = layers.Conv2D(8, 3, activation="relu", name="here_conv")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(outputs, activation="softmax")(x))


def test_an_estimator_searches_a_function_it_is_given(tmp_path):
    from sklearn.datasets import load_digits

    d = load_digits()
    clf = cnntune.ImageClassifier(model=build_here, max_trials=1, epochs=1, verbose=0,
                                  storage=f"journal:{tmp_path}/o.journal",
                                  tracking_uri=f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    clf.fit(d.images[:1200], d.target[:1200])
    assert clf.study_name_.startswith("auto-own-")
    # the auto space's training knobs, none of its families' architecture knobs
    assert "learning_rate" in clf.best_params_ and "filters" not in clf.best_params_
    assert "here_conv" in _names(clf.export_model())
    assert np.isfinite(clf.score(d.images[1200:], d.target[1200:]))
    assert list((tmp_path / "mlruns" / "estimators").glob("builder-*.pkl"))


@pytest.mark.parametrize("method", ["gradcam", "saliency"])
def test_explain_maps_a_builders_model_inside_cnntunes_input_layers(own_study, method):
    """A builder's model has no cnntune layer names: Grad-CAM reads its own last conv layer
    (my_conv) behind cnntune's input layers, and its outputs, for the maps."""
    from cnntune.reports import explain as ex

    from .pages import heat_mapped_panels

    _, _, stores, folder = own_study
    out = ex.explain_study("own", tracking_uri=stores["tracking_uri"], out=folder / method,
                           method=method, n=8)
    assert heat_mapped_panels(out["grid"]) == 8
    from cnntune.tracking.studies import StudyView

    view = StudyView("own", stores["tracking_uri"])
    model, data = view.load_model(view.best()), view.load_data()
    x = data.test.images(range(4)).astype("float32")
    maps, probs = getattr(ex, method)(model, x)
    assert maps.shape == (4, 8, 8) and np.isfinite(maps).all() and maps.max() > 0
    np.testing.assert_allclose(probs, model.predict(x, verbose=0), atol=1e-5)
    assert list(ex.activations(model, x[0])) == ["my_conv"]


def test_a_local_builder_calling_a_helper_module_beside_it_runs_where_neither_imports(
        tmp_path, monkeypatch):
    """A builder in a local file that imports a helper from another local file is pickled
    with both (by value): the trial worker, which cannot import either, builds the model."""
    import subprocess
    import sys

    from cnntune.models.builder import reference

    src = tmp_path / "src"
    src.mkdir()
    (src / "my_blocks.py").write_text(textwrap.dedent("""
        from keras import layers

        def block(x, width):
            return layers.Conv2D(width, 3, padding="same", activation="relu",
                                 name="helper_conv")(x)
        """))
    (src / "my_builder.py").write_text(textwrap.dedent("""
        import keras
        from keras import layers
        from my_blocks import block

        def build(params, input_shape, outputs):
            inputs = keras.Input(input_shape)
            x = layers.Flatten()(block(inputs, params["width"]))
            return keras.Model(inputs, layers.Dense(outputs, activation="softmax")(x))
        """))
    monkeypatch.syspath_prepend(str(src))
    import my_builder

    path = reference(my_builder.build, tmp_path / "pickled")
    check = ("import sys, cloudpickle; build = cloudpickle.load(open(sys.argv[1], 'rb')); "
             "m = build({'width': 3}, (8, 8, 1), 10); "
             "print([l.name for l in m.layers])")
    r = subprocess.run([sys.executable, "-c", check, path], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300, env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "helper_conv" in r.stdout
