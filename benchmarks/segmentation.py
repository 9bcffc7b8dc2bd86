"""Segmentation: does a search beat one hand-written U-Net trained for the same time?

On the generated scenes set (1,200 colour 32x32 images of up to five kinds of shape on a
noisy background, masks of which kind each pixel shows; `cnntune.data.sources.make_scenes`),
side by side in one invocation, on the same train/val/test split (the shipped space's):

  * cnntune     `cnntune search --space segmentation --timeout T --seed K`, one search a seed
  * keras-unet  the U-Net of Keras' own segmentation example ("Image segmentation with a
                U-Net-like architecture", oxford_pets_image_segmentation.py) with its
                settings: an Xception-style encoder (a strided entry conv, three blocks of
                separable convs with residual projections), a transposed-conv decoder with
                residual upsampling, a 3x3 softmax; RMSprop at Keras' default rate, sparse
                cross-entropy, batch 32, raw pixel values in, the best epoch by validation
                loss kept (its ModelCheckpoint); trained for the same T seconds

Both are scored on the test split by mean IoU over the classes present (background
included), Dice and pixel accuracy, computed the same way (``cnntune.tasks.mask_scores``).

    PYTHONPATH=. .venv/bin/python benchmarks/segmentation.py [--timeout 600] [--seeds 0]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time


def search(seed: int, timeout: float) -> dict:
    import cnntune

    with tempfile.TemporaryDirectory(prefix="cnntune-seg-") as d:
        t0 = time.perf_counter()
        res = cnntune.search("segmentation", study=f"seg-{seed}", timeout=timeout, seed=seed,
                             storage=f"sqlite:///{d}/o.db", tracking_uri=f"sqlite:///{d}/m.db")
        wall = time.perf_counter() - t0
    m = res.best.metrics
    return {"model": "cnntune", "seed": seed, "trials": sum(res.counts.values()),
            "wall": wall, **{k: m[f"test_{k}"] for k in ("mean_iou", "dice",
                                                       "pixel_accuracy")}}


def example_unet(shape, classes: int):
    """The Keras example's model, for ``shape`` inputs."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=shape)
    x = layers.Conv2D(32, 3, strides=2, padding="same")(inputs)
    x = layers.Activation("relu")(layers.BatchNormalization()(x))
    previous = x
    for filters in (64, 128, 256):
        for _ in range(2):
            x = layers.Activation("relu")(x)
            x = layers.BatchNormalization()(layers.SeparableConv2D(filters, 3,
                                                                   padding="same")(x))
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = layers.add([x, layers.Conv2D(filters, 1, strides=2, padding="same")(previous)])
        previous = x
    for filters in (256, 128, 64, 32):
        for _ in range(2):
            x = layers.Activation("relu")(x)
            x = layers.BatchNormalization()(layers.Conv2DTranspose(filters, 3,
                                                                   padding="same")(x))
        x = layers.UpSampling2D(2)(x)
        residual = layers.Conv2D(filters, 1, padding="same")(layers.UpSampling2D(2)(previous))
        x = layers.add([x, residual])
        previous = x
    outputs = layers.Conv2D(classes, 3, activation="softmax", padding="same")(x)
    return keras.Model(inputs, outputs)


def keras_unet(data, seed: int, timeout: float) -> dict:
    import keras

    from cnntune.tasks import confusion, mask_scores

    t0 = time.perf_counter()
    keras.utils.set_random_seed(seed)
    model = example_unet(data.input_shape, data.num_classes)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    x, y = data.train.x.astype("float32"), data.train.y
    val = (data.val.x.astype("float32"), data.val.y)
    best, best_weights, epochs = float("inf"), None, 0
    while time.perf_counter() - t0 < timeout:
        h = model.fit(x, y, batch_size=32, epochs=1, validation_data=val, verbose=0)
        epochs += 1
        if h.history["val_loss"][-1] < best:
            best, best_weights = h.history["val_loss"][-1], model.get_weights()
    model.set_weights(best_weights)
    pred = model.predict(data.test.x.astype("float32"), verbose=0).argmax(-1)
    cm = confusion(data.test.y.reshape(-1), pred.reshape(-1), data.num_classes)
    return {"model": "keras-unet", "seed": seed, "trials": 1, "epochs": epochs,
            "wall": time.perf_counter() - t0, **mask_scores(cm)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args()

    from cnntune.data import load_dataset
    from cnntune.space import load_space

    sp = load_space("segmentation")
    data = load_dataset(sp.data.source, None, seed=sp.training.seed, task=sp.spec.task,
                        **sp.data.load_kwargs())
    runs = []
    for seed in args.seeds:
        runs.append(search(seed, args.timeout))
        runs.append(keras_unet(data, seed, args.timeout))
    print(f"\nscenes, test split ({len(data.test)} images, {data.num_classes} classes), "
          f"{args.timeout:.0f}s each\n")
    print("| model | seed | trials | wall s | test mean IoU | test Dice | pixel accuracy |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in runs:
        print(f"| {r['model']} | {r['seed']} | {r['trials']} | {r['wall']:.0f} | "
              f"{r['mean_iou']:.4f} | {r['dice']:.4f} | {r['pixel_accuracy']:.4f} |")
    for name in ("cnntune", "keras-unet"):
        ious = [r["mean_iou"] for r in runs if r["model"] == name]
        print(f"{name}: test mean IoU median {statistics.median(ious):.4f}, worst "
              f"{min(ious):.4f} over {len(ious)} seed(s)")
    gap = [a["mean_iou"] - b["mean_iou"] for a, b in zip(runs[::2], runs[1::2])]
    print(f"cnntune - keras-unet, per seed: {', '.join(f'{g:+.4f}' for g in gap)}")


if __name__ == "__main__":
    main()
