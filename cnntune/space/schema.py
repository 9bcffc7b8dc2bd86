"""The settings of a space file that are not searched (data, training, search, constraints,
latency, the model) and the whole file's schema (``SpaceFile``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (Field, field_validator,
                      model_validator)

from ..catalog import (ALGORITHMS, ALL_OBJECTIVES, CLASS_WEIGHTS, DATA_SOURCES, FILE_SOURCES,
                       DEFAULT_ENGINE, ENGINES, OBJECTIVES, PRUNERS, SAMPLERS, TASKS)
from ..catalog import DEFAULT_TASK, TASK_OBJECTIVES
from ..checks import MAX_CHECKS
from .params import Param, Scalar, _Strict


class DataSettings(_Strict):
    source: Literal[DATA_SOURCES] | None = None  # type: ignore[valid-type]
    path: str | None = None
    kind: Literal["image", "sequence"] | None = None  # None: what the source holds
    image_size: tuple[int, int] | None = None
    color_mode: Literal["grayscale", "rgb"] | None = None
    # csv: the label column (sequences, or `labels`); a regression may list several
    label_column: str | list[str] = "label"
    # a flat image folder's labels: a CSV with a file-name column and a label column
    labels: str | None = None
    file_column: str = "file"
    # segmentation: a folder of masks (PNGs of class indices) named as the images they label
    masks: str | None = None
    # keep decoded images in memory (true), store them on disk and read batches (false), or
    # store them when they would take more than a share of the available memory (auto)
    in_memory: Literal["auto"] | bool = "auto"
    channels: int = Field(1, ge=1)  # csv: value columns are time-major over this many channels
    # multi-label: the labels every example must have at least (0: an example may have none)
    min_labels: int = Field(0, ge=0)
    val_fraction: float = Field(0.15, gt=0, lt=0.5)
    test_fraction: float = Field(0.2, gt=0, lt=0.5)

    @model_validator(mode="after")
    def _check(self):
        if isinstance(self.label_column, list) and not self.label_column:
            raise ValueError("data.label_column is an empty list; name a column (several: "
                             "a regression's value columns)")
        if self.source in FILE_SOURCES and not self.path:
            raise ValueError(f"source '{self.source}' needs a path; add data.path")
        return self

    def load_kwargs(self) -> dict:
        """What ``data.load_dataset`` takes from these settings (beside source and path)."""
        return self.model_dump(exclude={"source", "path"})


class TrainingSettings(_Strict):
    epochs: int = Field(20, ge=1, le=10000)
    patience: int = Field(4, ge=1)
    # None: the task's default objective (Task.default_objective, tasks/)
    objective: Literal[tuple(OBJECTIVES)] | None = None  # type: ignore[valid-type]
    seed: int = 0
    # none | balanced (each class weighs n / (classes * its count)) | {class name: weight}
    class_weight: Literal[CLASS_WEIGHTS] | dict[str, float] = "none"  # type: ignore[valid-type]
    # k-fold cross-validation over train + val in each trial (small data): the objective is
    # the folds' mean; none (the default) validates on the val split
    folds: int | None = Field(None, ge=2, le=20)
    # how often per pass over the training split a trial is validated, early-stopped and
    # judged by the pruner (a large split: every 1/n of a pass); auto: by the split's size
    checks_per_epoch: Literal["auto"] | Annotated[int, Field(ge=1, le=MAX_CHECKS)] = "auto"

    @field_validator("class_weight")
    @classmethod
    def _positive_weights(cls, v):
        if isinstance(v, dict):
            bad = {k: w for k, w in v.items() if not w > 0}
            if bad or not v:
                raise ValueError(f"class weights must be > 0, got {bad or v}; give each "
                                 "listed class a positive weight")
        return v


class SearchSettings(_Strict):
    engine: Literal[ENGINES] = DEFAULT_ENGINE  # type: ignore[valid-type]
    algorithm: str | None = None  # the engine's search algorithm; default: the engine's first
    sampler: Literal[SAMPLERS] | None = None  # type: ignore[valid-type]  # optuna's name for it
    pruner: Literal[PRUNERS] = "median"  # type: ignore[valid-type]  # optuna only
    trials: int = Field(20, ge=1)
    timeout: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _check(self):
        allowed = ALGORITHMS[self.engine]
        if self.sampler is not None:
            if ALGORITHMS[self.engine] != SAMPLERS:  # only Optuna calls its algorithms so
                raise ValueError(f"'sampler' is an optuna setting; for engine {self.engine} "
                                 f"use 'algorithm' ({', '.join(allowed)})")
            if self.algorithm is not None and self.algorithm != self.sampler:
                raise ValueError(f"algorithm '{self.algorithm}' and sampler '{self.sampler}' "
                                 "disagree; keep one of them")
        if self.algorithm is not None and self.algorithm not in allowed:
            raise ValueError(f"algorithm '{self.algorithm}' is not one of engine "
                             f"{self.engine}'s; use one of {', '.join(allowed)}")
        return self

    def algorithm_for(self, engine: str) -> str:
        """The algorithm this file asks for when run with ``engine`` (its default otherwise)."""
        if engine == self.engine:
            return self.algorithm or self.sampler or ALGORITHMS[engine][0]
        return ALGORITHMS[engine][0]


class Constraints(_Strict):
    max_params: int | None = Field(None, ge=1)  # bigger models are skipped before training
    max_latency_ms: float | None = Field(None, gt=0)  # per image, measured as `latency:` says
    max_size_mb: float | None = Field(None, gt=0)  # the float32 TFLite export's size

    def limits(self) -> dict[str, float]:
        """metric name -> the most it may be."""
        return {metric: v for metric, v in (("n_params", self.max_params),
                                              ("latency_ms", self.max_latency_ms),
                                              ("size_mb", self.max_size_mb)) if v is not None}


# how latency is measured unless a space says otherwise (also the export's own measurement)
LATENCY_REPEATS = 30
LATENCY_WARMUP = 5


class LatencySettings(_Strict):
    """How inference latency is measured, the same way for every trial: the float32 TFLite
    export run by the LiteRT interpreter with ``threads`` threads at ``batch_size``, median
    of ``repeats`` calls after ``warmup`` calls, in milliseconds per image."""

    batch_size: int = Field(1, ge=1, le=1024)
    threads: int = Field(1, ge=1, le=256)
    repeats: int = Field(LATENCY_REPEATS, ge=3, le=10000)
    warmup: int = Field(LATENCY_WARMUP, ge=0, le=1000)


class ModelSettings(_Strict):
    """A user's own model instead of cnntune's families (``cnntune.models.builder``), named as
    "module:function" (or a pickled function, *.pkl): a ``builder``, called for each trial as
    build(params, input_shape, outputs) -> keras.Model with the space's params; or a KerasTuner
    ``hypermodel``, build_model(hp) (or a kt.HyperModel), whose hp.Int/Float/Choice/... calls
    are the space (sampled as it runs)."""

    builder: str | None = Field(None, min_length=1)
    hypermodel: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one(self):
        if (self.builder is None) == (self.hypermodel is None):
            raise ValueError("model: give one of builder or hypermodel")
        return self

    @property
    def ref(self) -> str:
        return self.builder or self.hypermodel

    @property
    def kind(self) -> str:
        return "builder" if self.builder else "hypermodel"


class SpaceFile(_Strict):
    name: str = Field("space", pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    # what the study learns to predict: a class per example, or numbers (catalog.TASKS)
    task: Literal[TASKS] = DEFAULT_TASK  # type: ignore[valid-type]
    data: DataSettings = DataSettings()
    training: TrainingSettings = TrainingSettings()
    search: SearchSettings = SearchSettings()
    constraints: Constraints = Constraints()
    objectives: list[str] | None = None  # >= 2 names: a multi-objective study
    latency: LatencySettings = LatencySettings()
    # the study's first trials: "auto" (cnntune's known-good configurations for data of this
    # shape, projected onto the space), a list of param mappings, or [] for none
    start_from: Literal["auto"] | list[dict[str, Scalar]] = "auto"
    model: ModelSettings | None = None  # a user's builder instead of cnntune's families
    params: dict[str, Param]

    @model_validator(mode="after")
    def _check_objectives(self):
        fits = TASK_OBJECTIVES[self.task]
        given = self.training.objective
        if given is not None and given not in fits:
            raise ValueError(f"training.objective {given} does not fit task {self.task}; use "
                             f"one of {', '.join(fits)}")
        objs = self.objectives
        if objs is None:
            return self
        for name in objs:
            if name not in ALL_OBJECTIVES:
                raise ValueError(f"objective '{name}' is unknown; use {', '.join(ALL_OBJECTIVES)}")
        if len(set(objs)) != len(objs):
            raise ValueError(f"objectives {objs} repeat a name; list each once")
        if objs[0] not in fits:
            raise ValueError(f"the first objective must be a validation score of task "
                             f"{self.task} ({', '.join(fits)}: it drives early stopping), got "
                             f"{objs[0]}; reorder the list")
        for name in objs[1:]:
            if name in OBJECTIVES and name not in fits:
                raise ValueError(f"objective {name} does not fit task {self.task}; use one of "
                                 f"{', '.join(fits)}")
        if given is not None and given != objs[0]:
            raise ValueError(f"training.objective {given} disagrees with the "
                             f"first objective {objs[0]}; drop training.objective")
        if len(objs) > 1 and "cmaes" in (self.search.sampler, self.search.algorithm):
            raise ValueError("the cmaes sampler has one objective only; use tpe or nsgaii")
        return self

    @model_validator(mode="after")
    def _check_task_settings(self):
        from ..tasks import task

        if not task(self.task).classes and self.training.class_weight != "none":
            raise ValueError(f"training.class_weight weighs classes, and task {self.task} has "
                             "none; drop it")
        try:
            task(self.task).configured(min_labels=self.data.min_labels)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return self
