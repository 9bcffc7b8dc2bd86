"""KerasTuner hypermodels, unchanged: the getting-started ``build_model(hp)`` from KerasTuner's
docs searched by ``cnntune.Tuner`` (Optuna's samplers, cnntune's workers and MLflow runs), its
hp calls sampled as they run (conditional scopes honoured), a ``kt.HyperModel`` alike."""

import pytest

import cnntune
from cnntune.errors import InputError

pytestmark = pytest.mark.slow


# KerasTuner's getting-started build_model, as its docs write it
def build_model(hp):
    import keras
    from keras import layers

    model = keras.Sequential()
    model.add(layers.Flatten())
    # Tune the number of layers.
    for i in range(hp.Int("num_layers", 1, 3)):
        model.add(
            layers.Dense(
                # Tune number of units separately.
                units=hp.Int(f"units_{i}", min_value=32, max_value=512, step=32),
                activation=hp.Choice("activation", ["relu", "tanh"]),
            )
        )
    if hp.Boolean("dropout"):
        model.add(layers.Dropout(rate=0.25))
    model.add(layers.Dense(10, activation="softmax"))
    learning_rate = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def two_branches(hp):
    """KerasTuner's conditional_scope example: each branch's hyperparameters only when the
    branch is chosen."""
    import keras
    from keras import layers

    inputs = keras.Input((8, 8, 1))
    kind = hp.Choice("model_type", ["mlp", "cnn"])
    # asked for whatever the branch: an inactive one is not sampled, and reads None
    with hp.conditional_scope("model_type", ["mlp"]):
        units = hp.Int("mlp_units", 16, 64, step=16)
    with hp.conditional_scope("model_type", ["cnn"]):
        filters = hp.Int("filters", 4, 16, step=4)
    if kind == "mlp":
        x = layers.Dense(units, activation="relu")(layers.Flatten()(inputs))
    else:
        x = layers.GlobalAveragePooling2D()(layers.Conv2D(filters, 3, activation="relu")(inputs))
    hp.Fixed("fixed_note", 7)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


@pytest.fixture(scope="module")
def digits():
    import keras
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype("float32")  # as the docs scale MNIST
    y = keras.utils.to_categorical(d.target, 10)  # one-hot, as the docs' y
    return x[:1300], y[:1300], x[1300:], y[1300:]


@pytest.fixture(scope="module")
def tuner(digits, tmp_path_factory):
    x, y, xv, yv = digits
    folder = tmp_path_factory.mktemp("tuner")
    tuner = cnntune.Tuner(build_model, objective="val_accuracy", max_trials=2,
                          directory=folder, project_name="helloworld", seed=1, verbose=0)
    tuner.search(x, y, epochs=2, validation_data=(xv, yv))
    return tuner


def test_the_getting_started_build_model_runs_unchanged(tuner, digits):
    _, _, xv, yv = digits
    model = tuner.get_best_models(1)[0]
    acc = float((model.predict(xv[..., None], verbose=0).argmax(1) == yv.argmax(1)).mean())
    assert acc > 0.3
    best = tuner.get_best_hyperparameters(1)[0]
    assert {"num_layers", "units_0", "activation", "dropout", "lr"} <= set(best.values)
    assert {f"units_{i}" for i in range(best.values["num_layers"])} <= set(best.values)
    rebuilt = build_model(best)  # KerasTuner's way to build the best configuration again
    rebuilt.build((None, 8, 8, 1))
    assert rebuilt.count_params() == model.count_params()
    # validated as Keras validates: once an epoch, on all of validation_data
    assert tuner.estimator_._view.settings["checks_per_epoch"] == "1"  # an MLflow param


def test_its_hp_calls_are_optunas_suggestions_with_their_ranges(tuner):
    import optuna

    study = tuner.study_
    assert study.study_name == "helloworld" and len(study.trials) == 2
    for t in study.trials:
        d = t.distributions
        assert isinstance(d["num_layers"], optuna.distributions.IntDistribution)
        assert (d["units_0"].low, d["units_0"].high, d["units_0"].step) == (32, 512, 32)
        assert isinstance(d["lr"], optuna.distributions.FloatDistribution) and d["lr"].log
        assert d["activation"].choices == ("relu", "tanh")
        # a unit of every layer the trial built, and none beyond
        layers = t.params["num_layers"]
        assert {k for k in t.params if k.startswith("units_")} == {
            f"units_{i}" for i in range(layers)}


def test_every_trial_is_an_mlflow_run_with_its_hyperparameters(tuner):
    results = tuner.results_
    assert len(results) == 2 and set(results["state"]) == {"COMPLETE"}
    from mlflow import MlflowClient

    client = MlflowClient(tuner.tracking_uri)
    exp = client.get_experiment_by_name("helloworld")
    runs = client.search_runs([exp.experiment_id], "tags.`cnntune.role` = 'trial'")
    assert len(runs) == 2
    for r in runs:
        assert {"num_layers", "units_0", "lr", "batch_size"} <= set(r.data.params)
        assert r.data.params["batch_size"] == "32"  # Keras' default, as KerasTuner trains


def test_results_summary_prints_the_best_trials(tuner, capsys):
    tuner.results_summary(2)
    out = capsys.readouterr().out
    assert out.count("summary\nHyperparameters:") == 2 and 'name="val_accuracy"' in out


def test_conditional_scopes_sample_only_the_chosen_branch():
    import optuna

    from cnntune.space import ModelSettings
    from cnntune.tuning.hypermodel import sample

    own = ModelSettings(hypermodel=f"{two_branches.__module__}:two_branches")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(12):
        trial = study.ask()
        params = sample(own, trial)
        seen.add(params["model_type"])
        mine, other = (("mlp_units",), ("filters",)) if params["model_type"] == "mlp" \
            else (("filters",), ("mlp_units",))
        assert set(mine) <= set(params) and not set(other) & set(params)
        assert set(trial.params) == set(params) - {"fixed_note"}  # Fixed: not a suggestion
        assert params["fixed_note"] == 7
        study.tell(trial, 0.0)
    assert seen == {"mlp", "cnn"}


def test_a_kerastuner_hypermodel_with_its_own_fit_is_searched(digits, tmp_path):
    """KerasTuner's HyperModel example: its fit tunes the batch size; that hp call is
    sampled too, and the trial trains through the hypermodel's fit."""
    import keras_tuner as kt

    class MyHyperModel(kt.HyperModel):
        def build(self, hp):
            return two_branches(hp)

        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 48]), **kwargs)

    x, y, xv, yv = digits
    tuner = cnntune.Tuner(MyHyperModel(), max_trials=1, directory=tmp_path, verbose=0)
    tuner.search(x[:400], y[:400], epochs=2, validation_data=(xv, yv))
    best = tuner.get_best_hyperparameters()[0].values
    assert best["model_type"] in ("mlp", "cnn") and best["batch_size"] in (16, 48)
    trial = tuner.study_.trials[0]
    assert trial.distributions["batch_size"].choices == (16, 48)  # suggested by Optuna
    assert tuner.results_["epochs"].iloc[0] == 2  # trained through its fit, tracked


def test_what_cnntune_cannot_take_is_refused_in_one_line(digits):
    import keras

    with pytest.raises(InputError, match="executions_per_trial"):
        cnntune.Tuner(build_model, executions_per_trial=2)
    tuner = cnntune.Tuner(build_model, max_trials=1, verbose=0)
    with pytest.raises(InputError, match="has not searched yet"):
        tuner.get_best_models()
    x, y, xv, yv = digits
    with pytest.raises(InputError, match="TensorBoard"):
        tuner.search(x, y, validation_data=(xv, yv),
                     callbacks=[keras.callbacks.TensorBoard("/nonexistent")])
