"""Export a study's best (or chosen) trial as .keras, SavedModel, TFLite (float32, float16,
int8) or ONNX, verified by running the export with its own runtime on the test split.

What is exported is an inference model (``formats.convert``: augmentation and dropout off,
batch norm on its moving statistics). The raw inputs the data holds go in (pixels, sequence
values): rescaling or standardisation is inside the model, as during the search.

The export folder holds the model and ``cnntune.json``: params, metrics, input shape and
dtype, class names, preprocessing, versions, source study and trial, and the verification.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from ..files import write_json
from ..catalog import State
from ..errors import CnntuneError, ConfigError, ExportMismatch
from ..formats.convert import inference_model
from ..formats.registry import format_named, load_predictor
from ..tracking.stores import redact



@dataclass
class ExportReport:
    study: str
    trial: int
    run_id: str
    format: str
    quantize: str
    path: str  # the model file or folder
    metadata_path: str
    size_bytes: int
    metric: str  # the task's figure compared on the test split (accuracy, rmse)
    test_score: float  # through the exported model's runtime
    keras_test_score: float  # the Keras inference model on the same split
    max_abs_diff: float  # largest |difference| of the outputs to the Keras model's
    tolerance: str  # what was checked, in words
    passed: bool
    latency_ms: float  # per image, batch 1, median
    keras_latency_ms: float
    retrained: bool
    registered: dict[str, Any] = field(default_factory=dict)

    def verification(self) -> dict:
        """What cnntune.json records of the check, the figures named by the metric."""
        return {f"test_{self.metric}": self.test_score,
                f"keras_test_{self.metric}": self.keras_test_score,
                "max_abs_diff": self.max_abs_diff, "tolerance": self.tolerance,
                "passed": self.passed, "latency_ms": self.latency_ms,
                "keras_latency_ms": self.keras_latency_ms, "size_bytes": self.size_bytes}


def export_study(study: str, *, fmt: str, out: str | Path, tracking_uri: str,
                 quantize: str = "none", trial: int | None = None, retrain: bool = False,
                 register: str | None = None, alias: str = "champion",
                 on_step=None) -> ExportReport:
    """Export one trial of ``study``; see the module docstring. Raises ExportMismatch (after
    writing the files and the report) when the export disagrees with the Keras model."""
    from ..tracking.studies import StudyView

    say = on_step or (lambda msg: None)
    kind = format_named(fmt)
    kind.check(quantize)
    out = Path(out)
    target = out / kind.file
    if target.exists():
        raise ConfigError(f"'{target}' already exists; remove it or choose another --out")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out '{out}' is a file; give a folder")

    view = StudyView(study, tracking_uri)
    t = view.trial(trial) if trial is not None else view.best()
    if t.state != State.COMPLETE and not retrain:
        raise ConfigError(f"study '{study}', trial {t.number} ended {t.state}; pick a "
                          "completed trial or add --retrain")
    say(f"loading the data of study '{study}'")
    data = view.load_data()
    from .._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    if retrain:
        # passes over the data (a fraction of one with several checks an epoch): rounded
        epochs = max(1, round(t.metrics.get("best_epoch") or t.metrics.get("epochs") or
                              int(view.settings.get("epochs", 10))))
        say(f"retraining trial {t.number} on train+val for {epochs} epochs")
        model = retrain_trial(t.params, data, epochs=epochs,
                              seed=int(view.settings.get("seed", 0)) + t.number,
                              base_dir=view.space_dir, own=view.space.own_model)
    else:
        say(f"loading the logged model of trial {t.number}")
        model = view.load_model(t)
    infer = inference_model(model)
    x_test = data.test.x.astype("float32")
    from ..formats.runtimes import InMemoryKerasPredictor

    keras = InMemoryKerasPredictor(infer)
    keras_preds = keras.predict(x_test)
    # what turns outputs into decisions (a multi-label model's threshold per label), fitted on
    # the validation split as the trial's test figures were; kept in cnntune.json for predict
    decision = data.task.decide(infer, data.val)

    out.mkdir(parents=True, exist_ok=True)
    say(f"writing {fmt}{'' if quantize == 'none' else ' ' + quantize} to {target}")
    kind.write(infer, target, quantize=quantize, representative=data.train)

    say(f"verifying {target.name} with its own runtime on {len(x_test)} test examples")
    predictor = load_predictor(target, fmt)
    check = data.task.compare(predictor.predict(x_test), keras_preds, data.test.y, data.prep,
                              quantize, decision)
    keras_latency = keras.latency_ms(x_test)
    report = ExportReport(
        study=study, trial=t.number, run_id=t.run_id, format=fmt, quantize=quantize,
        path=str(target), metadata_path=str(out / "cnntune.json"), size_bytes=_size(target),
        metric=check.metric, test_score=check.score, keras_test_score=check.keras_score,
        max_abs_diff=check.max_abs_diff, tolerance=check.tolerance, passed=check.passed,
        latency_ms=predictor.latency_ms(x_test), keras_latency_ms=keras_latency,
        retrained=retrain)
    meta = metadata(view, t, data, report, decision)
    write_json(out / "cnntune.json", meta)
    if not check.passed:
        raise ExportMismatch(
            f"export '{target}' disagrees with the Keras model: test {check.metric} "
            f"{check.score:.4f} vs {check.keras_score:.4f}, max |output difference| "
            f"{check.max_abs_diff:.3g} (allowed: {check.tolerance}); the files are kept for "
            "inspection")
    if register:
        say(f"registering {target.name} as '{register}' (alias {alias})")
        report.registered = register_export(view, t, out, fmt, register, alias, x_test[:4])
        meta["registered"] = report.registered
        write_json(out / "cnntune.json", meta)
    return report


def retrain_trial(params: dict, data, *, epochs: int, seed: int, base_dir: str | None = None,
                  own=None):
    """A fresh model from ``params``, trained on train + validation for ``epochs`` epochs (the
    trial's best epoch), so the exported model has seen all the data the search used. File
    knobs resolve as in the trial: as given, else from ``base_dir`` (the space file's folder)."""
    import keras

    from ..worker.train import fit_final
    from ..worker.fitting import build_trial_model, pipeline_augmentation

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    knobs, model = build_trial_model(params, data, base_dir, own)
    both = data.train.concat(data.val)
    one_hot = data.task.one_hot(knobs, data.num_classes)
    fit_final(model, knobs, both.pipeline(knobs["batch_size"], training=True, seed=seed,
                                          one_hot=one_hot,
                                          augment=pipeline_augmentation(knobs, data)),
              epochs=max(1, epochs),
              task=data.task, prep=data.prep)
    # the trained weights in an uncompiled model, as trials log theirs: a compiled one would
    # save its loss and metrics with it, and a task's own (a segmentation's confusion metric,
    # a regression's standardised loss) could not be loaded back from a .keras file
    _, plain = build_trial_model(params, data, base_dir, own)
    plain.set_weights(model.get_weights())
    return plain


def metadata(view, t, data, report: ExportReport, decision: dict | None = None) -> dict:
    import keras
    import tensorflow as tf

    from ..version import __version__

    return {
        "cnntune_version": __version__, "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "source": {"study": view.study, "trial": t.number, "run_id": t.run_id,
                   "experiment_id": view.experiment_id, "engine": view.settings.get("engine"),
                   "tracking_uri": redact(view.tracking_uri)},
        "format": report.format, "quantize": report.quantize,
        "file": Path(report.path).name, "retrained": report.retrained,
        "params": t.params, "trial_metrics": t.metrics,
        # what the trial could not score before the search's deadline (catalog.UNSCORED)
        **({"trial_unscored": list(t.unscored)} if t.unscored else {}),
        "input": {"shape": [None, *data.input_shape], "dtype": "float32",
                  "data_dtype": data.train.dtype, "kind": data.kind},
        "task": data.task.name,
        # a classification's classes, in output order; a regression's targets; the labels
        "class_names": data.class_names,
        # how outputs become decisions (Task.decide): a multi-label model's thresholds
        **({"decision": decision} if decision else {}),
        "preprocessing": {"inside_model": True, **data.prep,
                          "note": "feed raw values as the data holds them; the model rescales "
                                  "(images) or standardises (sequences) itself"},
        "verification": report.verification() | {"test_examples": len(data.test),
                                                    "latency": "median ms per image at batch "
                                                               "1 after 5 warm-up calls"},
    }


def register_export(view, t, out: Path, fmt: str, name: str, alias: str, example) -> dict:
    """Log the export folder as a pyfunc model of the trial's run (served through
    cnntune.formats.runtimes) and register it under ``name`` with ``alias``."""
    from ..tracking.runs import register_pyfunc
    from .serving import ExportedModel, pip_requirements

    try:
        version = register_pyfunc(view.tracking_uri, t.run_id, f"export-{fmt}", ExportedModel(),
                                  {"export": str(out)}, pip_requirements(fmt), name, alias)
    except Exception as exc:
        raise CnntuneError(f"registering '{name}' failed ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''}); the export in "
                           f"'{out}' is kept") from None
    return {"name": name, "version": version, "alias": alias,
            "model_uri": f"models:/{name}@{alias}"}


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


