"""One trial on tiny data: training, scoring, pruning and NaN handling."""

import math
from dataclasses import replace

import pytest

from cnntune.data import load_dataset
from cnntune.catalog import State, Stop
from cnntune.worker.trial import TrialSettings, release_earlier_trials, run_trial

DATA = None


def digits():
    global DATA
    if DATA is None:
        DATA = load_dataset("digits", None, val_fraction=0.15, test_fraction=0.2, seed=0)
    return DATA


SMALL = dict(n_blocks=1, filters=8, dense_units=0, batch_size=64, learning_rate=1e-2)


def test_trial_trains_scores_and_reports_each_epoch():
    seen = []
    res = run_trial(SMALL, digits(), TrialSettings(epochs=2, patience=2,
                                                    objective="val_accuracy", seed=0),
                    on_epoch=lambda e, logs: seen.append((e, sorted(logs))))
    assert res.state == State.COMPLETE and res.model is not None
    assert [e for e, _ in seen] == [1, 2]
    assert seen[0][1] == ["accuracy", "learning_rate", "loss", "val_accuracy", "val_loss"]
    m = res.metrics
    assert 0.0 <= m["test_accuracy"] <= 1.0 and m["n_params"] > 0 and m["epochs"] == 2
    assert res.value == m["val_accuracy"] and len(res.history["val_accuracy"]) == 2
    assert res.take_model() is not None
    assert res.model is None


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_test_loss_from_one_prediction_pass_is_what_evaluate_reports(smoothing):
    """The trial scores the test split from one predict pass: its loss must be Keras' own
    (cross-entropy with the same smoothing, plus the L2 penalty)."""
    from cnntune.tasks import scored_loss
    from cnntune.tasks import predictions as predict

    params = dict(SMALL, l2=1e-3, label_smoothing=smoothing)
    res = run_trial(params, digits(), TrialSettings(epochs=1, patience=1,
                                                    objective="val_accuracy", seed=0))
    model, d = res.take_model(), digits()
    one_hot = d.num_classes if smoothing else None
    loss, acc = model.evaluate(d.test.pipeline(64, training=False, seed=0, one_hot=one_hot),
                               verbose=0)
    assert scored_loss(model, d.test.y, predict(model, d.test), smoothing) == \
        pytest.approx(loss, rel=1e-4)
    assert res.metrics["test_loss"] == pytest.approx(loss, rel=1e-4)
    assert res.metrics["test_accuracy"] == pytest.approx(acc, abs=1e-6)  # Keras sums in float32
    assert any(float(p) > 0 for p in model.losses)  # the penalty was in the comparison


def test_what_a_trial_leaves_in_tensorflow_is_released_and_its_model_still_works():
    from tensorflow.python.framework import ops

    def registered():
        return [n for n in ops._gradient_registry._registry if n.startswith("CustomGradient-")]

    settings = TrialSettings(epochs=1, patience=1, objective="val_accuracy", seed=0)
    res = run_trial(SMALL, digits(), settings)
    model = res.take_model()
    assert registered()  # each traced step holds its graph through one of these
    release_earlier_trials()
    assert registered() == []
    d = digits()  # the earlier model still trains and predicts with its traced steps
    model.fit(d.train.x[:128], d.train.y[:128], epochs=1, verbose=0)
    assert model.predict(d.test.x[:4], verbose=0).shape == (4, d.num_classes)


def test_pruned_trial_stops_at_the_reported_epoch():
    calls = []

    def report(epoch, value):
        calls.append(epoch)
        return epoch == 2

    res = run_trial(SMALL, digits(), TrialSettings(epochs=6, patience=6,
                                                    objective="val_accuracy", seed=0),
                    report=report)
    assert res.state == State.PRUNED and calls == [1, 2] and res.metrics["epochs"] == 2
    assert res.model is None and res.stopped == Stop.PRUNED


def test_nan_loss_fails_the_trial_with_a_reason():
    res = run_trial({**SMALL, "optimizer": "sgd", "momentum": 0.0, "learning_rate": 1e12,
                     "l2": 0.01,
                     "batch_norm": False}, digits(),
                    TrialSettings(epochs=3, patience=3, objective="val_accuracy", seed=0))
    assert res.state == State.FAIL and res.model is None
    assert res.error.startswith("training loss became ") and "learning rate" in res.error
    assert res.error.split()[3] in ("nan", "inf")


def test_a_model_that_cannot_be_built_fails_its_trial_with_the_reason():
    res = run_trial({"family": "transfer", "backbone_weights": "/nowhere/w.weights.h5"},
                    digits(), TrialSettings(epochs=1, patience=1, objective="val_accuracy",
                                            seed=0))
    assert res.state == State.FAIL and res.model is None and res.metrics == {}
    assert res.error.startswith("model cannot be built for input (8, 8, 1): ")
    assert "'/nowhere/w.weights.h5' not found" in res.error


def test_val_loss_objective_is_minimised_value():
    res = run_trial(SMALL, digits(), TrialSettings(epochs=1, patience=1, objective="val_loss",
                                                    seed=0))
    assert res.state == State.COMPLETE and math.isclose(res.value, res.metrics["val_loss"])


def test_learning_rate_schedules_change_the_rate():
    rates = {}
    for schedule in ("constant", "cosine", "plateau"):
        seen = []
        res = run_trial({**SMALL, "lr_schedule": schedule, "learning_rate": 0.05}, digits(),
                        TrialSettings(epochs=4, patience=2, objective="val_loss", seed=0),
                        on_epoch=lambda e, logs, seen=seen: seen.append(logs["learning_rate"]))
        assert res.state == State.COMPLETE
        rates[schedule] = seen
    assert all(math.isclose(r, 0.05, rel_tol=1e-6) for r in rates["constant"])
    cos = rates["cosine"]
    assert all(a > b for a, b in zip(cos, cos[1:])) and cos[-1] < 0.05 * 0.6
    assert min(rates["plateau"]) == pytest.approx(0.05)  # val_loss kept improving: no cut
    # a rate too small to move val_loss by min_delta: the plateau schedule halves it
    seen = []
    run_trial({**SMALL, "lr_schedule": "plateau", "learning_rate": 1e-7}, digits(),
              TrialSettings(epochs=4, patience=2, objective="val_loss", seed=0),
              on_epoch=lambda e, logs: seen.append(logs["learning_rate"]))
    assert seen[0] == pytest.approx(1e-7) and seen[-1] <= 0.5e-7 * 1.0001


def test_class_balanced_objective_is_measured_each_epoch_and_weights_reach_the_loss():
    """val_macro_f1 as the objective: measured from predictions each epoch (so pruning and
    early stopping see it), the best epoch's value is the trial's; the test split gets the
    same scores; class weights change what the model learns on imbalanced data."""
    import numpy as np

    from cnntune.data import Dataset, Split
    from cnntune.tasks import CLASSIFICATION

    d = digits()
    keep = lambda s: np.flatnonzero((s.y != 1) | (np.arange(len(s.y)) % 12 == 0))  # noqa: E731
    imb = Dataset(name="imb", class_names=d.class_names, scale=d.scale,
                  **{p: Split(getattr(d, p).x[keep(getattr(d, p))],
                              getattr(d, p).y[keep(getattr(d, p))])
                     for p in ("train", "val", "test")})
    reported = []
    settings = TrialSettings(epochs=3, patience=3, objective="val_macro_f1", seed=0,
                             class_weight=imb.class_weights("balanced"))
    res = run_trial(SMALL, imb, settings, report=lambda e, v: reported.append(v) or False)
    assert res.state == State.COMPLETE, res.error
    hist = res.history["val_macro_f1"]
    assert reported == hist and len(hist) == 3  # what pruning saw, epoch by epoch
    best = int(np.argmax(hist))
    assert res.value == hist[best] == res.metrics["val_macro_f1"]
    m = res.metrics
    for name in ("test_macro_f1", "test_balanced_accuracy", "test_auc", "val_auc"):
        assert 0.0 <= m[name] <= 1.0, name
    # the scores are scikit-learn's on the model's predictions
    again = CLASSIFICATION.epoch_score(res.take_model(), imb.test, "test_")
    assert again["test_macro_f1"] == pytest.approx(m["test_macro_f1"])
    # weights reach the loss: a heavy weight on the rare class makes the model predict it more
    predicted = []
    for weights in (None, {i: (30.0 if i == 1 else 1.0) for i in range(10)}):
        res = run_trial(SMALL, imb, TrialSettings(epochs=2, patience=2, seed=0,
                                                  objective="val_accuracy",
                                                  class_weight=weights))
        # an accuracy study logs the class-balanced scores beside it, measured at the end
        assert "val_macro_f1" in res.metrics and "val_macro_f1" not in res.history
        x = np.concatenate([imb.train.x, imb.val.x, imb.test.x]).astype("float32")
        predicted.append(int((res.take_model().predict(x, verbose=0).argmax(1) == 1).sum()))
    assert predicted[1] > 2 * predicted[0] + 10, predicted  # of ~1,400 examples, ~30 rare


def test_a_folder_stored_on_disk_trains_and_is_scored_on_the_same_data(tmp_path):
    """A folder read batch by batch from its store on disk trains a model, and the trial's
    scores are those of its model on the same folder loaded into memory."""
    import numpy as np
    from PIL import Image

    from cnntune.tasks import CLASSIFICATION

    d = digits()
    for i, (x, y) in enumerate(zip(d.train.x[:300], d.train.y[:300])):
        (tmp_path / str(y)).mkdir(exist_ok=True)
        Image.fromarray((x[..., 0] * 15).astype(np.uint8)).save(tmp_path / str(y) / f"{i}.png")
    load = dict(val_fraction=0.2, test_fraction=0.2, seed=0)
    stored = load_dataset(None, tmp_path, in_memory="false", **load)
    memory = load_dataset(None, tmp_path, in_memory="true", **load)
    assert stored.streamed and not memory.streamed
    res = run_trial(SMALL, stored, TrialSettings(epochs=3, patience=3, seed=0,
                                                 objective="val_macro_f1"))
    assert res.state == State.COMPLETE, res.error
    assert res.metrics["val_accuracy"] > 0.5  # it learned (chance is 0.1)
    model = res.take_model()
    for part in ("val", "test"):
        again = CLASSIFICATION.epoch_score(model, getattr(memory, part), f"{part}_")
        for name, value in again.items():
            assert res.metrics[name] == pytest.approx(value, abs=1e-6), name


def test_k_fold_trial_averages_its_folds_and_can_stop_after_the_first():
    """training.folds: one model per fold of train + val; the objective is the folds' mean,
    reported to the engine after each fold; the test split is scored once, by the last
    fold's model; epochs are numbered on across folds."""
    import statistics

    settings = TrialSettings(epochs=2, patience=2, objective="val_accuracy", seed=0, folds=3)
    reported, epochs = [], []
    res = run_trial(SMALL, digits(), settings, report=lambda s, v: reported.append((s, v)) or
                    False, on_epoch=lambda e, logs: epochs.append((e, logs["fold"])))
    assert res.state == State.COMPLETE, res.error
    m = res.metrics
    folds = [m[f"val_accuracy_fold{i}"] for i in (1, 2, 3)]
    assert res.value == m["val_accuracy"] == pytest.approx(statistics.fmean(folds))
    assert m["val_accuracy_std"] == pytest.approx(statistics.pstdev(folds)) and m["folds"] == 3
    assert [s for s, _ in reported] == [1, 2, 3]  # the running mean, fold by fold
    assert reported[0][1] == pytest.approx(folds[0]) and reported[-1][1] == pytest.approx(
        res.value)
    assert epochs == [(1, 1.0), (2, 1.0), (3, 2.0), (4, 2.0), (5, 3.0), (6, 3.0)]
    assert m["epochs"] == 6 and 1 <= m["best_epoch"] <= 2
    assert 0.0 <= m["test_accuracy"] <= 1.0 and "val_macro_f1" in m and res.take_model()
    # a hopeless trial: the engine stops it after its first fold
    res = run_trial(SMALL, digits(), settings, report=lambda s, v: True)
    assert res.state == State.PRUNED and res.metrics["folds"] == 1 and res.stopped == Stop.PRUNED
    assert res.value == res.metrics["val_accuracy_fold1"] and "test_accuracy" not in res.metrics


def test_a_gpu_out_of_memory_fails_only_its_trial_and_says_oom(monkeypatch):
    import tensorflow as tf

    from cnntune.worker import trial

    def oom(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(
            None, None, "OOM when allocating tensor with shape[64,32,8,8] on /gpu:0")

    monkeypatch.setattr(trial, "fit_split", oom)
    res = run_trial(SMALL, digits(), TrialSettings(epochs=1, patience=1,
                                                   objective="val_accuracy", seed=0))
    assert res.state == State.FAIL and res.stopped == "oom"
    assert res.error.startswith("out of GPU memory (OOM) with batch_size 64: OOM when")
    monkeypatch.undo()  # any other error is not the trial's to swallow
    monkeypatch.setattr(trial, "fit_split", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run_trial(SMALL, digits(), TrialSettings(epochs=1, patience=1,
                                                 objective="val_accuracy", seed=0))


def test_jit_compile_knob_compiles_with_xla_where_keras_can_and_says_so():
    settings = TrialSettings(epochs=1, patience=1, objective="val_accuracy", seed=0)
    res = run_trial(dict(SMALL, jit_compile=True), digits(), settings)
    assert res.state == State.COMPLETE and res.metrics["jit_compiled"] == 1.0
    assert res.take_model().jit_compile is True
    # random rotation cannot be compiled: Keras trains without XLA, and the metric says so
    res = run_trial(dict(SMALL, jit_compile=True, aug_rotation=0.1), digits(), settings)
    assert res.state == State.COMPLETE and res.metrics["jit_compiled"] == 0.0
    assert "jit_compiled" not in run_trial(SMALL, digits(), settings).metrics


def test_mixed_precision_trains_in_float16_and_exports_a_float32_model(tmp_path):
    """On the CPU only to check the mechanics (a search refuses it there): float16 layers,
    a float32 classifier, loss scaling; the export is float32 and agrees with the model."""
    import numpy as np

    from cnntune.formats.convert import inference_model
    from cnntune.formats.registry import write_model
    from cnntune.formats.registry import load_predictor

    res = run_trial(dict(SMALL, mixed_precision=True), digits(),
                    TrialSettings(epochs=1, patience=1, objective="val_accuracy", seed=0))
    assert res.state == State.COMPLETE, res.error
    model = res.take_model()
    assert model.get_layer("block1_conv1").compute_dtype == "float16"
    assert model.get_layer("classifier").compute_dtype == "float32"
    assert type(model.optimizer).__name__ == "LossScaleOptimizer"
    import keras

    assert keras.config.dtype_policy().name == "float32"  # the next trial builds in float32
    infer = inference_model(model)
    assert {layer.compute_dtype for layer in infer._flatten_layers()} == {"float32"}
    x = digits().test.x[:64].astype("float32")
    mixed = model.predict(x, verbose=0)
    plain = infer.predict(x, verbose=0)
    assert np.abs(mixed - plain).max() < 2e-2  # float16 rounding, nothing more
    write_model(infer, "tflite", tmp_path / "m.tflite")
    assert np.abs(load_predictor(tmp_path / "m.tflite", "tflite").predict(x) - plain).max() < 1e-4


def test_a_pass_cut_into_checks_continues_where_each_check_ended():
    """checks > 1: each of Keras' epochs is 1/checks of a pass over the shuffled pipeline, and
    the next check goes on with the same pass: the checks of one pass see every example once
    (a check that restarted the pipeline would see the first third of a new shuffle again)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from cnntune import knobs as knob_defs
    from cnntune.worker.train import fit

    n = 90

    counts = tf.Variable(tf.zeros(n))  # not a model weight: restoring the best keeps it

    class Seen(keras.layers.Layer):  # counts the example indices that pass in training
        def call(self, x, training=None):
            if training:
                counts.assign_add(tf.math.bincount(
                    tf.cast(x[:, 0], tf.int32), minlength=n, maxlength=n, dtype="float32"))
            return x

    idx = np.arange(n, dtype="float32")[:, None]
    y = (np.arange(n) % 2).astype("int32")
    train = tf.data.Dataset.from_tensor_slices((idx, y)).shuffle(
        n, seed=1, reshuffle_each_iteration=True).batch(10)  # 9 batches: 3 a check
    val = tf.data.Dataset.from_tensor_slices((idx, y)).batch(30)
    knobs = knob_defs.resolve({"learning_rate": 1e-3, "batch_size": 10})
    for checks_run, expect in ((3, np.ones(n)), (6, 2 * np.ones(n))):
        counts.assign(tf.zeros(n))
        model = keras.Sequential([keras.Input((1,)), Seen(), keras.layers.Dense(2, "softmax")])
        reported = []
        fitted = fit(model, knobs, train, val, epochs=checks_run, patience=checks_run,
                     objective="val_accuracy", checks=3,
                     report=lambda step, value, seen=reported: seen.append(step) or False)
        np.testing.assert_array_equal(counts.numpy(), expect)
        assert reported == list(range(1, checks_run + 1))
        assert fitted.epochs_run == checks_run and len(fitted.history["val_accuracy"]) == \
            checks_run


def test_early_stopping_ends_training_after_patience_checks_without_a_better_best():
    """patience counts checks: a model that cannot improve (its learning rate is 0, so every
    check scores what the first did) stops after its best check plus ``patience`` more, long
    before its epochs, tagged early_stopping, and keeps the best check's weights."""
    import keras
    import numpy as np
    import tensorflow as tf

    from cnntune import knobs as knob_defs
    from cnntune.worker.train import fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(20)
    val = tf.data.Dataset.from_tensor_slices((x, y)).batch(60)
    knobs = knob_defs.resolve({"learning_rate": 0.0, "batch_size": 20,
                               "lr_schedule": "constant"})
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, "softmax")])
    for patience, checks in ((2, 1), (4, 2)):
        fitted = fit(model, knobs, train, val, epochs=30, patience=patience,
                     objective="val_accuracy", checks=checks)
        assert fitted.stopped == Stop.EARLY_STOPPING
        assert fitted.best_epoch == 1 and fitted.epochs_run == 1 + patience
        assert len(fitted.history["val_accuracy"]) == 1 + patience


def test_a_trial_with_several_checks_an_epoch_counts_checks_and_reports_passes():
    """settings.checks: the trial reports and early-stops by check, each check scored on
    the first third of the validation split; its objective is then scored on the whole
    split; its epochs and best epoch are in passes (fractions of one); a Hyperband budget is
    in checks."""
    import numpy as np

    from cnntune.tasks import predictions

    reported, logged = [], []
    settings = TrialSettings(epochs=2, patience=2, objective="val_accuracy", seed=0, checks=3)
    assert settings.max_checks == 6
    res = run_trial(SMALL, digits(), settings, on_epoch=lambda e, logs: logged.append(e),
                    report=lambda step, value: reported.append(step) or False)
    assert res.state == State.COMPLETE, res.error
    assert reported == logged == [1, 2, 3, 4, 5, 6]
    assert len(res.history["val_accuracy"]) == 6 and res.metrics["epochs"] == 2.0
    best = res.history["val_accuracy"].index(max(res.history["val_accuracy"])) + 1
    assert res.metrics["best_epoch"] == pytest.approx(best / 3)
    d = digits()
    third = d.check_split(3)
    assert len(third) == len(d.val) // 3 and np.array_equal(third.y, d.val.y[:len(third)])
    model = res.take_model()
    on_third, on_all = (float(np.mean(np.argmax(predictions(model, split), -1) == split.y))
                        for split in (third, d.val))
    # the history is the third's, the trial's value the whole split's
    assert res.history["val_accuracy"][best - 1] == pytest.approx(on_third, abs=1e-6)
    assert res.value == res.metrics["val_accuracy"] == pytest.approx(on_all, abs=1e-6)
    # an engine's budget of 2 checks: two thirds of a pass
    res = run_trial(SMALL, digits(), replace(settings, steps=2))
    assert res.metrics["epochs"] == pytest.approx(2 / 3) and len(res.history["loss"]) == 2


def test_randaugment_augmix_and_erasing_train_inside_the_model_and_leave_inference_alone():
    """aug_randaugment, aug_augmix and aug_erasing are layers in the model: a trial trains
    with them (above chance after 3 epochs on digits) and its model predicts the same twice."""
    knobs = {**SMALL, "aug_randaugment": 2, "aug_randaugment_magnitude": 0.3,
             "aug_erasing": 0.25, "aug_augmix": 0.3}
    res = run_trial(knobs, digits(), TrialSettings(epochs=3, patience=3,
                                                   objective="val_accuracy", seed=0))
    assert res.state == State.COMPLETE, res.error
    assert res.metrics["val_accuracy"] > 0.3  # 10 classes: chance is 0.1
    model = res.take_model()
    names = [layer.name for layer in model.layers]
    assert {"aug_randaugment", "aug_erasing", "aug_augmix"} <= set(names)
    import numpy as np

    x = digits().test.x[:16].astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_mixup_and_cutmix_mix_training_labels_in_the_pipeline_never_the_model():
    """MixUp and CutMix act on training batches: labels become soft rows summing to 1, the
    validation pipeline's stay one-hot, a trial trains with them (well above chance) and its
    model holds no mixing layer (exports never carry it). A sequence batch mixes too."""
    import numpy as np
    import tensorflow as tf

    from cnntune.knobs import resolve
    from cnntune.models.augment import mixing
    from cnntune.worker.fitting import pipeline_augmentation

    d = digits()
    knobs = resolve({**SMALL, "aug_mixup": 0.4, "aug_cutmix": 1.0})
    assert d.task.one_hot(knobs, d.num_classes) == d.num_classes
    _, y = next(iter(d.train.pipeline(64, training=True, seed=0, one_hot=10,
                                      augment=pipeline_augmentation(knobs, d))))
    y = np.asarray(y)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-5)
    assert ((y > 0.01) & (y < 0.99)).any(axis=1).mean() > 0.25  # most rows are mixed
    _, y = next(iter(d.val.pipeline(64, training=False, seed=0, one_hot=10)))
    assert set(np.unique(np.asarray(y)).tolist()) == {0.0, 1.0}
    seq = tf.random.uniform((8, 40, 2)), tf.one_hot(tf.range(8) % 3, 3)
    x, y = mixing({"aug_cutmix": 1.0})(*seq)
    assert x.shape == (8, 40, 2) and np.allclose(np.asarray(y).sum(1), 1.0, atol=1e-5)

    res = run_trial({**SMALL, "aug_mixup": 0.4, "aug_cutmix": 1.0}, d,
                    TrialSettings(epochs=3, patience=3, objective="val_accuracy", seed=0))
    assert res.state == State.COMPLETE, res.error
    assert res.metrics["val_accuracy"] > 0.6  # 10 classes: chance is 0.1
    names = " ".join(layer.name for layer in res.take_model().layers)
    assert "mix" not in names


def test_ema_weights_are_what_is_validated_kept_and_tested():
    """With ema, each epoch is validated with the weights' moving average, and the trial's
    model is the average's: at a momentum of 0.999 over 60 steps the average is still near
    the initial weights, so both score near chance where the raw weights reach > 0.9."""
    res = run_trial({**SMALL, "ema": 0.999}, digits(),
                    TrialSettings(epochs=3, patience=3, objective="val_accuracy", seed=0))
    assert res.state == State.COMPLETE, res.error
    assert max(res.history["val_accuracy"]) < 0.4
    assert res.metrics["test_accuracy"] < 0.4
    assert max(res.history["accuracy"]) > 0.6  # the raw weights did learn
