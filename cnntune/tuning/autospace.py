"""The space cnntune picks when none is given, and the configurations it starts a study from.

Pure Python: a ``DataProfile`` (kind, shape, examples, classes) in, YAML text out, so that
`cnntune space show --data SRC` prints exactly what `cnntune search --data SRC` would search,
in a form a user can copy and edit.

How the space follows the data (images of side ``s``, ``n`` training examples):

* depth: enough 2x poolings to bring ``s`` down to about 4 pixels (``log2(s / 4)`` blocks),
  searched one block either side, never below 2 pixels;
* width: the first block's filters are capped so that one epoch's convolutions stay within a
  budget (``n * 9 * s^2 * filters^2`` multiply-adds <= ``EPOCH_MACS``): wide nets on small
  images, narrow ones on large images or many examples;
* batch sizes grow with the number of examples; small images keep the cheap knobs searched
  (batch norm, activation, schedule), larger ones fix them at what works (batch norm, relu,
  cosine) so the budget goes to depth, width, learning rate and regularisation;
* augmentation: small translations for images of 16 pixels and more, horizontal flips offered
  for colour images only (digits and letters are not mirror-symmetric), none for sequences.

``known_good(profile)`` gives the configurations a study starts from (``start_from: auto``):
what worked on data of this shape, as AutoKeras seeds its tuner with initial hyperparameters.
They are knob values, projected onto whatever space the study searches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..catalog import DEFAULT_TASK

EPOCH_MACS = 3e11  # first-block multiply-adds of one epoch, the widest choice's ceiling
SPLIT = {"val_fraction": 0.2, "test_fraction": 0.2}  # the data split every auto space uses
SEED = 0
WIDTHS = (8, 16, 24, 32, 48, 64)  # the widest first-block width is the largest that fits


@dataclass(frozen=True)
class DataProfile:
    kind: str  # image | sequence
    shape: tuple[int, ...]  # one example's shape: (h, w, c) or (steps, channels)
    n_train: int
    classes: int  # the model's outputs: classes, or a regression's targets
    task: str = DEFAULT_TASK

    @classmethod
    def of(cls, dataset) -> DataProfile:
        return cls(dataset.kind, tuple(int(v) for v in dataset.input_shape),
                   len(dataset.train), dataset.num_classes, dataset.task.name)

    @property
    def side(self) -> int:
        """Images: the shorter side; sequences: the number of steps."""
        return min(self.shape[:2]) if self.kind == "image" else self.shape[0]

    @property
    def depth(self) -> int:
        """Blocks that bring the side down to about 4 (pooling halves it each block)."""
        return max(1, min(6, round(math.log2(max(self.side, 4) / 4))))

    @property
    def max_depth(self) -> int:
        """The most blocks that leave at least 2 positions."""
        return max(1, int(math.log2(max(self.side, 2))) - 1)

    @property
    def widths(self) -> list[int]:
        """First-block widths: the widest within the epoch budget, its half and quarter."""
        cap = math.sqrt(EPOCH_MACS / (max(self.n_train, 1) * 9 * self.side ** (
            2 if self.kind == "image" else 1)))
        top = max([w for w in WIDTHS if w <= cap] or [WIDTHS[0]])
        return sorted({w for w in (top // 4, top // 2, top) if w >= WIDTHS[0]})

    @property
    def batch_sizes(self) -> list[int]:
        return [32, 64] if self.n_train < 3000 else [64, 128]

    @property
    def per_pixel(self) -> bool:
        from ..tasks import task

        return task(self.task).per_pixel

    @property
    def unet_depth(self) -> int:
        """The most U-Net levels (up to 4) that the image sides divide into."""
        h, w = self.shape[:2]
        return max(1, max(d for d in range(1, 5) if h % 2 ** d == 0 and w % 2 ** d == 0)
                   if h % 2 == 0 and w % 2 == 0 else 1)

    @property
    def small(self) -> bool:
        """Small inputs (digits-like): cheap enough to search every knob."""
        return self.side <= 12 if self.kind == "image" else self.side <= 64


def auto_space(profile: DataProfile, data: str) -> str:
    """The YAML of the space cnntune searches on data like ``profile`` (``data``: its name,
    written in the header comment only: the space itself names no data)."""
    p = profile
    low, high = max(1, p.depth - 1), max(p.depth, min(p.depth + 1, p.max_depth))
    params: list[tuple[str, str]] = []
    if p.per_pixel:  # a class per pixel: the unet family, whatever the images
        return _yaml(p, data, _unet_params(p))
    if p.kind == "sequence":
        params += [("family", "conv1d")]
    params += [
        ("n_blocks", f"{{type: int, low: {low}, high: {high}}}"),
        ("filters", f"{{type: categorical, choices: {_list(p.widths)}}}"),
        ("filters_growth", "2.0"),
        ("kernel_size", "3" if p.kind == "image" else "{type: categorical, choices: [3, 5, 7]}"),
        ("pooling", "max"),
    ]
    if p.small:
        params += [("activation", "{type: categorical, choices: [relu, gelu]}"),
                   ("batch_norm", "{type: bool}"),
                   ("dropout", "{type: float, low: 0.0, high: 0.4}")]
    else:
        params += [("activation", "relu"), ("batch_norm", "true"),
                   ("dropout", "{type: float, low: 0.0, high: 0.5}")]
    if p.kind == "sequence":
        params += [("head", "{type: categorical, choices: [global_average, global_max]}")]
    elif not p.small:  # textures want a position-free head, objects may want a flat one
        params += [("head", "{type: categorical, choices: [auto, global_average]}")]
    params += [
        ("l2", "{type: float, low: 1.0e-6, high: 1.0e-3, log: true}"),
        ("dense_units", "{type: categorical, choices: [0, 64, 128]}" if p.small
         else "{type: categorical, choices: [0, 128]}"),
        ("optimizer", "adam"),
        ("learning_rate", "{type: float, low: 5.0e-4, high: 1.0e-2, log: true}"),
        ("lr_schedule", "{type: categorical, choices: [cosine, plateau]}" if p.small
         else "cosine"),
        ("batch_size", f"{{type: categorical, choices: {_list(p.batch_sizes)}}}"),
    ]
    if p.kind == "image":
        if p.side < 16:
            params += [("aug_rotation", "{type: float, low: 0.0, high: 0.05}"),
                       ("aug_translation", "{type: categorical, choices: [0.0, 0.1]}")]
        else:
            params += [("aug_translation", "{type: categorical, choices: [0.0, 0.1]}")]
            if p.shape[-1] == 3:
                params += [("aug_flip", "{type: categorical, choices: [none, horizontal]}")]
    return _yaml(p, data, params)


def _yaml(p: DataProfile, data: str, params: list[tuple[str, str]]) -> str:
    epochs, patience = (25, 5) if p.n_train < 3000 else (20, 5)
    shape = "x".join(map(str, p.shape))
    from ..tasks import task

    learn = task(p.task)
    lines = [
        f"# auto: the space cnntune picked for '{data}' ({p.kind}s {shape}, "
        f"{p.n_train} training examples, {p.classes} {_plural(learn.output_word)}).",
        "# Copy it to a file, edit it, and pass it with --space FILE.",
        "name: auto",
        f"description: picked for {p.kind}s of {shape}, {p.n_train} examples",
        f"task: {learn.name}",
        "data: {" + ", ".join(f"{k}: {v}" for k, v in SPLIT.items()) + "}",
        f"training: {{epochs: {epochs}, patience: {patience}, "
        f"objective: {learn.default_objective}, seed: {SEED}}}",
        "search: {engine: optuna, algorithm: tpe, pruner: median, trials: 15}",
        "# the first trials: cnntune's known-good configurations for this shape (auto), a list",
        "# of {param: value} mappings, or [] for none",
        "start_from: auto",
        "params:",
    ]
    lines += [f"  {name}: {value}" for name, value in params]
    return "\n".join(lines) + "\n"


def _unet_params(p: DataProfile) -> list[tuple[str, str]]:
    """A segmentation's space: U-Nets as deep as the image sides divide (2-4 levels)."""
    return [
        ("family", "unet"),
        ("n_blocks", f"{{type: int, low: {min(2, p.unet_depth)}, high: {p.unet_depth}}}"),
        ("filters", "{type: categorical, choices: [8, 16, 32]}"),
        ("filters_growth", "2.0"),
        ("kernel_size", "3"),
        ("activation", "relu"),
        ("batch_norm", "true"),
        ("dropout", "{type: float, low: 0.0, high: 0.3}"),
        ("upsampling", "{type: categorical, choices: [transpose, bilinear]}"),
        ("skips", "{type: categorical, choices: [concat, add]}"),
        ("l2", "{type: float, low: 1.0e-6, high: 1.0e-3, log: true}"),
        ("optimizer", "adam"),
        ("learning_rate", "{type: float, low: 5.0e-4, high: 1.0e-2, log: true}"),
        ("lr_schedule", "cosine"),
        ("batch_size", "{type: categorical, choices: [16, 32]}"),
        ("aug_flip", "{type: categorical, choices: [none, horizontal]}"),
    ]


def known_good(profile: DataProfile) -> list[dict[str, Any]]:
    """Configurations that worked on data of this shape, best first (knob values)."""
    p = profile
    if p.per_pixel:  # the shipped segmentation space's warm start
        return [{"family": "unet", "n_blocks": min(3, p.unet_depth), "filters": 16,
                 "upsampling": "transpose", "skips": "concat", "dropout": 0.1,
                 "learning_rate": 3e-3, "batch_size": 16}]
    if p.kind == "sequence":
        return [{"family": "conv1d", "n_blocks": p.depth, "filters": 32, "kernel_size": 5,
                 "batch_norm": True, "head": "global_average", "dropout": 0.2,
                 "dense_units": 0, "learning_rate": 3e-3, "lr_schedule": "cosine",
                 "batch_size": 32}]
    if p.small:  # digits-like: two blocks, measured at 0.98-0.99 test accuracy on digits
        return [{"n_blocks": 2, "filters": 32, "batch_norm": True, "activation": "relu",
                 "dropout": 0.2, "l2": 1e-5, "dense_units": 128, "learning_rate": 3e-3,
                 "lr_schedule": "cosine", "batch_size": 32, "aug_rotation": 0.02,
                 "aug_translation": 0.1}]
    # larger images: a batch-norm CNN one block deeper than `depth` (down to 2 pixels), a
    # global-average head, cosine decay. Measured on 2 cores: textures (48x48x1, 4,800
    # training images) 0.88 validation accuracy at epoch 15 (146 s) with 24 filters, 0.83 in
    # 20 epochs (79 s) with 12; with a flat head, a dense layer of 128 and translations it
    # stalled at 0.29. On shapes (32x32x3, 6,000) 4 blocks of 32 reached 0.93 test accuracy
    # in 12 epochs (~230 s), 3 blocks 0.88-0.91.
    width = p.widths[-2] if len(p.widths) > 1 else p.widths[-1]
    deep = min(p.depth + 1, p.max_depth)
    common = {"n_blocks": deep, "batch_norm": True, "activation": "relu",
              "head": "global_average", "dropout": 0.1, "l2": 1e-5, "dense_units": 0,
              "learning_rate": 5e-3, "lr_schedule": "cosine", "batch_size": 128}
    # the narrow one first: a quarter of the cost, so a good model within a minute or two
    # (measured on shapes, seed 0: the wide one alone took 163 s to 0.957 test accuracy, a
    # hand-written Optuna loop 144 s to 0.888); then the wide one
    if width > p.widths[0]:
        return [{**common, "filters": max(8, width // 2)}, {**common, "filters": width}]
    # where the narrow one is the wide one (many examples: widths of 12 and 24 at 28x28 x
    # 48,000), the starts differ in their head instead, and the widest, flattened (maps of
    # <= 16 positions) into a dense layer of 128, goes first. Digits and other shape-placed
    # content need where a feature is, which a global average drops: on digits28-writers
    # (48,000 28x28 warped digits, validation and test from other writers) it alone reached
    # 0.9936 test accuracy in 300 s, against 0.9882-0.9893 for the global-average start and
    # 0.9889-0.9907 for keras.io's MNIST convnet; second, after the global-average start (which
    # early-stopped at 90-174 s), it had 114-183 s and reached 0.9870-0.9940 (3 seeds,
    # benchmarks/deadlines.py --recipe)
    return [{**common, "filters": p.widths[-1], "head": "auto", "dense_units": 128,
             "dropout": 0.3, "aug_translation": 0.1},
            {**common, "filters": width}]


def _plural(word: str) -> str:
    return word + ("es" if word.endswith("s") else "s")


def _list(values) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"
