"""Search-space files: YAML -> a validated SearchSpace.

Pure Python (pydantic + PyYAML): no TensorFlow, no Optuna, so validating a space is instant.

A space file has the searched ``params`` and the settings that are not searched::

    name: default
    data:     {source: digits, val_fraction: 0.15, test_fraction: 0.2}
    training: {epochs: 20, patience: 4, objective: val_accuracy, seed: 0}
    search:   {engine: optuna, sampler: tpe, pruner: median, trials: 20, timeout: null}
    params:
      n_blocks:      {type: int, low: 1, high: 3}
      learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
      optimizer:     {type: categorical, choices: [adam, sgd]}
      momentum:      {type: float, low: 0.0, high: 0.95, when: {optimizer: sgd}}
      batch_norm:    {type: bool}
      dense_units:   128            # shorthand for {type: fixed, value: 128}
      activation:    [relu, gelu]   # shorthand for {type: categorical, choices: [...]}

Every error is a ``SpaceError`` whose one-line message names the file, the key and the fix.

The package: ``params`` (the searched params), ``schema`` (the file's other settings),
``searchspace`` (the validated space), ``crosschecks`` (against knobs, families, tasks) and
``loading`` (file or shipped name -> SearchSpace).
"""

from __future__ import annotations

# the names live in catalog; importing them from here keeps working
from ..catalog import (ALGORITHMS, ALL_OBJECTIVES, CLASS_WEIGHTS, DATA_SOURCES,  # noqa: F401
                       DEFAULT_ENGINE, ENGINES, OBJECTIVES, PRUNERS, SAMPLERS, TASKS)
from .loading import (list_shipped, load_space, parse_space, read_yaml, resolve_space_path,
                      shipped_spaces_dir)
from .params import (BoolParam, CategoricalParam, Condition, FixedParam, FloatParam, IntParam,
                     Param, Scalar)
from .schema import (LATENCY_REPEATS, LATENCY_WARMUP, Constraints, DataSettings, LatencySettings,
                     ModelSettings, SearchSettings, SpaceFile, TrainingSettings)
from .searchspace import SearchSpace

__all__ = ["BoolParam", "CategoricalParam", "Condition", "Constraints", "DataSettings",
           "FixedParam", "FloatParam", "IntParam", "LATENCY_REPEATS", "LATENCY_WARMUP",
           "LatencySettings", "ModelSettings", "Param", "Scalar", "SearchSettings",
           "SearchSpace", "SpaceFile", "TrainingSettings", "list_shipped", "load_space",
           "parse_space", "read_yaml", "resolve_space_path", "shipped_spaces_dir"]
