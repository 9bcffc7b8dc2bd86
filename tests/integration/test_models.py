"""The plain model builder: shapes, parameter counts, augmentation only in training."""

import numpy as np
import pytest

from cnntune.knobs import resolve
from cnntune.models import build_model

BASE = dict(n_blocks=1, filters=4, kernel_size=3, batch_norm=False, dropout=0.0,
            dense_units=0, pooling="max")


@pytest.mark.parametrize("over,expected", [
    ({}, 40 + 64 * 3 + 3),                                   # conv 3x3x1x4+4; flatten 4x4x4
    ({"batch_norm": True}, 36 + 16 + 64 * 3 + 3),            # no conv bias; BN 4x4 weights
    ({"n_blocks": 2}, 40 + (3 * 3 * 4 * 8 + 8) + 32 * 3 + 3),  # 2nd block doubles filters
    ({"dense_units": 10}, 40 + (64 * 10 + 10) + 10 * 3 + 3),
    # with batch norm the dense layer has no bias and is normalised (4 weights per unit)
    ({"dense_units": 10, "batch_norm": True}, 36 + 16 + 64 * 10 + 40 + 10 * 3 + 3),
])
def test_parameter_counts(over, expected):
    model = build_model(resolve({**BASE, **over}), (8, 8, 1), 3, 1 / 16)
    assert model.count_params() == expected
    assert model.output_shape == (None, 3)


def test_deep_stack_on_tiny_input_skips_pooling_at_one_pixel():
    model = build_model(resolve({**BASE, "n_blocks": 6}), (8, 8, 1), 10, 1.0)
    pools = [layer for layer in model.layers if layer.name.endswith("_pool")]
    assert len(pools) == 3  # 8 -> 4 -> 2 -> 1, then no more pooling
    assert model.predict(np.zeros((2, 8, 8, 1), "float32"), verbose=0).shape == (2, 10)


def test_rgb_input_uses_global_average_pooling_when_large():
    model = build_model(resolve({**BASE, "filters": 8}), (32, 32, 3), 5, 1 / 255)
    assert any(layer.name == "gap" for layer in model.layers)
    out = model.predict(np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)), verbose=0)
    assert out.shape == (3, 5) and np.allclose(out.sum(axis=1), 1.0, atol=1e-5)


def test_rescaling_is_inside_the_model():
    model = build_model(resolve(BASE), (8, 8, 1), 3, 1 / 16)
    assert model.layers[1].name == "rescale" and model.layers[1].scale == pytest.approx(1 / 16)


def test_augmentation_is_active_only_in_training():
    knobs = resolve({**BASE, "aug_flip": "horizontal", "aug_rotation": 0.2,
                     "aug_translation": 0.2, "aug_zoom": 0.2, "aug_contrast": 0.3})
    model = build_model(knobs, (16, 16, 1), 4, 1 / 255)
    names = {layer.name for layer in model.layers}
    assert {"aug_flip", "aug_rotation", "aug_translation", "aug_zoom", "aug_contrast"} <= names
    x = np.random.default_rng(1).uniform(0, 255, (8, 16, 16, 1)).astype("float32")
    infer_a = np.asarray(model(x, training=False))
    infer_b = model.predict(x, verbose=0)
    np.testing.assert_allclose(infer_a, infer_b, atol=1e-5)
    # without augmentation layers the same weights give the same inference output
    plain = build_model(resolve(BASE), (16, 16, 1), 4, 1 / 255)
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(plain.predict(x, verbose=0), infer_b, atol=1e-5)
    train = np.asarray(model(x, training=True))
    assert np.abs(train - infer_a).max() > 1e-4  # augmentation changed the inputs
