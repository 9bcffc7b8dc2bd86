"""A study's plan: everything a run needs, resolved and validated from the space, the options
and the data, before anything is written. Shared by the one-process search (``study``) and
the coordinator of several workers (``parallel``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..budget import Budget
from ..catalog import ENGINES
from ..errors import ConfigError
from .engines import abilities
from .options import AUTO, SEED_STRIDE, SearchOptions

__all__ = ["AUTO", "Plan", "auto_plan", "make_plan", "warm_starts"]


@dataclass
class Plan:
    """Everything a study run needs, resolved and validated; nothing written yet."""

    space: Any  # SearchSpace
    dataset: Any  # Dataset
    study: str
    engine: str
    algorithm: str
    pruner: str
    seed: int
    n_trials: int | None
    timeout: float | None
    trial: Any  # TrialSettings
    patience_trials: int | None = None
    warm: Any = None  # WarmStart: what a new study starts from
    warm_study: Any = None  # WarmStart from --warm-start, applied to new and resumed studies

    @property
    def budget(self):
        """The --timeout ``Budget`` (None without one), as the trials have it."""
        return self.trial.budget


def make_plan(opts: SearchOptions, *, gpu: bool = False) -> Plan:
    """The plan for ``opts``: the space loaded (or picked for the data), the data loaded and
    split, the engine, algorithm and pruner checked against each other; nothing written.
    ``gpu``: whether the trials train on one."""
    from ..checks import checks_per_epoch
    from ..data import load_dataset
    from ..space import load_space
    from ..worker.fitting import TrialSettings

    data, timeout, pruner = opts.data, opts.timeout, opts.pruner
    dataset = None
    if opts.auto:
        sp, dataset = auto_plan(data)
    else:
        sp = load_space(opts.space)
    mixed = sp.params.get("mixed_precision")
    if not gpu and mixed is not None and True in (mixed.options() or []):
        raise ConfigError("param 'mixed_precision' can be true, but this search's trials train "
                          "on the CPU (no GPU visible, or --gpus none), where float16 is slower, "
                          "not faster; set it to false or remove it, or train on a GPU")
    engine = opts.engine or sp.search.engine
    if engine not in ENGINES:
        raise ConfigError(f"engine '{engine}' is unknown; use one of {', '.join(ENGINES)}")
    can = abilities(engine)  # what the engine can do, as it declares: asked here, once
    if opts.sampler is not None and not can.sampler_synonym:
        raise ConfigError(f"--sampler is for the {_engines_with(lambda a: a.sampler_synonym)} "
                          f"engine; with --engine {engine} use --algorithm "
                          f"({', '.join(can.algorithms)})")
    algorithm = opts.chosen_algorithm or sp.search.algorithm_for(engine)
    if algorithm not in can.algorithms:
        raise ConfigError(f"algorithm '{algorithm}' is unknown to engine {engine}; use one of "
                          f"{', '.join(can.algorithms)}")
    if sp.multi and not can.multi_objective:
        raise ConfigError(f"space '{sp.source}' has several objectives; multi-objective "
                          f"search needs --engine {_engines_with(lambda a: a.multi_objective)}")
    hyper = sp.own_model is not None and sp.own_model.kind == "hypermodel"
    if hyper and algorithm not in can.builds_by_run:
        by_run = _engines_with(lambda a: bool(a.builds_by_run))
        raise ConfigError(
            f"space '{sp.source}' is a KerasTuner hypermodel's, sampled as its build runs, "
            f"which {'a ' + algorithm if can.builds_by_run else engine} cannot do; use "
            f"--engine {by_run} with {_either(sorted(abilities(by_run).builds_by_run))}")
    if not can.takes_objectives(algorithm, len(sp.directions)):
        several = [a for a in can.algorithms if can.takes_objectives(a, 2)]
        raise ConfigError(f"the {algorithm} algorithm has one objective only; use "
                          f"{_either(several)}")
    if sp.multi and pruner not in (None, "none"):
        raise ConfigError("a multi-objective study cannot be pruned; drop --pruner")
    if pruner not in (None, "none") and pruner not in can.pruners:
        raise ConfigError(f"--pruner is for the {_engines_with(lambda a: a.prunes)} "
                          f"engine; engine {engine} {can.early_stop}" if not can.prunes
                          else f"pruner '{pruner}' is unknown; use one of "
                               f"{', '.join(can.pruners)}")
    pruner = "none" if sp.multi or not can.prunes else (pruner or sp.search.pruner)
    if pruner not in can.pruners:
        raise ConfigError(f"pruner '{pruner}' is unknown; use one of {', '.join(can.pruners)}")
    if algorithm in can.enumerates:
        sp.grid()  # raises SpaceError when a param has no finite grid
    n_trials = opts.trials if opts.trials is not None else (
        None if timeout or opts.total_trials is not None else sp.search.trials)
    timeout = timeout if timeout is not None else sp.search.timeout
    seed = (sp.training.seed if opts.seed is None else opts.seed) + \
        SEED_STRIDE * opts.worker_index
    if dataset is None:
        src, path = _data_source(data, sp)
        d = sp.data
        dataset = load_dataset(src, path, seed=sp.training.seed,
                               base_dir=sp.base_dir if data is None else None,
                               task=sp.spec.task, **d.load_kwargs())
    _check_families_fit(sp, dataset)
    study = opts.study or can.study_name(sp.name, dataset.name, algorithm)
    _check_study_name(study)
    settings = TrialSettings(epochs=opts.epochs or sp.training.epochs,
                             patience=sp.training.patience,
                             objective=sp.primary, seed=seed,
                             checks=checks_per_epoch(sp.training.checks_per_epoch,
                                                     len(dataset.train), len(dataset.val)),
                             class_weight=dataset.class_weights(sp.training.class_weight),
                             folds=sp.training.folds,
                             max_params=sp.spec.constraints.max_params,
                             base_dir=str(sp.base_dir), own_model=sp.own_model,
                             threads=opts.threads,
                             latency=sp.spec.latency.model_dump() if sp.measures_latency
                             else None)
    _check_files(sp, settings.base_dir)
    if settings.folds:
        dataset.check_folds(settings.folds)
    settings.budget = Budget.of(timeout, opts.started)
    return Plan(sp, dataset, study, engine, algorithm, pruner, seed, n_trials, timeout, settings,
                patience_trials=opts.patience_trials)


def auto_plan(data, *, task: str | None = None,
              settings: dict | None = None) -> tuple[Any, Any]:
    """The space picked for ``data`` (default digits) and the data, split as that space says.
    ``settings``: data settings on top of the auto split (``DataSettings``: a labels CSV, a
    validation fraction; their source and path stand for ``data`` when it is None); ``task``:
    what the data is learnt for (default: the embedded set's own, else classification)."""
    from .autospace import SEED, SPLIT, DataProfile, auto_space
    from ..data import load_dataset
    from ..space import DataSettings, parse_space

    d = DataSettings(**{**SPLIT, **(settings or {})})  # the split the auto space writes
    src, path = (d.source, d.path) if data is None and (d.source or d.path) else \
        _data_source(data, None)
    dataset = load_dataset(src, path, seed=SEED, base_dir=None, task=task, **d.load_kwargs())
    sp = parse_space(auto_space(DataProfile.of(dataset), dataset.name), source=AUTO)
    return sp, dataset


def warm_starts(plan: Plan, storage: str, study: str | None, best: int):
    """What the study starts from; reads an earlier study (``study``) without writing."""
    from .autospace import DataProfile
    from .warmstart import WarmStart, from_space, from_study

    if study is not None and study == plan.study:
        raise ConfigError(f"--warm-start {study} names the study being run; name an earlier "
                          "study, or drop --warm-start to resume this one")
    if plan.algorithm in abilities(plan.engine).enumerates:
        if study is not None:
            raise ConfigError(f"the {plan.algorithm} algorithm tries every point once; drop "
                              "--warm-start")
        return WarmStart()
    if study is not None:
        plan.warm_study = from_study(storage, study, plan.space,
                                     data_fingerprint=plan.dataset.fingerprint, best=best,
                                     engine=plan.engine)
    return from_space(plan.space, DataProfile.of(plan.dataset))


def _data_source(data, sp) -> tuple[str | None, str | None]:
    if data is None:
        return (sp.data.source, sp.data.path) if sp is not None else ("digits", None)
    from ..catalog import EMBEDDED

    if str(data) in EMBEDDED:
        return str(data), None
    return None, str(data)


def _engines_with(ability) -> str:
    """The engines whose declared abilities satisfy ``ability`` (for messages)."""
    return " or ".join(e for e in ENGINES if ability(abilities(e)))


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _check_families_fit(sp, dataset) -> None:
    """Every family the space can pick takes the data's kind (images or sequences)."""
    from ..knobs import FAMILY

    fam = sp.params.get("family")
    for f in ([] if sp.own_model else fam.grid() if fam is not None else ["plain"]):
        wants = FAMILY[f].takes
        if wants != dataset.kind:
            raise ConfigError(f"space '{sp.source}' can pick family {f}, which needs "
                              f"{wants}s, but data '{dataset.name}' holds {dataset.kind}s; "
                              f"give {wants} data (--data) or drop {f} from the space")
        if f == "hybrid":
            _check_patch_grid(sp, dataset)


def _check_patch_grid(sp, dataset) -> None:
    """A hybrid's images hold a grid of patches at its smallest patch_size (models.hybrid)."""
    from ..knobs import KNOBS
    from ..models.hybrid import GRID, min_side

    p = sp.params.get("patch_size")
    smallest = min(p.grid()) if p is not None else KNOBS["patch_size"].default
    side = min(dataset.input_shape[:2])
    if side < min_side(smallest):
        raise ConfigError(f"space '{sp.source}', param 'patch_size': family hybrid needs a "
                          f"grid of {GRID}x{GRID} patches of {smallest}x{smallest}, images of "
                          f"at least {min_side(smallest)}x{min_side(smallest)}, and data "
                          f"'{dataset.name}' has {side}-pixel sides; use a patch_size of at "
                          f"most {max(1, side // GRID)} or another family")


def _check_files(sp, base_dir: str) -> None:
    """Every weights file a trial could be handed exists, and the model builder imports,
    before anything is written."""
    from ..worker.fitting import resolve_file_knob

    if sp.own_model:
        from ..models.builder import load

        load(sp.own_model, base_dir)

    p = sp.params.get("backbone_weights")
    values = (p.options() or []) if p is not None else []
    for v in values:
        if v not in ("none", "imagenet") and not Path(resolve_file_knob(v, base_dir)).is_file():
            raise ConfigError(f"space '{sp.source}', param 'backbone_weights': file '{v}' not "
                              "found (relative paths: from here or the space file's folder); "
                              "give a weights file saved with model.save_weights, or none")


def _check_study_name(name: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", name):
        raise ConfigError(f"study name '{name}' is not allowed; use letters, digits, '.', '_' "
                          "and '-' (starting with a letter or digit)")


