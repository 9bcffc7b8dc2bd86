"""A segmentation search from the shipped space to a verified export: the unet family on the
generated scenes set logs mean IoU, Dice and each class's IoU, the export's masks agree with
the Keras model's pixel for pixel, predict writes masks and overlays, the report draws them,
commands that do not apply say so, and augmentation moves each mask with its image."""

import json

import numpy as np
import pytest

from cnntune.deploy.export import export_study
from cnntune.deploy.predict import predict_files
from cnntune.errors import NotApplicable

from .shipped import import_example, one_trial_study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return one_trial_study(tmp_path_factory.mktemp("segmentation"), "segmentation", "seg",
                           objective="val_mean_iou", task="segmentation")


def test_the_figures_are_the_logged_models_per_pixel(study):
    from cnntune.reports.tables import trials_frame

    view = study["view"]
    df = trials_frame(view)
    assert {"val_mean_iou", "val_dice", "test_mean_iou", "test_dice"} <= set(df.columns)
    best = view.best()
    data = view.load_data()
    assert data.class_names[0] == "background" and len(data.class_names) == 6
    model = view.load_model(best)
    probs = np.asarray(model.predict(data.test.x.astype("float32"), verbose=0))
    assert probs.shape == (*data.test.y.shape, 6)
    scores = data.task.label_scores(data.test.y, probs.argmax(-1), "test_")
    for k in ("test_mean_iou", "test_dice", "test_fg_mean_iou", "test_fg_dice",
              "test_pixel_accuracy"):
        assert best.metrics[k] == pytest.approx(scores[k], abs=1e-6)
    # the per-epoch figures Keras measured (cnntune's metric) are those of the kept weights
    val = np.asarray(model.predict(data.val.x.astype("float32"), verbose=0)).argmax(-1)
    again = data.task.label_scores(data.val.y, val, "val_")
    for k in ("val_mean_iou", "val_dice", "val_fg_mean_iou", "val_fg_dice",
              "val_pixel_accuracy"):
        assert best.metrics[k] == pytest.approx(again[k], abs=1e-4)
    assert 0 <= best.metrics["test_iou_background"] <= 1 and "test_iou_ring" in best.metrics
    # the logged confusion matrix counts the test split's pixels, true x predicted
    cm = json.loads(open(view.client.download_artifacts(best.run_id,
                                                         "confusion_test.json")).read())
    assert np.asarray(cm["matrix"]).sum() == data.test.y.size
    assert best.metrics["test_mean_iou"] > 0.2  # two epochs learn the background at least


def test_the_export_agrees_pixel_for_pixel_and_predict_writes_masks(study, tmp_path):
    from PIL import Image

    rep = export_study("seg", fmt="tflite", out=tmp_path / "exp", tracking_uri=study["uri"])
    assert rep.passed and rep.metric == "mean_iou" and "pixels agreeing" in rep.tolerance
    data = study["view"].load_data()
    np.savez(tmp_path / "few.npz", x=data.test.x[:2])
    table = predict_files(tmp_path / "exp", [tmp_path / "few.npz"],
                          masks_dir=tmp_path / "masks")
    assert list(table.columns[:2]) == ["input", "mask"]
    assert table[[f"share_{n}" for n in data.class_names]].sum(axis=1).round(6).eq(1).all()
    keras = study["view"].load_model(study["view"].best()).predict(
        data.test.x[:2].astype("float32"), verbose=0).argmax(-1)
    for path, want in zip(table["mask"], keras):
        assert (np.asarray(Image.open(path)) == want).mean() > 0.999
    assert len(list((tmp_path / "masks").glob("*_overlay.png"))) == 2
    # retrained on train + validation, the .keras file loads back and is verified with it
    rep = export_study("seg", fmt="keras", out=tmp_path / "re", tracking_uri=study["uri"],
                       retrain=True)
    assert rep.passed and rep.retrained


def test_report_draws_masks_and_what_does_not_apply_says_so(study, tmp_path):
    from cnntune.reports.explain import explain_study
    from cnntune.reports.report import build_report
    from cnntune.tuning.baselines import run_baselines

    _, sections = build_report("seg", tracking_uri=study["uri"], out=tmp_path / "r.html",
                               log_to_mlflow=False)
    assert any("test IoU per class" in s for s in sections)
    assert any("true and predicted masks" in s for s in sections)
    with pytest.raises(NotApplicable, match="output is itself a map"):
        explain_study("seg", tracking_uri=study["uri"], out=tmp_path / "x",
                      log_to_mlflow=False)
    assert not (tmp_path / "x").exists()
    with pytest.raises(NotApplicable, match="no classical baseline fits task segmentation"):
        run_baselines(study["view"].load_data())


def test_keras_leaves_void_pixels_out_of_the_loss_and_the_epoch_scores():
    from cnntune.knobs import resolve
    from cnntune.models import build_model
    from cnntune.tasks import VOID, task

    seg = task("segmentation")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, (4, 8, 8)).astype("uint8")
    model = build_model(resolve({"family": "unet", "n_blocks": 1, "filters": 4}), (8, 8, 1),
                        3, {"scale": 1.0, "classes": 3}, "segmentation")
    loss, metrics = seg.compile_args({}, {"classes": 3})
    model.compile("adam", loss, metrics=metrics)
    probs = np.asarray(model.predict(x, verbose=0))
    void = y.copy()
    void[:, :4] = VOID  # half of every mask is of no class
    got = model.evaluate(x, void, verbose=0, return_dict=True)
    want = seg.score(model, void, probs, "", {}, {})
    for k in ("loss", "mean_iou", "dice", "fg_mean_iou", "pixel_accuracy"):
        assert got[k] == pytest.approx(want[k], abs=1e-4), k
    half = seg.score(model, y[:, 4:], probs[:, 4:], "", {}, {})  # the labelled half alone
    assert want["mean_iou"] == pytest.approx(half["mean_iou"])
    assert np.isfinite(model.train_on_batch(x, void)).all()


def test_augmentation_moves_each_mask_with_its_image():
    import tensorflow as tf

    from cnntune import knobs
    from cnntune.models.augment import paired_augmentation

    rng = np.random.default_rng(0)
    # blocks of 4x4 pixels of one class: inside a block, interpolation changes nothing
    masks = np.kron(rng.integers(0, 4, (8, 4, 4)), np.ones((1, 4, 4))).astype("uint8")
    images = np.repeat(masks[..., None] * 60.0, 3, axis=-1).astype("float32")
    flip = paired_augmentation(knobs.resolve({"aug_flip": "horizontal_and_vertical"}))
    x, m = flip(tf.constant(images), tf.constant(masks))
    x, m = np.asarray(x), np.asarray(m)
    assert m.dtype == np.uint8 and np.array_equal(x[..., 0], m * 60.0)
    assert not np.array_equal(m, masks)  # some were flipped
    import keras

    keras.utils.set_random_seed(0)  # small draws would leave the masks almost where they were
    turn = paired_augmentation(knobs.resolve({"aug_rotation": 0.1, "aug_zoom": 0.1}))
    x, m = (np.asarray(t) for t in turn(tf.constant(images), tf.constant(masks)))
    # images are interpolated, masks nearest: the class an image's pixel is nearest agrees
    # with the moved mask (0.94 at this seed), far more than with the mask before the move
    # (0.69)
    code = np.round(x[..., 0] / 60.0)
    assert (code == m).mean() > 0.85 and (code == m).mean() > (code == masks).mean() + 0.2
    assert paired_augmentation(knobs.resolve({})) is None


def test_the_example_segments_its_own_npz_and_predicts_new_images(tmp_path):
    from pathlib import Path

    segmentation = import_example("segmentation")
    result, report, table = segmentation.main(n=160, trials=1, epochs=1, workdir=tmp_path,
                                              isolate=False)
    assert result.task == "segmentation" and report.passed
    assert len(table) == 4 and all(Path(p).exists() for p in table["mask"])
    assert "share_ring" in table.columns  # the class names the npz gave
