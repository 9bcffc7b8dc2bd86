"""Every architecture family: built from a config sampled from its shipped space (each space's
warm start trains in test_shipped_spaces), checked for output shape and parameter count, and
rebuilt from the weights a trial keeps for the deadline; transfer weights from a local file;
max_params skips a model before training; label smoothing trains."""

import numpy as np
import pytest

from cnntune.data import load_dataset
from cnntune.formats import checkpoint
from cnntune.tuning.engines import Outcome, make_engine
from cnntune.knobs import FAMILY, resolve
from cnntune.models import build_model
from cnntune.space import load_space
from cnntune.catalog import State
from cnntune.worker.trial import TrialSettings, run_trial

pytestmark = pytest.mark.slow

_DATA = {}


def data(kind):
    if kind not in _DATA:
        src = "waveforms" if kind == "sequence" else "digits"
        _DATA[kind] = load_dataset(src, None, val_fraction=0.2, test_fraction=0.2, seed=0)
    return _DATA[kind]


def sample_configs(space_name, n, tmp_path):
    """n configs sampled by the Optuna engine (random) from a shipped space."""
    sp = load_space(space_name)
    engine = make_engine("optuna", space=sp, study_name="s", storage=f"sqlite:///{tmp_path}/s.db",
                         algorithm="random", pruner="none", seed=3, direction="maximize")
    engine.open()
    out = []
    engine.run(lambda s: (out.append(s.params), Outcome("COMPLETE", 0.0))[1], n_trials=n,
               budget=None)
    return out


SETTINGS = TrialSettings(epochs=1, patience=1, objective="val_accuracy", seed=0)


@pytest.mark.parametrize("space,family,kind", [
    ("lenet", "plain", "image"), ("vgg", "plain", "image"), ("resnet", "resnet", "image"),
    ("mobilenet", "separable", "image"), ("conv1d", "conv1d", "sequence"),
    ("transfer", "transfer", "image")])
def test_a_config_sampled_from_each_family_space_builds_and_its_kept_weights_rebuild_it(
        space, family, kind, tmp_path):
    # sampled, not the shipped space's warm start (test_shipped_spaces trains that one); the
    # kept weights are what a trial killed at the deadline leaves, for any family
    params = sample_configs(space, 1, tmp_path)[0]
    assert params["family"] == family
    ds = data(kind)
    model = build_model(resolve(params), ds.input_shape, ds.num_classes, ds.prep, ds.task)
    x = ds.test.x[:5]
    out = model.predict(x, verbose=0)
    assert out.shape == (5, ds.num_classes) and np.allclose(out.sum(axis=1), 1, atol=1e-4)
    n = sum(int(np.prod(w.shape)) for w in model.weights)
    assert model.count_params() == n > 0
    keeper = checkpoint.Keeper(tmp_path / "kept")
    keeper.keep(model, model.get_weights(), 1, {})
    keeper.wait()
    np.testing.assert_allclose(checkpoint.load_model(tmp_path / "kept").predict(x, verbose=0),
                               out, atol=1e-6)


BASE = dict(n_blocks=2, filters=8, kernel_size=3, batch_norm=False, dropout=0.0, dense_units=0)


def test_conv1d_parameter_count():
    # two blocks of Conv1D(k=3): 3*1*8+8, 3*8*16+16; 128 steps pooled twice leave 32
    # positions (> 16), so the head averages 16 channels globally: 16*4+4. The standardising
    # layer holds its training-split mean/std as constants, not weights.
    knobs = resolve({**BASE, "family": "conv1d"})
    model = build_model(knobs, (128, 1), 4, {"scale": 1.0, "mean": [2.0], "std": [3.0]})
    conv = (3 * 1 * 8 + 8) + (3 * 8 * 16 + 16)
    assert model.count_params() == conv + 16 * 4 + 4
    assert model.output_shape == (None, 4)
    # the standardising layer maps the training mean to 0 and one std above it to 1
    import keras

    std = keras.Model(model.inputs, model.get_layer("standardise").output)
    x = np.stack([np.full((128, 1), 2.0), np.full((128, 1), 5.0)]).astype("float32")
    np.testing.assert_allclose(np.asarray(std(x))[:, 0, 0], [0.0, 1.0], atol=1e-6)


def test_separable_uses_fewer_weights_and_width_multiplier_scales_them():
    conv = build_model(resolve({**BASE, "n_blocks": 3, "filters": 32}), (16, 16, 1), 3, 1.0)
    narrow, wide = (build_model(resolve({**BASE, "n_blocks": 3, "filters": 32,
                                         "family": "separable", "width_multiplier": w}),
                                (16, 16, 1), 3, 1.0) for w in (0.5, 1.0))
    assert narrow.count_params() < wide.count_params() < conv.count_params()
    assert any(layer.__class__.__name__ == "SeparableConv2D" for layer in wide.layers)


def test_resnet_units_projection_and_preactivation():
    one = build_model(resolve({**BASE, "family": "resnet"}), (8, 8, 1), 3, 1.0)
    two = build_model(resolve({**BASE, "family": "resnet", "res_units": 2}), (8, 8, 1), 3, 1.0)
    names = [layer.name for layer in one.layers]
    # stage 2 doubles the filters and strides: its first unit needs a projection shortcut
    assert "block2_unit1_proj" in names and "block1_unit1_proj" not in names
    # one more unit per stage = 2 more 3x3 convs per stage (8->8 and 16->16 filters, biases)
    extra = 2 * (3 * 3 * 8 * 8 + 8) + 2 * (3 * 3 * 16 * 16 + 16)
    assert two.count_params() - one.count_params() == extra
    pre = build_model(resolve({**BASE, "family": "resnet", "preactivation": True,
                               "batch_norm": True}), (8, 8, 1), 3, 1.0)
    assert "final_bn" in [layer.name for layer in pre.layers]
    assert pre.predict(np.zeros((2, 8, 8, 1)), verbose=0).shape == (2, 3)


def test_transfer_loads_a_local_weights_file_and_unfreezes_from_the_top(tmp_path):
    import keras

    backbone = keras.applications.MobileNetV2(include_top=False, weights=None,
                                              input_shape=(32, 32, 3))
    path = tmp_path / "mnv2_notop.weights.h5"
    backbone.save_weights(path)
    knobs = resolve({"family": "transfer", "backbone": "mobilenetv2",
                     "backbone_weights": str(path), "unfreeze": 0, "dense_units": 0})
    model = build_model(knobs, (8, 8, 1), 10, 1 / 16)
    inner = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    for a, b in zip(inner.weights, backbone.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not any(w.trainable for w in inner.weights)  # unfreeze 0: only the head trains
    assert len(model.trainable_weights) == 2  # the classifier's kernel and bias
    thawed = build_model({**knobs, "unfreeze": 10}, (8, 8, 1), 10, 1 / 16)
    inner = next(layer for layer in thawed.layers if isinstance(layer, keras.Model))
    trainable = [layer for layer in inner.layers if layer.trainable_weights]
    assert trainable and all(layer in inner.layers[-10:] for layer in trainable)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in trainable)
    with pytest.raises(FileNotFoundError, match="not found"):
        build_model({**knobs, "backbone_weights": str(tmp_path / "missing.h5")}, (8, 8, 1),
                    10, 1.0)
    # random weights have nothing to keep: the whole backbone trains, whatever unfreeze says
    fresh = build_model({**knobs, "backbone_weights": "none"}, (8, 8, 1), 10, 1 / 16)
    inner = next(layer for layer in fresh.layers if isinstance(layer, keras.Model))
    assert len(inner.trainable_weights) == len(backbone.trainable_weights) > 100


def _bn_moves(model, extract) -> bool:
    """Whether one training step moves the encoder's first batch norm's moving mean."""
    bn = next(layer for layer in extract.layers if "BatchNormalization" in type(layer).__name__)
    before = np.asarray(bn.moving_mean).copy()
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.uniform(0, 255, (4, 32, 32, 1)).astype("float32"),
                         rng.integers(0, 3, (4, 32, 32)))
    return not np.allclose(before, np.asarray(bn.moving_mean))


def test_unet_backbone_encoder_skips_by_stride_local_weights_training_and_export(tmp_path):
    import keras

    from cnntune.formats.convert import inference_model
    from cnntune.formats.registry import write_model
    from cnntune.formats.registry import load_predictor

    backbone = keras.applications.MobileNetV2(include_top=False, weights=None,
                                              input_shape=(32, 32, 3))
    path = tmp_path / "mnv2_notop.weights.h5"
    backbone.save_weights(path)
    knobs = resolve({**BASE, "family": "unet", "encoder": "mobilenetv2", "n_blocks": 3,
                     "skips": "add", "backbone_weights": str(path), "unfreeze": 0})
    prep = {"scale": 1 / 255}
    model = build_model(knobs, (32, 32, 1), 3, prep, "segmentation")
    assert model.output_shape == (None, 32, 32, 3)
    extract = model.get_layer("mobilenetv2_features")
    # the skips at strides 2 and 4, the bottleneck at 8 (MobileNetV2's expand layers)
    assert [tuple(t.shape[1:]) for t in extract.outputs] == [(16, 16, 96), (8, 8, 144),
                                                             (4, 4, 192)]
    for layer in [la for la in extract.layers if la.weights]:  # the file's, frozen
        for a, b in zip(layer.weights, backbone.get_layer(layer.name).weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not extract.trainable_weights and model.trainable_weights
    assert "up1_skip_proj" not in [la.name for la in model.layers]  # own level: same width
    assert "up2_skip_proj" in [la.name for la in model.layers]  # 96 backbone channels -> 8
    assert not _bn_moves(model, extract)  # kept weights: batch norm in inference mode
    fresh = build_model({**knobs, "backbone_weights": "none"}, (32, 32, 1), 3, prep,
                        "segmentation")
    extract = fresh.get_layer("mobilenetv2_features")
    assert extract.trainable_weights and _bn_moves(fresh, extract)

    infer = inference_model(model)
    x = np.random.default_rng(1).uniform(0, 255, (3, 32, 32, 1)).astype("float32")
    ref = infer.predict(x, verbose=0)
    for fmt, name in (("onnx", "m.onnx"), ("tflite", "m.tflite")):
        write_model(infer, fmt, tmp_path / name)
        np.testing.assert_allclose(load_predictor(tmp_path / name).predict(x), ref, atol=1e-4,
                                   err_msg=fmt)
    with pytest.raises(ValueError, match="at most 5 times"):
        build_model({**knobs, "n_blocks": 6}, (64, 64, 1), 3, prep, "segmentation")
    with pytest.raises(ValueError, match="at least 32x32"):
        build_model(knobs, (16, 16, 1), 3, prep, "segmentation")


def test_max_params_skips_before_training():
    settings = TrialSettings(epochs=3, patience=1, objective="val_accuracy", seed=0,
                             max_params=1000)
    epochs = []
    res = run_trial({"filters": 64, "dense_units": 128}, data("image"), settings,
                    on_epoch=lambda e, logs: epochs.append(e))
    assert res.state == State.PRUNED and res.skipped == "max_params" and epochs == []
    assert res.stopped == "max_params"  # the cnntune.stopped tag says why it never trained
    assert res.metrics["n_params"] > 1000 and "max_params 1,000" in res.error
    assert res.model is None


def test_label_smoothing_trains_and_scores_accuracy():
    res = run_trial({"filters": 8, "dense_units": 0, "batch_size": 128,
                     "label_smoothing": 0.1, "learning_rate": 1e-2}, data("image"),
                    TrialSettings(epochs=2, patience=2, objective="val_accuracy", seed=0))
    assert res.state == State.COMPLETE and 0.3 < res.metrics["test_accuracy"] <= 1.0
    # the knob reached the loss: smoothed one-hot targets, not plain sparse cross-entropy
    config = res.model.loss.get_config()
    assert config["name"] == "categorical_crossentropy" and config["label_smoothing"] == 0.1


def test_conditional_family_space_hands_each_family_only_its_knobs(tmp_path):
    configs = sample_configs("families", 40, tmp_path)
    assert {c["family"] for c in configs} == {"plain", "resnet", "separable"}
    for c in configs:
        assert set(c) - {"family"} <= FAMILY[c["family"]].uses, c
        assert ("res_units" in c) == (c["family"] == "resnet")
        assert ("width_multiplier" in c) == (c["family"] == "separable")
        assert ("pooling" in c) == (c["family"] != "resnet")


def test_resnet_drop_path_drops_whole_branches_in_training_only():
    """Stochastic depth: with drop_path (and no other dropout) two training passes over the
    same batch differ, inference passes do not; the rate grows to drop_path at the last unit."""
    from cnntune.models import build_model

    x = np.random.default_rng(0).uniform(0, 16, (64, 8, 8, 1)).astype("float32")

    def passes(rate):
        m = build_model(resolve({"family": "resnet", "n_blocks": 2, "res_units": 2,
                                 "filters": 8, "dropout": 0.0, "drop_path": rate}),
                        (8, 8, 1), 3, {"scale": 1 / 16})
        runs = [np.asarray(m(x, training=t)) for t in (True, True, False, False)]
        rates = [layer.rate for layer in m.layers if layer.name.endswith("_droppath")]
        return runs, rates

    (t1, t2, i1, i2), rates = passes(0.4)
    assert rates == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert not np.allclose(t1, t2) and np.allclose(i1, i2)
    (t1, t2, _, _), rates = passes(0.0)
    assert rates == [] and np.allclose(t1, t2)  # off: training is deterministic here


def test_two_phase_fine_tuning_trains_the_head_then_the_backbone_top_at_a_lower_rate(tmp_path):
    """finetune_epochs 1, unfreeze 3: the transfer family builds its backbone frozen whole;
    in epoch 1 no backbone weight moves, in epoch 2 the top 3 layers' do (batch norm's not)
    at learning_rate x finetune_lr_factor, the rest stay. The export's final fit does the
    same. (Training runs on a small stand-in backbone: MobileNetV2's 2 compiles a phase take
    30 s.)"""
    import keras
    from keras import layers

    backbone = keras.applications.MobileNetV2(include_top=False, weights=None,
                                              input_shape=(32, 32, 3))
    path = tmp_path / "mnv2_notop.weights.h5"
    backbone.save_weights(path)
    knobs = resolve({"family": "transfer", "backbone_weights": str(path), "unfreeze": 3,
                     "finetune_epochs": 1, "finetune_lr_factor": 0.1, "dense_units": 0,
                     "batch_size": 64})
    model = build_model(knobs, (8, 8, 1), 10, {"scale": 1 / 16})
    inner = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    assert not inner.trainable_weights  # phase one: frozen whole
    one_phase = build_model({**knobs, "finetune_epochs": 0}, (8, 8, 1), 10, {"scale": 1 / 16})
    assert next(layer for layer in one_phase.layers
                if isinstance(layer, keras.Model)).trainable_weights  # the top from the start

    d = load_dataset("digits", None, val_fraction=0.15, test_fraction=0.2, seed=0)
    train = d.train.head(128).pipeline(64, training=True, seed=0)

    def stand_in():
        """A model as the transfer family makes one: a nested backbone (here three convs and
        a batch norm), frozen for phase one, and a head."""
        x = inputs = keras.Input((8, 8, 1))
        bb_in = keras.Input((8, 8, 1))
        y = layers.Conv2D(4, 3, name="low")(bb_in)
        y = layers.Conv2D(4, 3, name="mid")(y)
        y = layers.BatchNormalization(name="bn")(y)
        y = layers.Conv2D(4, 1, name="high")(y)
        bb = keras.Model(bb_in, y, name="bb")
        bb.trainable = False
        x = layers.GlobalAveragePooling2D()(bb(layers.Rescaling(1 / 16)(x), training=False))
        return keras.Model(inputs, layers.Dense(10, activation="softmax")(x)), bb

    def moved(bb, before):
        return {w.path for w, b in zip(bb.weights, before) if not np.array_equal(np.asarray(w), b)}

    from cnntune.worker.train import fit, fit_final

    model, bb = stand_in()
    start = [np.asarray(w).copy() for w in bb.weights]
    seen = {}
    fit(model, knobs, train, d.val.head(64).pipeline(64, training=False, seed=0), epochs=2,
        patience=2, objective="val_accuracy",
        on_epoch=lambda epoch, logs: seen.update({epoch: (moved(bb, start),
                                                          logs["learning_rate"])}))
    assert seen[1] == (set(), pytest.approx(1e-3))
    top = {"mid/kernel", "mid/bias", "high/kernel", "high/bias"}
    assert seen[2] == (top, pytest.approx(1e-4))
    model, bb = stand_in()
    start = [np.asarray(w).copy() for w in bb.weights]
    fit_final(model, knobs, train, epochs=2)
    assert moved(bb, start) == top
