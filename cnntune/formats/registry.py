"""The export formats, one class each, keyed by ``catalog.FORMATS``' names: the file an export
writes, the suffix that says a file is one, how a model is written in it, the runtime that runs
it (``runtimes``) and what serving it needs. Export, verification, ``predict``, the latency a
trial measures and the registered MLflow model all ask the format here.

    fmt = format_named("tflite")
    fmt.write(inference_model(model), path, quantize="int8", representative=split)
    load_predictor(path).predict(x)
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import ClassVar

from ..catalog import FORMATS as NAMES
from ..catalog import QUANTIZE
from ..errors import ConfigError, ModelFileError


class Format:
    """One export format. ``runtime``: the packages that run it (pip names, for serving);
    ``quantizes``: whether ``write`` takes a ``quantize`` other than none."""

    name: ClassVar[str]
    file: ClassVar[str]  # the file or folder an export writes, in its output folder
    suffix: ClassVar[str | None] = None  # a model file's suffix (None: a folder)
    runtime: ClassVar[tuple[str, ...]]
    quantizes: ClassVar[bool] = False

    def check(self, quantize: str) -> None:
        if quantize not in QUANTIZE:
            raise ConfigError(f"quantize '{quantize}' is unknown; use one of "
                              f"{', '.join(QUANTIZE)}")
        if quantize != "none" and not self.quantizes:
            takes = " or ".join(n for n, f in FORMATS.items() if f.quantizes)
            raise ConfigError(f"--quantize {quantize} applies to --format {takes} only")

    def write(self, infer, target: Path, *, quantize: str = "none",
              representative=None) -> None:
        """Write ``infer`` (``convert.inference_model``) at ``target``; ``representative``:
        a data split, for int8's calibration."""
        import io
        import warnings

        self.check(quantize)
        sink = io.StringIO()  # Keras and the converters print progress we do not want
        with contextlib.redirect_stdout(sink), _quiet_tf_logging(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf2onnx's np.object FutureWarning and the like
            self._write(infer, target, quantize, representative)

    def _write(self, infer, target: Path, quantize: str, representative) -> None:
        raise NotImplementedError

    def predictor(self, path: Path, threads: int | None = None):
        """A ``runtimes.Predictor`` running the model at ``path`` with this format's runtime."""
        raise NotImplementedError

    def is_folder(self, path: Path) -> bool:
        """Whether ``path``, a folder, holds a model of this format itself (not an export
        folder around one)."""
        return False


class KerasFormat(Format):
    name, file, suffix, runtime = "keras", "model.keras", ".keras", ("tensorflow", "keras")

    def _write(self, infer, target, quantize, representative):
        infer.save(target)

    def predictor(self, path, threads=None):
        from .runtimes import KerasPredictor

        return KerasPredictor(path)


class SavedModelFormat(Format):
    name, file, runtime = "savedmodel", "saved_model", ("tensorflow",)

    def _write(self, infer, target, quantize, representative):
        infer.export(str(target), format="tf_saved_model", verbose=False)

    def predictor(self, path, threads=None):
        from .runtimes import SavedModelPredictor

        return SavedModelPredictor(path)

    def is_folder(self, path):
        return (path / "saved_model.pb").exists()


class TFLiteFormat(Format):
    name, file, suffix, runtime = "tflite", "model.tflite", ".tflite", ("ai-edge-litert",)
    quantizes = True

    def _write(self, infer, target, quantize, representative):
        from .._quiet import native_stderr_silenced

        with native_stderr_silenced():  # the converter's C++ prints its settings
            infer.export(str(target), format="litert", verbose=False,
                         **_litert_options(quantize, representative))

    def predictor(self, path, threads=None):
        from .runtimes import LiteRTPredictor

        return LiteRTPredictor(path, threads)


class OnnxFormat(Format):
    name, file, suffix, runtime = "onnx", "model.onnx", ".onnx", ("onnxruntime",)

    def _write(self, infer, target, quantize, representative):
        import numpy as np

        from ._onnx_ops import register

        register()
        infer(np.zeros((1, *infer.input_shape[1:]), "float32"))  # Keras: "never called"
        infer.export(str(target), format="onnx", verbose=False)

    def predictor(self, path, threads=None):
        from .runtimes import OnnxPredictor

        return OnnxPredictor(path, threads)


FORMATS: dict[str, Format] = {f.name: f() for f in (KerasFormat, SavedModelFormat,
                                                     TFLiteFormat, OnnxFormat)}
if tuple(FORMATS) != NAMES:  # the catalog names them; each has its class here
    raise ImportError(f"formats registry {tuple(FORMATS)} != catalog.FORMATS {NAMES}")


def format_named(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError(f"format '{name}' is unknown; use one of {', '.join(FORMATS)}") \
            from None


def detect(path: str | Path) -> Format:
    """The format of a model file, a model folder, or an export folder."""
    p = Path(path)
    if p.is_dir():
        for fmt in FORMATS.values():
            if fmt.is_folder(p):
                return fmt
        for fmt in FORMATS.values():
            if (p / fmt.file).exists():  # an export folder: the model inside it
                return fmt
        raise ModelFileError(f"model '{path}': a folder without an exported model; give a "
                             f"{_files()} file, a SavedModel folder or an export folder")
    for fmt in FORMATS.values():
        if fmt.suffix is not None and p.suffix.lower() == fmt.suffix:
            return fmt
    raise ModelFileError(f"model '{path}': unknown format '{p.suffix}'; give a {_files()} "
                         "file, a SavedModel folder or an export folder")


def model_file(path: str | Path) -> Path:
    """The model inside an export folder (or the path itself)."""
    p = Path(path)
    if p.is_dir() and not any(f.is_folder(p) for f in FORMATS.values()):
        for fmt in FORMATS.values():
            if (p / fmt.file).exists():
                return p / fmt.file
    return p


def load_predictor(path: str | Path, fmt: str | None = None, threads: int | None = None):
    """A ``runtimes.Predictor`` for the model at ``path`` (a file, a model folder or an export
    folder), in ``fmt`` or the format its path shows."""
    p = Path(path)
    if not p.exists():
        raise ModelFileError(f"model '{path}' does not exist; check the path")
    kind = format_named(fmt) if fmt is not None else detect(p)
    return kind.predictor(model_file(p), threads)


def write_model(infer, fmt: str, target: Path, *, quantize: str = "none",
                representative=None) -> None:
    format_named(fmt).write(infer, target, quantize=quantize, representative=representative)


def _files() -> str:
    suffixes = [f.suffix for f in FORMATS.values() if f.suffix]
    return ", ".join(suffixes[:-1]) + f" or {suffixes[-1]}"


def _litert_options(quantize: str, representative) -> dict:
    import numpy as np
    import tensorflow as tf

    if quantize == "none":
        return {}
    if quantize == "float16":
        return {"optimizations": [tf.lite.Optimize.DEFAULT],
                "target_spec": {"supported_types": [tf.float16]}}
    if quantize != "int8":
        raise ConfigError(f"quantize '{quantize}' has no TFLite converter settings")
    rng = np.random.default_rng(0)
    picks = rng.choice(len(representative), size=min(200, len(representative)), replace=False)
    examples = representative.images(np.sort(picks)).astype("float32")

    def dataset():
        for x in examples:
            yield [x[None]]

    # int8 weights and activations; float input and output so callers need no quantisation
    return {"optimizations": [tf.lite.Optimize.DEFAULT], "representative_dataset": dataset}


@contextlib.contextmanager
def _quiet_tf_logging():
    """tf2onnx, TensorFlow and absl Python loggers at ERROR for the block."""
    loggers = [logging.getLogger(n) for n in ("tf2onnx", "tensorflow", "absl")]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, old):
            lg.setLevel(level)
