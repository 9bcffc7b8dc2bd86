"""A KerasTuner hypermodel's space, sampled as it runs (define-by-run): the study process calls
``build_model(hp)`` with ``OptunaHyperParameters``, KerasTuner's own ``HyperParameters`` whose
new hyperparameters take the Optuna trial's suggestion instead of their default. So every
``hp.Int/Float/Choice/Boolean/Fixed`` call is a ``trial.suggest_*``, and KerasTuner's own rules
hold: name scopes, ``conditional_scope`` and ``parent_name`` (an inactive hyperparameter is not
sampled, and reads None), defaults for what is asked again. The values are the trial's params;
its worker replays them (``models.builder.replay``)."""

from __future__ import annotations

from typing import Any


def sample(own, trial, base_dir=None) -> dict[str, Any]:
    """The params of ``trial`` for hypermodel ``own`` (``space.ModelSettings``): what its build
    (and a kt.HyperModel's own fit) asked for, suggested by ``trial``. The space's own params
    (the Tuner's batch_size) are sampled after, for the names the hypermodel did not take (a
    hypermodel's ``batch_size`` is cnntune's batch size knob too)."""
    import keras

    from ..models.builder import FitProxy, call_hypermodel, load, own_fit

    fn = load(own, base_dir)
    hp = _optuna_hp(trial)
    try:
        model = call_hypermodel(fn, hp)
        if own_fit(fn):  # and what its own fit asks for (a model.fit that trains nothing)
            fn.fit(hp, FitProxy(model, None, None), None)
    except Exception as exc:  # the trial's worker builds it again, and fails it with why
        import logging

        logging.getLogger(__name__).debug("hypermodel %s raised while sampling: %s",
                                          own.ref, exc)
    finally:
        keras.backend.clear_session()  # the model was built for its hp calls only
    return dict(hp.values)


def suggest(trial, hp) -> Any:
    """A KerasTuner hyperparameter's value, suggested by an Optuna trial."""
    import keras_tuner as kt

    name = hp.name
    if isinstance(hp, kt.engine.hyperparameters.Fixed):
        return hp.value
    if isinstance(hp, kt.engine.hyperparameters.Boolean):
        return trial.suggest_categorical(name, [False, True])
    if isinstance(hp, kt.engine.hyperparameters.Choice):
        return trial.suggest_categorical(name, list(hp.values))
    log = hp.sampling in ("log", "reverse_log")
    if isinstance(hp, kt.engine.hyperparameters.Int):
        # a log scale's step multiplies in KerasTuner; Optuna's log scale takes none
        step = 1 if log or not hp.step else int(hp.step)
        return trial.suggest_int(name, int(hp.min_value), int(hp.max_value), step=step, log=log)
    step = None if log or not hp.step else float(hp.step)
    return trial.suggest_float(name, float(hp.min_value), float(hp.max_value), step=step,
                               log=log)


def _optuna_hp(trial):
    import keras_tuner as kt

    class OptunaHyperParameters(kt.HyperParameters):
        def _register(self, hyperparameter, overwrite=False):
            # active and new: the trial suggests it, then KerasTuner registers it as usual
            if self.is_active(hyperparameter) and hyperparameter.name not in self.values:
                self.values[hyperparameter.name] = suggest(trial, hyperparameter)
            return super()._register(hyperparameter, overwrite)

    return OptunaHyperParameters()
