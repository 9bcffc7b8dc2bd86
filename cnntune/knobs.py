"""The knobs a trial understands: their names, defaults and allowed values.

This is the vocabulary shared by search-space files (which may search any knob) and the model
builder and trainer (which read every knob, falling back to the default). It is pure Python so
that `cnntune space validate` can reject a misspelt knob or an impossible choice without
importing TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .catalog import REGRESSION_LOSSES


@dataclass(frozen=True)
class Knob:
    name: str
    default: Any
    kind: type  # int, float, str or bool: the type a value must have
    help: str
    choices: tuple | None = None  # allowed values for string knobs
    minimum: float | None = None
    maximum: float | None = None

    def check(self, value: Any) -> str | None:
        """Return why ``value`` is not allowed for this knob, or None when it is."""
        if self.kind is bool:
            if not isinstance(value, bool):
                return f"must be true or false, got {value!r}"
            return None
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                return f"must be an integer, got {value!r}"
        elif self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"must be a number, got {value!r}"
        elif self.kind is str:
            if not isinstance(value, str):
                return (f"must be one of {', '.join(self.choices)}, got {value!r}"
                        if self.choices else f"must be a string, got {value!r}")
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))}, got {value!r}"
        if self.minimum is not None and value < self.minimum:
            return f"must be >= {self.minimum}, got {value!r}"
        if self.maximum is not None and value > self.maximum:
            return f"must be <= {self.maximum}, got {value!r}"
        return None


ACTIVATIONS = ("relu", "elu", "gelu", "swish", "selu", "tanh", "leaky_relu")
POOLINGS = ("max", "average", "none")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "nadam")
FLIPS = ("none", "horizontal", "vertical", "horizontal_and_vertical")
UPSAMPLINGS = ("transpose", "bilinear")
SKIPS = ("concat", "add")
LR_SCHEDULES = ("constant", "cosine", "plateau")
HEADS = ("auto", "flatten", "global_average", "global_max")
BACKBONES = ("mobilenetv2", "efficientnetb0", "resnet50v2")
# the unet's encoder: its own conv levels, or a backbone
ENCODERS = ("own", *BACKBONES)

TRAINING = {"optimizer", "learning_rate", "lr_schedule", "momentum", "weight_decay",
            "batch_size", "label_smoothing", "loss", "jit_compile", "mixed_precision", "ema"}
AUGMENT = {"aug_flip", "aug_rotation", "aug_translation", "aug_zoom", "aug_contrast",
           "aug_randaugment", "aug_randaugment_magnitude", "aug_erasing", "aug_augmix"}
# what changes an image's pixels but not where things are: no mask needs to move with it
_PIXEL_ONLY = {"aug_contrast", "aug_randaugment", "aug_randaugment_magnitude", "aug_erasing",
               "aug_augmix"}
# what mixes a batch's examples and their labels (in the training pipeline, not the model:
# exports never carry it); the tasks whose labels can be mixed read these (Task.knobs)
MIXING = frozenset({"aug_mixup", "aug_cutmix"})
# the two-phase fine-tuning of a backbone with kept weights (models.backbones)
FINETUNE = {"finetune_epochs", "finetune_lr_factor"}
# what cnntune reads of a trial whose model a user's builder makes (models.builder): it trains
# the model and augments its inputs; every other param is the builder's to read
AROUND_MODEL = TRAINING | AUGMENT | MIXING
_HEAD = {"head", "dropout", "dense_units", "activation", "l1", "l2"}
_STACK = {"n_blocks", "convs_per_block", "filters", "filters_growth", "kernel_size", "pooling",
          "batch_norm", "spatial_dropout", "se_ratio"}
_ATTENTION = {"patch_size", "attn_dim", "attn_heads", "attn_blocks"}


@dataclass(frozen=True)
class Family:
    """An architecture family: the module that builds it (``build(knobs, input_shape, output,
    prep)``), the knobs it reads besides ``family`` itself, what its inputs are (images
    (height, width, channels) or sequences (steps, channels)), and whether it decodes back
    to the input's size (a class per pixel: segmentation)."""

    name: str
    uses: frozenset[str]
    takes: str = "image"
    decodes: bool = False

    @property
    def module(self) -> str:
        return f"cnntune.models.{self.name}"

    @property
    def rank(self) -> int:
        """The rank of one input it takes."""
        return 2 if self.takes == "sequence" else 3


# every family, by the family knob's names; the family knob's choices are these
FAMILY: dict[str, Family] = {f.name: f for f in (
    Family("plain", frozenset(TRAINING | AUGMENT | MIXING | _HEAD | _STACK)),
    Family("resnet", frozenset(TRAINING | AUGMENT | MIXING | _HEAD
                               | (_STACK - {"convs_per_block", "pooling"})
                               | {"res_units", "preactivation", "drop_path"})),
    Family("separable", frozenset(TRAINING | AUGMENT | MIXING | _HEAD | _STACK
                                  | {"width_multiplier"})),
    Family("conv1d", frozenset(TRAINING | MIXING | _HEAD | _STACK), takes="sequence"),
    Family("hybrid", frozenset(TRAINING | AUGMENT | MIXING | _HEAD | _STACK | _ATTENTION)),
    Family("transfer", frozenset(TRAINING | AUGMENT | MIXING | _HEAD | FINETUNE | {
        "backbone", "backbone_weights", "unfreeze", "transfer_size"})),
    # augmentation moves masks with images (nothing that cannot move a mask: contrast,
    # RandAugment's mixed ops, erasing); dropout: spatial, at the bottleneck
    Family("unet", frozenset(TRAINING | (AUGMENT - _PIXEL_ONLY) | {
        "n_blocks", "filters", "filters_growth", "kernel_size", "batch_norm", "activation",
        "dropout", "l1", "l2", "upsampling", "skips", "encoder", "backbone_weights",
        "unfreeze"}), decodes=True),
)}
FAMILIES = tuple(FAMILY)
# the families with a decoder back to the input's size: a class per pixel (segmentation)
DECODERS = tuple(n for n, f in FAMILY.items() if f.decodes)

_KNOBS = [
    Knob("family", "plain", str, "architecture family", choices=FAMILIES),
    # architecture
    Knob("n_blocks", 2, int, "number of conv blocks (depth)", minimum=1, maximum=12),
    Knob("convs_per_block", 1, int, "conv layers in each block", minimum=1, maximum=6),
    Knob("filters", 32, int, "filters of the first block", minimum=1, maximum=4096),
    Knob("filters_growth", 2.0, float, "filters multiply by this per block", minimum=0.25,
         maximum=4.0),
    Knob("kernel_size", 3, int, "conv kernel size", minimum=1, maximum=15),
    Knob("pooling", "max", str, "pooling after each block", choices=POOLINGS),
    Knob("activation", "relu", str, "activation function", choices=ACTIVATIONS),
    Knob("batch_norm", True, bool, "batch normalisation after each conv"),
    Knob("head", "auto", str, "how feature maps become a vector: flatten, global average or "
         "max pooling; auto flattens maps of <= 16 positions, else global average",
         choices=HEADS),
    Knob("dropout", 0.25, float, "dropout before the dense head and the classifier",
         minimum=0.0, maximum=0.95),
    Knob("spatial_dropout", 0.0, float, "spatial dropout (whole feature maps) after each block",
         minimum=0.0, maximum=0.9),
    Knob("se_ratio", 0, int, "squeeze-and-excitation on each block's maps (each residual "
         "unit's branch in resnet): per-channel weights from the block's global average "
         "through a bottleneck of channels / se_ratio (0: off)", minimum=0, maximum=64),
    Knob("l1", 0.0, float, "L1 penalty on conv and dense kernels", minimum=0.0, maximum=1.0),
    Knob("l2", 0.0, float, "L2 weight decay on conv and dense kernels", minimum=0.0, maximum=1.0),
    Knob("dense_units", 64, int, "units of the dense head (0: no dense layer)", minimum=0,
         maximum=16384),
    # family-specific
    Knob("res_units", 1, int, "resnet: residual units (two convs each) per stage", minimum=1,
         maximum=8),
    Knob("preactivation", False, bool, "resnet: pre-activation units (BN, activation, conv)"),
    Knob("drop_path", 0.0, float, "resnet: stochastic depth, the chance that a unit's residual "
         "branch is dropped for an example in training, growing linearly to this for the last "
         "unit (0: off)", minimum=0.0, maximum=0.5),
    Knob("patch_size", 2, int, "hybrid: the side of the patches its conv stages' maps are "
         "cut into, one token each (the maps are pooled no further than a grid of 2x2 "
         "patches)", minimum=1, maximum=16),
    Knob("attn_dim", 64, int, "hybrid: the tokens' width (the patch embedding's channels)",
         minimum=8, maximum=1024),
    Knob("attn_heads", 4, int, "hybrid: attention heads (each attn_dim / attn_heads wide)",
         minimum=1, maximum=16),
    Knob("attn_blocks", 2, int, "hybrid: transformer blocks (self-attention and an MLP) over "
         "the patches", minimum=1, maximum=12),
    Knob("width_multiplier", 1.0, float, "separable: multiplies every block's filters",
         minimum=0.125, maximum=4.0),
    Knob("backbone", "mobilenetv2", str, "transfer: keras.applications backbone",
         choices=BACKBONES),
    Knob("backbone_weights", "none", str, "transfer, and unet's backbone encoders: 'none' "
         "(random init: the whole backbone trains), 'imagenet' (Keras' download cache) or the "
         "path of a local weights file"),
    Knob("unfreeze", 0, int, "transfer, and unet's backbone encoders: with kept weights, "
         "the backbone layers trained, counted from the top (0: the backbone stays frozen)",
         minimum=0, maximum=10000),
    Knob("finetune_epochs", 0, int, "transfer, with kept weights: two-phase fine-tuning. "
         "Phase one trains the head alone, the whole backbone frozen, for this many epochs; "
         "phase two then trains the top `unfreeze` layers too, at the learning rate times "
         "finetune_lr_factor, batch norm still in inference mode (0: one phase, the top "
         "`unfreeze` layers training from the start)", minimum=0, maximum=1000),
    Knob("finetune_lr_factor", 0.1, float, "transfer: phase two's learning rate, as a "
         "fraction of learning_rate", minimum=1e-4, maximum=1.0),
    Knob("transfer_size", 32, int, "transfer: images are resized to this square size",
         minimum=32, maximum=512),
    Knob("upsampling", "transpose", str, "unet: how the decoder doubles a map's size: a "
         "transposed conv, or bilinear resizing and a conv", choices=UPSAMPLINGS),
    Knob("skips", "concat", str, "unet: how an encoder level's maps join the decoder's: "
         "concatenated, or added", choices=SKIPS),
    Knob("encoder", "own", str, "unet: its own conv levels, or a keras.applications backbone "
         "(backbone_weights and unfreeze apply; n_blocks at most 5)", choices=ENCODERS),
    # training
    Knob("optimizer", "adam", str, "optimizer", choices=OPTIMIZERS),
    Knob("learning_rate", 1e-3, float, "initial learning rate", minimum=0.0),
    Knob("lr_schedule", "constant", str, "learning-rate schedule: constant, cosine decay over "
         "the epochs, or halve on a plateau of the objective", choices=LR_SCHEDULES),
    Knob("momentum", 0.9, float, "momentum (sgd, rmsprop)", minimum=0.0, maximum=1.0),
    Knob("weight_decay", 1e-4, float, "decoupled weight decay (adamw)", minimum=0.0),
    Knob("batch_size", 32, int, "training batch size", minimum=1, maximum=65536),
    Knob("label_smoothing", 0.0, float, "label smoothing of the cross-entropy loss",
         minimum=0.0, maximum=0.5),
    Knob("ema", 0.0, float, "exponential moving average of the weights: its momentum per "
         "step (such as 0.999); the average is what each epoch is validated with, what early "
         "stopping keeps and what is exported (0: off)", minimum=0.0, maximum=0.9999),
    Knob("loss", "mse", str, "regression: the loss on standardised targets (mse, mae, or "
         "huber: squared within one standard deviation, linear beyond)",
         choices=REGRESSION_LOSSES),
    Knob("jit_compile", False, bool, "XLA-compile the training step (pays on GPUs; Keras "
         "trains uncompiled when a layer cannot be compiled, as random rotation, zoom and "
         "translation cannot: the metric jit_compiled says which happened)"),
    Knob("mixed_precision", False, bool, "float16 compute with float32 weights, a float32 "
         "classifier and loss scaling (GPUs: refused when the trials train on the CPU; "
         "exports are float32)"),
    # augmentation (inside the model, active only in training)
    Knob("aug_flip", "none", str, "random flips", choices=FLIPS),
    Knob("aug_rotation", 0.0, float, "random rotation, as a fraction of a full turn",
         minimum=0.0, maximum=1.0),
    Knob("aug_translation", 0.0, float, "random translation, as a fraction of height/width",
         minimum=0.0, maximum=1.0),
    Knob("aug_zoom", 0.0, float, "random zoom, as a fraction", minimum=0.0, maximum=1.0),
    Knob("aug_contrast", 0.0, float, "random contrast factor", minimum=0.0, maximum=1.0),
    Knob("aug_randaugment", 0, int, "RandAugment (Keras 3's): this many ops drawn per image "
         "(0: off)", minimum=0, maximum=6),
    Knob("aug_randaugment_magnitude", 0.5, float, "RandAugment's strength of each op",
         minimum=0.0, maximum=1.0),
    Knob("aug_erasing", 0.0, float, "random erasing: the chance a rectangle of 2-33% of an "
         "image is blanked", minimum=0.0, maximum=1.0),
    Knob("aug_augmix", 0.0, float, "AugMix (Keras 3's): each image blended with 3 chains of "
         "1-3 random ops and the blend mixed back with the original; this is the ops' "
         "strength (0: off)", minimum=0.0, maximum=1.0),
    # mixing (in the training pipeline: labels are mixed as the examples are)
    Knob("aug_mixup", 0.0, float, "MixUp (Keras 3's): each training example blended with "
         "another of its batch, labels too, by a weight drawn from Beta(alpha, alpha); this is "
         "alpha (0: off)", minimum=0.0, maximum=1.0),
    Knob("aug_cutmix", 0.0, float, "CutMix (Keras 3's): a rectangle of each training image "
         "(a stretch of a sequence) pasted from another of its batch, labels mixed by its "
         "area; this is the Beta distribution's alpha (0: off). With MixUp on too, each batch "
         "gets one of the two", minimum=0.0, maximum=1.0),
]

KNOBS: dict[str, Knob] = {k.name: k for k in _KNOBS}


def family_named(name: str) -> Family:
    try:
        return FAMILY[name]
    except KeyError:
        raise ValueError(f"unknown architecture family '{name}'; use one of "
                         f"{', '.join(FAMILIES)}") from None


def mixes(knobs: dict) -> bool:
    """Whether the knobs mix training examples and their labels (MixUp, CutMix)."""
    return any(knobs.get(name, 0.0) > 0 for name in MIXING)


def defaults() -> dict[str, Any]:
    """Every knob's default value."""
    return {k.name: k.default for k in _KNOBS}


def resolve(params: dict[str, Any]) -> dict[str, Any]:
    """The full knob settings of a trial: the defaults, overridden by the sampled params."""
    merged = defaults()
    merged.update(params)
    return merged
