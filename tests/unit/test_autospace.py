"""The space picked for the data, the configurations a study starts from, and how a
configuration is moved into a space: pure Python, no TensorFlow."""

import pytest

from cnntune.tuning.autospace import DataProfile, auto_space, known_good
from cnntune.errors import SpaceError
from cnntune.space import parse_space

DIGITS = DataProfile("image", (8, 8, 1), 1079, 10)
SHAPES = DataProfile("image", (64, 64, 3), 6000, 8)
CIFARISH = DataProfile("image", (32, 32, 3), 12000, 10)
LARGE = DataProfile("image", (224, 224, 3), 50000, 100)
WAVES = DataProfile("sequence", (128, 1), 960, 4)


def _space(profile):
    return parse_space(auto_space(profile, "d"), source="auto")


@pytest.mark.parametrize("profile, blocks, widths", [
    (DIGITS, (1, 2), [16, 32, 64]),  # 8 px: one or two poolings
    (CIFARISH, (2, 4), [12, 24, 48]),  # 32 px: three poolings reach 4 px
    (SHAPES, (3, 5), [8, 16, 32]),  # 64 px: four
    (LARGE, (5, 6), [8]),  # 224 px and 50,000 images: deep and as narrow as it gets
])
def test_depth_reaches_a_few_pixels_and_width_fits_the_epoch(profile, blocks, widths):
    sp = _space(profile)
    n = sp.params["n_blocks"]
    assert (n.low, n.high) == blocks
    assert profile.side / 2 ** n.high >= 2  # never pooled below 2 pixels
    assert sp.params["filters"].choices == widths


def test_small_images_search_more_knobs_large_ones_fix_what_works():
    small, large = _space(DIGITS), _space(SHAPES)
    assert small.params["batch_norm"].type == "bool"
    assert large.params["batch_norm"].type == "fixed" and large.params["batch_norm"].value
    assert small.params["batch_size"].choices == [32, 64]
    assert large.params["batch_size"].choices == [64, 128]
    # flips only for colour images: digits are not mirror-symmetric
    assert "aug_flip" not in small.params and "aug_flip" in large.params
    assert "aug_flip" not in _space(DataProfile("image", (64, 64, 1), 6000, 8)).params


def test_sequences_get_a_conv1d_space_without_image_augmentation():
    sp = _space(WAVES)
    assert sp.params["family"].value == "conv1d"
    assert not any(name.startswith("aug_") for name in sp.params)


@pytest.mark.parametrize("profile", [DIGITS, CIFARISH, SHAPES, LARGE, WAVES])
def test_known_good_configurations_fit_their_auto_space_whole(profile):
    sp = _space(profile)
    for config in known_good(profile):
        params, dropped = sp.project(config)
        assert dropped == [] or set(dropped) <= {"batch_norm", "activation", "lr_schedule",
                                                 "family"}  # fixed in the space already
        for name, value in params.items():
            assert sp.params[name].outside(value) is None, (name, value)


def test_the_printed_yaml_is_the_space_itself():
    text = auto_space(SHAPES, "shapes")
    assert text.startswith("# auto: the space cnntune picked for 'shapes'")
    assert "start_from: auto" in text
    sp = parse_space(text)
    assert sp.name == "auto" and sp.start_from() is None and sp.data.val_fraction == 0.2


SPACE = """name: t
start_from: {entries}
params:
  n_blocks: {{type: int, low: 1, high: 5, step: 2}}
  filters: {{type: categorical, choices: [16, 32, 64]}}
  optimizer: [adam, sgd]
  momentum: {{type: float, low: 0.5, high: 0.9, when: {{optimizer: sgd}}}}
  batch_norm: {{type: bool}}
  dense_units: 64
"""


def test_projection_snaps_clips_and_drops_what_does_not_fit():
    sp = parse_space(SPACE.format(entries="[]"))
    params, dropped = sp.project({"n_blocks": 4, "filters": 56, "optimizer": "adam",
                                  "momentum": 0.99, "batch_norm": True, "dropout": 0.3,
                                  "dense_units": 128})
    # 4 snaps to the step grid (1, 3, 5), 56 to the nearest choice; momentum is inactive
    # under adam, dropout is not in the space, dense_units is fixed: all three left out
    assert params == {"n_blocks": 5, "filters": 64, "optimizer": "adam", "batch_norm": True}
    assert dropped == ["dense_units", "dropout", "momentum"]
    params, _ = sp.project({"optimizer": "sgd", "momentum": 2.0, "filters": "wide"})
    assert params == {"optimizer": "sgd", "momentum": 0.9}  # clipped; a word is no width


@pytest.mark.parametrize("entries, fragments", [
    ("[{n_blocks: 3, dropout: 0.2}]", ["start_from entry 1, param 'dropout'",
                                       "not a param of this space"]),
    ("[{n_blocks: 3}, {n_blocks: 4}]", ["start_from entry 2, param 'n_blocks'",
                                        "4 is outside [1, 5] step 2"]),
    ("[{filters: 48}]", ["param 'filters'", "48 is not one of [16, 32, 64]"]),
    ("[{optimizer: adam, momentum: 0.7}]", ["param 'momentum'", "does not apply"]),
    ("[{batch_norm: 1}]", ["param 'batch_norm'", "must be true or false"]),
    ("[{}]", ["start_from entry 1: is empty"]),
    ("sometimes", ["start_from"]),
])
def test_bad_start_from_entries_name_the_entry_and_the_param(entries, fragments):
    with pytest.raises(SpaceError) as info:
        parse_space(SPACE.format(entries=entries), source="s.yaml")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("space 's.yaml'")
    for f in fragments:
        assert f in msg, msg


def test_good_start_from_entries_are_kept_as_written():
    sp = parse_space(SPACE.format(entries="[{n_blocks: 3, optimizer: sgd, momentum: 0.8}]"))
    assert sp.start_from() == [{"n_blocks": 3, "optimizer": "sgd", "momentum": 0.8}]
