"""A user's own model (``space.ModelSettings``), in one of two kinds:

- a builder, ``model: {builder: "my_pkg.models:build"}`` (or an estimator's ``model=build``):
  a function that cnntune calls for each trial as ``build(params, input_shape, outputs)``, with
  every param the trial sampled (names cnntune does not know included), the shape of one input
  and the number of outputs (classes, targets). cnntune puts the data's scaling in front
  (images in [0, 1], sequences standardised per channel, as its own families do) and, for
  images, the augmentation the knobs ask for.
- a KerasTuner hypermodel, ``model: {hypermodel: ...}`` (``cnntune.Tuner``): ``build_model(hp)``
  or a ``kt.HyperModel``, unchanged. Its hp calls are the space, sampled as it runs
  (``tuning.hypermodel``); a trial replays them from its params with KerasTuner's own
  ``HyperParameters``. Its model takes the inputs as the user gives them.

Either returns a Keras model to the task's output (``Task.output_problem`` says what fits);
one it compiled keeps its optimizer (``worker.train.compile_model``). cnntune trains, prunes,
tracks and exports it.

A reference is ``module:function`` (the module is imported with the space file's folder and
the working folder on the path), or a file ``*.pkl`` holding the function pickled by value
(what an estimator writes for a function defined in a notebook or a script's ``__main__``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from ..errors import BuilderError, BuilderFailed

PICKLED = ".pkl"


def load(own, base_dir: str | Path | None = None) -> Callable:
    """The function (or kt.HyperModel) ``own`` (``space.ModelSettings``) names; BuilderError
    (one line: what, where, how to fix) when it does not import or cannot build."""
    ref, kind = own.ref, own.kind
    where = f"model.{kind} '{ref}'"
    if ref.endswith(PICKLED):
        path = Path(ref)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        try:
            import cloudpickle

            with open(path, "rb") as f:
                fn = cloudpickle.load(f)
        except Exception as exc:
            raise BuilderError(f"{where}: cannot be read ({type(exc).__name__}: "
                               f"{_first_line(exc)}); pass the function again") from None
    else:
        module, sep, name = ref.partition(":")
        if not sep or not module or not name:
            raise BuilderError(f"{where}: is not 'module:function'; write it as "
                               "my_pkg.models:build")
        for folder in (str(base_dir) if base_dir else None, str(Path.cwd())):
            if folder and folder not in sys.path:
                sys.path.append(folder)
        from importlib import import_module

        try:
            fn = import_module(module)
        except Exception as exc:
            raise BuilderError(f"{where}: module {module} does not import "
                               f"({type(exc).__name__}: {_first_line(exc)}); put it on "
                               "PYTHONPATH or beside the space file") from None
        for part in name.split("."):
            if not hasattr(fn, part):
                raise BuilderError(f"{where}: module {module} has no {name}; check the name")
            fn = getattr(fn, part)
    if kind == "hypermodel" and callable(getattr(fn, "build", None)):
        return fn  # a kt.HyperModel
    if not callable(fn):
        want = ("build_model(hp) or a kt.HyperModel" if kind == "hypermodel" else
                "a function build(params, input_shape, outputs)")
        raise BuilderError(f"{where}: is a {type(fn).__name__}; name {want} that returns a "
                           "Keras model")
    return fn


def build(own, params: dict[str, Any], knobs: dict, input_shape: tuple[int, ...],
          outputs: int, prep: dict, task, base_dir: str | None = None):
    """The trial's model: a builder's behind the data's scaling and augmentation, or a
    hypermodel's as it built it. BuilderFailed (the trial is FAIL with it, and the study stops
    when it is the first configuration) when it raises or returns what does not fit the task."""
    import keras
    import numpy as np

    fn = load(own, base_dir)
    ref = own.ref
    try:
        if own.kind == "hypermodel":
            inner = call_hypermodel(fn, replay(params))
        else:
            inner = fn(dict(params), tuple(input_shape), int(outputs))
    except Exception as exc:
        raise BuilderFailed(f"model builder {ref} raised {type(exc).__name__}: "
                            f"{_first_line(exc)}") from None
    if not isinstance(inner, keras.Model):
        raise BuilderFailed(f"model builder {ref} returned a {type(inner).__name__}, not a "
                            "Keras model; return keras.Model(inputs, outputs)")
    try:
        probe = np.asarray(inner(np.zeros((2, *input_shape), "float32"), training=False))
    except Exception as exc:
        raise BuilderFailed(f"model builder {ref}: its model does not take inputs of shape "
                            f"{tuple(input_shape)} ({type(exc).__name__}: "
                            f"{_first_line(exc)}); build it on keras.Input(input_shape)") from None
    why = task.output_problem(probe, outputs, tuple(input_shape))
    if why:
        raise BuilderFailed(f"model builder {ref}: {why}")
    if own.kind == "hypermodel":
        if own_fit(fn):  # model.fit goes through the hypermodel's fit (fit_through)
            inner._cnntune_fit = fit_through(fn, replay(params), inner)
        return inner
    rank = len(input_shape)
    inputs = keras.Input(shape=input_shape, name="image" if rank == 3 else "sequence")
    x = inputs
    for layer in input_layers(knobs, prep, rank, task):
        x = layer(x)
    model = keras.Model(inputs, inner(x), name="own_model")
    if getattr(inner, "compiled", False):  # the optimizer it compiled with is kept
        model.compile(optimizer=inner.optimizer)
    return model


def replay(params: dict[str, Any]):
    """KerasTuner's own HyperParameters holding a trial's values: a hypermodel's hp calls
    return them (an inactive one, under a conditional scope that does not hold, None)."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hp.values = dict(params)
    return hp


def own_fit(fn) -> bool:
    """Whether ``fn`` is a kt.HyperModel with a ``fit`` of its own."""
    import keras_tuner as kt

    return isinstance(fn, kt.HyperModel) and type(fn).fit is not kt.HyperModel.fit


class FitProxy:
    """The model a kt.HyperModel's own ``fit(hp, model, *args, **kwargs)`` is handed: its
    ``model.fit(...)`` trains the real model with cnntune's arguments (the pipelines, epochs,
    callbacks), the hypermodel's own keyword arguments on top (its epochs; a batch_size, which
    the batched pipeline does not take, is dropped); everything else is the model's."""

    def __init__(self, model, train, ours: dict | None):
        self._model, self._train, self._ours = model, train, ours
        self.fitted = None

    def fit(self, *args, **kwargs):
        kwargs.pop("batch_size", None)
        if self._ours is None:  # sampling: record the hp calls, train nothing
            return None
        merged = {**self._ours, **{k: v for k, v in kwargs.items() if k != "callbacks"}}
        merged["callbacks"] = [*self._ours.get("callbacks", []), *kwargs.get("callbacks", [])]
        self.fitted = self._model.fit(self._train, **merged)
        return self.fitted

    def __call__(self, *args, **kwargs):
        return self._model(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._model, name)


def fit_through(fn, hp, model):
    """``model.fit(train, **ours)`` as the hypermodel's own fit calls it."""
    from ..errors import TrialFailed

    def fit(train, **ours):
        proxy = FitProxy(model, train, ours)
        fn.fit(hp, proxy, train)
        if proxy.fitted is None:
            raise TrialFailed("the hypermodel's fit trained without calling model.fit, so "
                              "there is no history to track; call model.fit in it")
        return proxy.fitted

    return fit


def call_hypermodel(fn, hp):
    """``fn.build(hp)`` for a kt.HyperModel, else ``fn(hp)``."""
    return fn.build(hp) if callable(getattr(fn, "build", None)) else fn(hp)


def input_layers(knobs: dict, prep: dict, rank: int, task) -> list:
    """What cnntune's own families put in front of their layers: images scaled to [0, 1] and
    augmented (a per-pixel task's augmentation moves masks too, in the pipeline), sequences
    standardised per channel."""
    from .augment import input_stack, standardise

    if rank != 3:
        return standardise(prep)
    if task.per_pixel:
        return input_stack({}, prep["scale"])
    return input_stack(knobs, prep["scale"])


def reference(fn: Callable, folder: Path) -> str:
    """How a space names ``fn`` (a function or a kt.HyperModel): ``module:qualname`` when it
    is in an installed package (a trial worker imports it as this process does); else pickled
    by value into ``folder``, as a notebook's, a script's or a local file's must be: a worker
    process does not share this process's import path."""
    import hashlib

    import cloudpickle

    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    mod = sys.modules.get(module or "")
    origin = str(getattr(mod, "__file__", "") or "")
    if name and "<" not in name and ("site-packages" in origin or "dist-packages" in origin):
        return f"{module}:{name}"
    # its module and every other module of the user's own code it may call into (helpers in
    # a local file beside it): by value, for the worker cannot import them
    local = _user_modules()
    for m in local:
        cloudpickle.register_pickle_by_value(m)
    try:
        blob = cloudpickle.dumps(fn)
    finally:
        for m in local:
            cloudpickle.unregister_pickle_by_value(m)
    path = folder / f"builder-{hashlib.sha256(blob).hexdigest()[:10]}{PICKLED}"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)
    return str(path)


def _user_modules() -> list:
    """The modules loaded here that are the user's own code: not the standard library, not
    installed (under this Python's prefixes), not cnntune, not ``__main__`` (cloudpickle
    pickles that by value already)."""
    import sysconfig

    roots = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                          *sysconfig.get_paths().values()) if p}
    out = []
    for name, mod in list(sys.modules.items()):
        file = getattr(mod, "__file__", None)
        if not file or name == "__main__" or name.split(".")[0] == "cnntune" or \
                "site-packages" in file or "dist-packages" in file:
            continue
        path = Path(file).resolve()
        if not any(path.is_relative_to(r) for r in roots):
            out.append(mod)
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no message"
