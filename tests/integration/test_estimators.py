"""cnntune from Python: an estimator fitted on arrays (AutoKeras' five lines), scikit-learn's
protocol (clone, get_params, cross_val_score), a finished study reopened with load, and bad
input answered with one-line ValueErrors before anything is written."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

import cnntune
from cnntune.errors import InputError

pytestmark = pytest.mark.slow

NAMES = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                  "nine"])


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x, y = d.images.astype("float32"), NAMES[d.target]  # labels as the user has them
    return x[:1500], y[:1500], x[1500:], y[1500:]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("estimators")
    return dict(storage=f"journal:{root}/optuna.journal",
                tracking_uri=f"sqlite:///{root}/mlruns/mlflow.db"), root


@pytest.fixture(scope="module")
def fitted(digits, stores):
    x, y, _, _ = digits
    clf = cnntune.ImageClassifier(max_trials=2, epochs=2, verbose=0, **stores[0])
    return clf.fit(x, y)


def test_five_lines_fit_evaluate_predict_and_export(fitted, digits):
    _, _, xt, yt = digits
    clf = fitted
    assert list(clf.classes_) == sorted(NAMES)  # the user's labels, sorted
    pred = clf.predict(xt)
    assert pred.dtype.kind == "U" and set(pred) <= set(NAMES)
    acc = float((pred == yt).mean())
    assert acc > 0.6
    figures = clf.evaluate(xt, yt)
    assert figures["accuracy"] == pytest.approx(acc)
    assert {"loss", "macro_f1", "balanced_accuracy"} <= set(figures)
    assert clf.score(xt, yt) == pytest.approx(acc)
    proba = clf.predict_proba(xt)
    assert proba.shape == (len(xt), 10) and np.allclose(proba.sum(axis=1), 1, atol=1e-4)
    model = clf.export_model()
    np.testing.assert_allclose(model.predict(xt[..., None], verbose=0), proba, atol=1e-5)
    assert clf.predict(xt[..., None]).tolist() == pred.tolist()  # (n, h, w, 1) as well


def test_the_fitted_attributes_describe_the_study(fitted):
    clf = fitted
    assert clf.best_trial_ in (0, 1) and 0 < clf.best_score_ <= 1
    assert {"n_blocks", "filters", "learning_rate"} <= set(clf.best_params_)
    results = clf.results_
    assert len(results) == 2 and "val_accuracy" in results.columns
    study = clf.study_
    assert study.study_name == clf.study_name_ and len(study.trials) == 2
    assert clf.study_name_.startswith("auto-arrays-")


def test_load_reopens_a_finished_study_without_searching(fitted, digits, stores):
    _, _, xt, _ = digits
    again = cnntune.load(fitted.study_name_, **stores[0])
    assert type(again) is cnntune.ImageClassifier
    assert again.best_trial_ == fitted.best_trial_
    assert list(again.classes_) == list(fitted.classes_)
    assert again.predict(xt).tolist() == fitted.predict(xt).tolist()
    assert len(again.results_) == 2


def test_a_fitted_estimator_pickles_and_predicts_after(fitted, digits):
    import pickle

    _, _, xt, _ = digits
    again = pickle.loads(pickle.dumps(fitted))
    assert again.predict(xt[:20]).tolist() == fitted.predict(xt[:20]).tolist()


def test_scikit_learn_clone_and_params(fitted):
    from sklearn.base import clone, is_classifier, is_regressor

    assert is_classifier(fitted) and is_regressor(cnntune.ImageRegressor())

    params = fitted.get_params()
    assert params["max_trials"] == 2 and params["space"] == "auto"
    fresh = clone(fitted)
    assert fresh.get_params() == params and not hasattr(fresh, "study_name_")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        fresh.predict(np.zeros((1, 8, 8)))
    fresh.set_params(max_trials=1)
    assert fresh.max_trials == 1


def test_bad_input_is_one_line_valueerror_and_writes_nothing(fitted, digits, stores):
    x, y, xt, _ = digits
    folder = stores[1] / "mlruns" / "estimators"
    before = sorted(p.name for p in folder.iterdir())
    clf = cnntune.ImageClassifier(max_trials=1, verbose=0, **stores[0])
    cases = [((x, y[:-1]), "x has 1500 examples but y has 1499"),
             ((x, np.full(len(x), "one")), "y holds one class"),
             ((x[..., None, None], y), "give (n, height, width[, channels]) images"),
             ((np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), y), "NaN or inf"),
             ((x, None), "y is missing")]
    for args, message in cases:
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")
                           .replace(")", r"\)")) as err:
            clf.fit(*args)
        assert isinstance(err.value, InputError) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="the model takes"):
        fitted.predict(np.zeros((2, 16, 16)))
    with pytest.raises(InputError, match="which fit never saw"):
        fitted.evaluate(xt[:2], ["one", "eleven"])
    assert sorted(p.name for p in folder.iterdir()) == before


def test_cross_val_score_fits_a_clone_per_fold(digits, stores):
    from sklearn.model_selection import cross_val_score

    x, y, _, _ = digits
    clf = cnntune.ImageClassifier(max_trials=1, epochs=4, verbose=0, **stores[0])
    scores = cross_val_score(clf, x[:1200], y[:1200], cv=2)
    assert len(scores) == 2 and all(0.2 < s <= 1 for s in scores), scores  # chance: 0.1


def test_a_tf_dataset_batched_or_not_is_the_same_data_as_its_arrays(digits, tmp_path):
    import tensorflow as tf

    from cnntune.estimators._inputs import inputs_of
    from cnntune.tasks import CLASSIFICATION

    x, y = digits[0][:100], digits[1][:100]
    arrays = inputs_of(x, y, None, task=CLASSIFICATION, folder=tmp_path)
    for ds in (tf.data.Dataset.from_tensor_slices((x, y)),
               tf.data.Dataset.from_tensor_slices((x, y)).batch(32),
               tf.data.Dataset.from_tensor_slices((x, y)).batch(25, drop_remainder=True)):
        got = inputs_of(ds, None, None, task=CLASSIFICATION, folder=tmp_path)
        assert got.name == arrays.name and got.settings == arrays.settings
    assert len(list(tmp_path.glob("*.npz"))) == 1  # written once, named by its contents


def test_a_dataframe_of_image_paths_becomes_a_labels_csv(tmp_path):
    import pandas as pd
    from PIL import Image

    from cnntune.estimators._inputs import inputs_of
    from cnntune.tasks import CLASSIFICATION

    rows = []
    for i in range(6):
        sub = tmp_path / "imgs" / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8), i * 20, np.uint8)).save(sub / f"{i}.png")
        rows.append({"path": str(sub / f"{i}.png"), "kind": "cat" if i % 2 else "dog"})
    df = pd.DataFrame(rows)
    got = inputs_of(df, "kind", None, task=CLASSIFICATION, folder=tmp_path / "out")
    assert got.settings["source"] == "folder" and got.settings["label_column"] == "kind"
    assert got.settings["path"] == str((tmp_path / "imgs").resolve())
    table = pd.read_csv(got.settings["labels"])
    assert table["file"].tolist()[:2] == ["b/0.png", "a/1.png"]
    assert list(got.classes) == ["cat", "dog"]
    with pytest.raises(InputError, match="no column 'label'"):
        inputs_of(df, None, None, task=CLASSIFICATION, folder=tmp_path / "out")
