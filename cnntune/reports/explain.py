"""`cnntune explain`: what the best model looks at.

* Grad-CAM (as HiResCAM): the gradient of the class logit with respect to the last spatial
  feature map (found automatically: the last layer with a spatial output that is not a
  pooling layer, so it works for every family, the transfer backbone included), times that
  map, summed over channels at each position: a coarse class map, upsampled to the input size.
  With a globally pooled head this is Grad-CAM itself; with a flattened one, Grad-CAM's
  per-channel averages can cancel out, which this does not.
* Saliency: the absolute gradient of the class logit with respect to the input (max over
  channels): a map with the input's height and width.
* Activations: the feature maps of the first and the last conv block for one image.

Logits are taken before the softmax (the classifier's kernel and bias applied to its input),
as Grad-CAM prescribes: probability gradients vanish once a model is confident. A regression
is explained through one target's standardised output (the regressor's kernel and bias):
what raises the predicted value. A user's own model (a space's builder or hypermodel) has
no such layer: it is explained through its outputs, read inside it behind cnntune's input
layers, with its own last conv layer's maps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..catalog import EXPLAIN_METHODS as METHODS
from ..errors import ConfigError


def spatial_layers(model) -> list:
    """Layers with a spatial output (images: rank 4, sequences: rank 3), in graph order."""
    import keras

    rank = len(model.input_shape)
    return [layer for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer) and _rank(layer) == rank
            and not layer.name.startswith(("rescale", "aug_", "standardise", "resize",
                                           "to_rgb", "backbone_range"))]


def last_conv_layer(model):
    layers = spatial_layers(model)
    if not layers:
        raise ConfigError(f"model '{model.name}' has no spatial feature map to explain")
    for layer in reversed(layers):
        if "pool" not in layer.name and "sdrop" not in layer.name:
            return layer
    return layers[-1]


def _output(model, layer):
    """``layer``'s output in ``model``'s graph. A nested model (the transfer backbone) reports
    its own inner output tensor, so take the input of the layer that consumes it instead."""
    import keras

    if isinstance(layer, keras.Model):
        following = model.layers[model.layers.index(layer) + 1]
        return following.input
    return layer.output


def _rank(layer) -> int | None:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):
        return None


class _Explained:
    """What explain reads of a model: the feature maps of its last conv layer (``layer``) and
    the scores it explains, one per output: the logits of its last dense layer
    (``classifier``, ``regressor`` in cnntune's families: ``tasks``). A user's builder model
    (nested in cnntune's input layers, ``models.builder``; or a hypermodel's, as it is) is
    read inside, behind the input layers: the logits of its last layer when that is dense,
    else its outputs themselves."""

    def __init__(self, model):
        import keras

        self.model = model
        self.dense = next((layer for layer in model.layers
                           if layer.name in ("classifier", "regressor")), None)
        self.net, self.front = model, []
        if self.dense is None:
            last = model.layers[-1]
            if isinstance(last, keras.Model):  # a builder's, behind cnntune's input layers
                self.net = last
                self.front = [layer for layer in model.layers[:-1]
                              if not isinstance(layer, keras.layers.InputLayer)]
            end = self.net.layers[-1]  # a last dense layer of any name gives its logits
            if isinstance(end, keras.layers.Dense):
                self.dense = end
        self.layer = None

    def run(self, x, maps: bool = False):
        """(feature maps or None, scores, probabilities) for ``x``."""
        import keras
        import tensorflow as tf

        if maps and self.layer is None:
            self.layer = last_conv_layer(self.net)
        h = self._through_front(x)
        if self.dense is not None:
            feats = [_output(self.net, self.layer)] if maps else []
            sub = keras.Model(self.net.inputs[0], [*feats, self.dense.input])
            outs = sub(h, training=False)
            outs = outs if isinstance(outs, list | tuple) else [outs]
            logits = tf.matmul(outs[-1], self.dense.kernel) + self.dense.bias
            return (outs[0] if maps else None), logits, tf.nn.softmax(logits)
        if maps:
            sub = keras.Model(self.net.inputs[0], [_output(self.net, self.layer),
                                                   self.net.outputs[0]])
            fmap, out = sub(h, training=False)
        else:
            fmap, out = None, self.net(h, training=False)
        return fmap, out, out

    def _through_front(self, x):
        """``x`` through cnntune's input layers in front of a builder's model (none else)."""
        for layer in self.front:
            x = layer(x, training=False)
        return x

    def maps_of(self, x1):
        """The first and the last conv layer's maps for one input: name -> (*spatial, c)."""
        import keras

        layers = [layer for layer in spatial_layers(self.net) if "pool" not in layer.name]
        if not layers:
            return {}
        picks = [layers[0]] if len(layers) == 1 else [layers[0], last_conv_layer(self.net)]
        sub = keras.Model(self.net.inputs[0], [_output(self.net, layer) for layer in picks])
        outs = sub(self._through_front(np.asarray(x1[None], dtype="float32")), training=False)
        outs = outs if isinstance(outs, list | tuple) else [outs]
        return {layer.name: np.asarray(o)[0] for layer, o in zip(picks, outs)}


def gradcam(model, x: np.ndarray, classes: np.ndarray | None = None) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    """Grad-CAM maps (n, *spatial input shape) in [0, 1] for ``classes`` (default: the
    predicted ones), and the class probabilities."""
    import tensorflow as tf

    explained = _Explained(model)
    x = tf.convert_to_tensor(np.asarray(x, dtype="float32"))
    with tf.GradientTape() as tape:
        fmap, scores, probs = explained.run(x, maps=True)
        tape.watch(fmap)
        cls = tf.argmax(scores, axis=1) if classes is None else tf.constant(classes)
        score = tf.gather(scores, cls, axis=1, batch_dims=1)
    grads = tape.gradient(score, fmap)
    # HiResCAM: each position's own gradient times its activation, summed over channels.
    # Where the head pools globally this is Grad-CAM (every position has the same gradient,
    # its per-channel mean); where it flattens, Grad-CAM's channel means can cancel out to
    # an empty map, and this stays faithful to what the dense layer reads at each position
    cam = tf.nn.relu(tf.reduce_sum(grads * fmap, axis=-1)).numpy()
    spatial = tuple(x.shape[1:-1])
    return np.stack([_resize(c, spatial) for c in cam]), np.asarray(probs)


def saliency(model, x: np.ndarray, classes: np.ndarray | None = None) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """|d score / d input|, max over channels: (n, *spatial input shape) in [0, 1]."""
    import tensorflow as tf

    explained = _Explained(model)
    x = tf.convert_to_tensor(np.asarray(x, dtype="float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        _, scores, probs = explained.run(x)
        cls = tf.argmax(scores, axis=1) if classes is None else tf.constant(classes)
        score = tf.gather(scores, cls, axis=1, batch_dims=1)
    grads = tf.reduce_max(tf.abs(tape.gradient(score, x)), axis=-1).numpy()
    return np.stack([_norm(g) for g in grads]), np.asarray(probs)


def activations(model, x1: np.ndarray) -> dict[str, np.ndarray]:
    """Feature maps of the first and the last conv block for one input: name -> (*spatial,
    channels)."""
    return _Explained(model).maps_of(x1)


def _norm(a: np.ndarray) -> np.ndarray:
    a = a - a.min()
    top = a.max()
    return a / top if top > 0 else a


def _resize(cam: np.ndarray, shape: tuple) -> np.ndarray:
    """Bilinear upsampling of a coarse map (1D or 2D) to ``shape``, normalised to [0, 1]."""
    cam = _norm(cam.astype("float64"))
    if cam.shape == shape:
        return cam
    if cam.ndim == 1:
        src = np.linspace(0, 1, cam.shape[0])
        return _norm(np.interp(np.linspace(0, 1, shape[0]), src, cam))
    import tensorflow as tf

    up = tf.image.resize(cam[..., None], shape, method="bilinear").numpy()[..., 0]
    return _norm(up)


# ------------------------------------------------------------------------------ the command


def explain_study(study: str, *, tracking_uri: str, out: str | Path, method: str = "gradcam",
                  trial: int | None = None, images=None, n: int = 16,
                  log_to_mlflow: bool = True) -> dict:
    """Write the ``method`` grid and the activation view of a trial's model; return paths."""
    from .._quiet import import_tensorflow_quietly
    from ..tracking.studies import StudyView

    if method not in METHODS:
        raise ConfigError(f"method '{method}' is unknown; use one of {', '.join(METHODS)}")
    if n < 1:
        raise ConfigError(f"--n must be >= 1, got {n}")
    view = StudyView(study, tracking_uri)
    t = view.trial(trial) if trial is not None else view.best()
    meta = view.data_spec
    import_tensorflow_quietly()
    model = view.load_model(t)
    names = meta["class_names"]
    task = view.task
    data = view.load_data()
    if images:
        from ..deploy.predict import read_inputs

        scale = float(meta["prep"].get("scale", 1 / 255))
        labels_txt, x = read_inputs(images, meta["input_shape"], 1.0 / 255.0 / scale)
        y = None
        captions = [Path(s).name for s in labels_txt]
    else:
        idx = spread(task.strata(data.test.y), n)
        x, y = data.test.images(idx).astype("float32"), data.test.y[idx]
        captions = [f"test #{i}" for i in idx]
    # what each task explains (Task.explained): a classification each example's predicted
    # class, a regression its first target, a multi-label model each label it predicts
    preds = np.asarray(model.predict(x, verbose=0))
    rows, outputs, titles = task.explained(preds, y, names, task.decide(model, data.val))
    x, captions = x[rows], [captions[i] for i in rows]
    y = None if y is None else y[rows]
    maps, probs = (gradcam if method == "gradcam" else saliency)(model, x, outputs)
    if titles is not None:
        titles = [f"{t}\n{c}" for t, c in zip(titles, captions)]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scale = float(meta["prep"].get("scale", 1.0))
    grid = out / f"{method}.png"
    what = task.explains.format(first=names[0])
    grid_png(grid, x * scale if meta.get("kind") != "sequence" else x, maps, probs, y, names,
             captions, f"{method}{what} - study {study}, trial {t.number}", titles)
    acts = out / "activations.png"
    _activations_png(acts, activations(model, x[0]), f"feature maps of {captions[0]}")
    if log_to_mlflow:
        view.attach(t.run_id, str(grid), "explain")
        view.attach(t.run_id, str(acts), "explain")
    return {"grid": grid, "activations": acts, "trial": t.number, "run_id": t.run_id}


def spread(y: np.ndarray, n: int) -> np.ndarray:
    """Up to n test indices, round-robin over the classes so that every class shows."""
    by_class = [np.flatnonzero(y == c) for c in np.unique(y)]
    picks, k = [], 0
    while len(picks) < min(n, len(y)):
        for idx in by_class:
            if k < len(idx) and len(picks) < n:
                picks.append(int(idx[k]))
        k += 1
    return np.array(sorted(picks))


def grid_png(path, x, maps, probs, y, names, captions, title, titles=None) -> None:
    """Examples in a grid (8 a row) titled with the true and the predicted class (or
    ``titles``); ``maps`` (Grad-CAM or saliency, or None) over each. ``path`` is a file name
    or a binary file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(x)
    cols = min(8, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.1 * cols, 2.8 * rows), squeeze=False)
    pred = probs.argmax(1)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = x[i]
        if img.ndim == 2:  # a sequence: the values with the map underneath
            ax.axis("on")
            if maps is not None:
                ax.imshow(maps[i][None], aspect="auto", cmap="jet", alpha=0.45,
                          extent=(0, len(img), img.min(), img.max()))
            ax.plot(img, color="black", linewidth=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            ax.imshow(np.clip(img[..., 0] if img.shape[-1] == 1 else img, 0, 1),
                      cmap="gray" if img.shape[-1] == 1 else None, interpolation="nearest")
            if maps is not None:
                ax.imshow(maps[i], cmap="jet", alpha=0.45, interpolation="bilinear")
        if titles is not None:
            ax.set_title(titles[i], fontsize=7)
            continue
        truth = f"true {names[y[i]]} / " if y is not None else ""
        ok = y is None or y[i] == pred[i]
        ax.set_title(f"{truth}pred {names[pred[i]]} ({probs[i, pred[i]]:.2f})\n{captions[i]}",
                     fontsize=7, color="black" if ok else "red")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def _activations_png(path, maps: dict, title: str, per_layer: int = 16) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not maps:
        return
    rows = len(maps)
    fig, axes = plt.subplots(rows, per_layer, figsize=(per_layer * 0.9, 1.3 * rows + 0.4),
                             squeeze=False)
    for r, (name, fmap) in enumerate(maps.items()):
        for c in range(per_layer):
            ax = axes[r, c]
            ax.axis("off")
            if c >= fmap.shape[-1]:
                continue
            m = fmap[..., c]
            if m.ndim == 1:
                ax.plot(m, linewidth=0.6)
            else:
                ax.imshow(m, cmap="viridis", interpolation="nearest")
            if c == 0:
                ax.set_title(f"{name} ({fmap.shape[-1]} maps)", fontsize=7, loc="left")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
