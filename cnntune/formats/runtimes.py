"""Run an exported model with its own runtime: Keras (.keras), TensorFlow (SavedModel folder),
LiteRT (.tflite, the ai-edge-litert Interpreter) or ONNX Runtime (.onnx).

``registry.load_predictor(path)`` detects the format and returns a ``Predictor`` whose
``predict(x)`` takes raw inputs (what the data holds: pixels, or sequence values) and returns class
probabilities. Export verification, ``cnntune predict`` and the registered MLflow model all
go through it, so what is verified is what is served.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from ..space import LATENCY_REPEATS, LATENCY_WARMUP


class Predictor:
    format: str

    def __init__(self, path: Path):
        self.path = path

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        x = np.asarray(x, dtype="float32")
        out = [self._run(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, 0), "float32")

    def _run(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def latency_ms(self, example: np.ndarray, *, batch: int = 1,
                   repeats: int = LATENCY_REPEATS, warmup: int = LATENCY_WARMUP) -> float:
        """Median milliseconds per image of ``repeats`` calls on ``batch`` images, after
        ``warmup`` calls."""
        x = np.repeat(np.asarray(example[:1], dtype="float32"), batch, axis=0)
        for _ in range(warmup):
            self._run(x)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            self._run(x)
            times.append(time.perf_counter() - t0)
        return float(np.median(times)) * 1000.0 / batch


class InMemoryKerasPredictor(Predictor):
    """A Keras model already in memory, called as a traced ``model(x, training=False)``."""

    format = "keras"

    def __init__(self, model, path: Path = Path("<memory>")):
        super().__init__(path)
        self._call = graph_call(model)

    def _run(self, x):
        return np.asarray(self._call(x))


class KerasPredictor(InMemoryKerasPredictor):
    def __init__(self, path: Path):
        import keras

        try:  # safe mode: a file holding Python code (Lambda layers, pickles) is refused
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:
            raise ModelFileError(f"model '{path}' is not a loadable .keras file "
                                 f"({type(exc).__name__}: {_first_line(exc)}); re-export it "
                                 "with cnntune export") from None
        super().__init__(model, path)


def graph_call(model):
    """``model(x, training=False)`` as a traced TensorFlow function (one trace per batch
    shape): how a served Keras model runs, without eager per-call overhead."""
    import tensorflow as tf

    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


class SavedModelPredictor(Predictor):
    format = "savedmodel"

    def __init__(self, path: Path):
        super().__init__(path)
        import tensorflow as tf

        try:
            self.obj = tf.saved_model.load(str(path))
            self.fn = self.obj.signatures["serving_default"]
        except Exception as exc:
            raise ModelFileError(f"model '{path}' is not a loadable SavedModel "
                                 f"({type(exc).__name__}: {_first_line(exc)}); re-export "
                                 "it") from None
        self.tf = tf
        self.input_name = list(self.fn.structured_input_signature[1])[0]

    def _run(self, x):
        out = self.fn(**{self.input_name: self.tf.constant(x)})
        return np.asarray(next(iter(out.values())))


class LiteRTPredictor(Predictor):
    format = "tflite"

    def __init__(self, path: Path, threads: int | None = None):
        super().__init__(path)
        from ai_edge_litert.interpreter import Interpreter

        from .._quiet import native_stderr_silenced

        try:
            with native_stderr_silenced():
                self.it = Interpreter(model_path=str(path), num_threads=threads)
                self.it.allocate_tensors()
        except Exception as exc:
            raise ModelFileError(f"model '{path}' is not a loadable .tflite file "
                                 f"({type(exc).__name__}: {_first_line(exc)}); re-export "
                                 "it") from None
        self.inp = self.it.get_input_details()[0]
        self.out = self.it.get_output_details()[0]
        self._batch = int(self.inp["shape"][0])

    def _run(self, x):
        if len(x) != self._batch:
            self.it.resize_tensor_input(self.inp["index"], (len(x), *self.inp["shape"][1:]))
            self.it.allocate_tensors()
            self._batch = len(x)
        dtype = self.inp["dtype"]
        if dtype != np.float32:  # a fully integer model: quantise the input
            scale, zero = self.inp["quantization"]
            x = np.round(x / scale + zero).astype(dtype)
        self.it.set_tensor(self.inp["index"], x)
        self.it.invoke()
        y = self.it.get_tensor(self.out["index"])
        if self.out["dtype"] != np.float32:
            scale, zero = self.out["quantization"]
            y = (y.astype("float32") - zero) * scale
        return y


class OnnxPredictor(Predictor):
    format = "onnx"

    def __init__(self, path: Path, threads: int | None = None):
        super().__init__(path)
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.sess = ort.InferenceSession(str(path), opts,
                                             providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelFileError(f"model '{path}' is not a loadable .onnx file "
                                 f"({type(exc).__name__}: {_first_line(exc)}); re-export "
                                 "it") from None
        self.input_name = self.sess.get_inputs()[0].name

    def _run(self, x):
        return self.sess.run(None, {self.input_name: x})[0]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else "no message"
