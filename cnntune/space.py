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
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

# the names live in catalog; importing them from here keeps working
from .catalog import (ALGORITHMS, ALL_OBJECTIVES, CLASS_WEIGHTS, DATA_SOURCES,  # noqa: F401
                      DEFAULT_ENGINE, ENGINES, OBJECTIVES, PRUNERS, SAMPLERS, TASKS)
from .catalog import TASK_OBJECTIVES
from .checks import MAX_CHECKS
from .errors import SpaceError
from .knobs import KNOBS

Scalar = Union[bool, int, float, str, None]
Condition = dict[str, Union[Scalar, list[Scalar]]]

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Param(_Strict):
    """What every param type answers, so that engines, tables and reports translate a param
    without asking which type it is: ``options()`` (the finite values of a categorical,
    bool or fixed param; None for a numeric range), ``cast`` (an engine's value to the declared
    type), ``parse`` (MLflow's string form back), ``dtype`` (its pandas column) and ``domain``
    (one line for `cnntune space show`)."""

    when: Condition | None = None

    def options(self) -> list | None:
        return None

    def cast(self, value: Any) -> Any:
        return value

    def parse(self, text: str) -> Any:
        """The value whose ``str()`` MLflow logged (``text`` itself when none matches)."""
        return next((v for v in self.options() if str(v) == text), text)

    def dtype(self) -> str:
        values = self.options()
        if all(isinstance(v, bool) for v in values):
            return "boolean"
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return "Int64"
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return "float64"
        return "string"


class _Range(_Param):
    """An int or float range: low, high, and a step or a log scale."""

    def domain(self) -> str:
        dom = f"{self.type} [{self.low}, {self.high}]"
        if self.log:
            dom += " log"
        if self.step not in (None, 1) or (self.type == "float" and self.step):
            dom += f" step {self.step}"
        return dom


class IntParam(_Range):
    type: Literal["int"]
    low: int
    high: int
    step: int = 1
    log: bool = False

    @model_validator(mode="after")
    def _check(self):
        _check_range(self.low, self.high, self.log, self.step)
        if self.log and self.step != 1:
            raise ValueError("log and step cannot be combined; drop one of them")
        return self

    def grid(self) -> list:
        return list(range(self.low, self.high + 1, self.step))

    def cast(self, value: Any) -> int:
        return int(value)

    def parse(self, text: str) -> int:
        return int(text)

    def dtype(self) -> str:
        return "Int64"

    def nearest(self, value: Any) -> int | None:
        if not _is_number(value):
            return None
        v = min(max(float(value), self.low), self.high)
        return int(self.low + round((v - self.low) / self.step) * self.step)

    def outside(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer in [{self.low}, {self.high}], got {value!r}"
        if not self.low <= value <= self.high or (value - self.low) % self.step:
            step = f" step {self.step}" if self.step != 1 else ""
            return f"{value} is outside [{self.low}, {self.high}]{step}"
        return None


class FloatParam(_Range):
    type: Literal["float"]
    low: float
    high: float
    step: float | None = None
    log: bool = False

    @model_validator(mode="after")
    def _check(self):
        _check_range(self.low, self.high, self.log, self.step)
        if self.log and self.step is not None:
            raise ValueError("log and step cannot be combined; drop one of them")
        return self

    def grid(self) -> list:
        if self.step is None:
            raise ValueError("the grid sampler needs a 'step' on every float param; add one")
        n = int(math.floor((self.high - self.low) / self.step + 1e-9))
        return [round(self.low + i * self.step, 12) for i in range(n + 1)]

    def cast(self, value: Any) -> float:
        return float(value)

    def parse(self, text: str) -> float:
        return float(text)

    def dtype(self) -> str:
        return "float64"

    def nearest(self, value: Any) -> float | None:
        if not _is_number(value):
            return None
        v = min(max(float(value), self.low), self.high)
        if self.step:
            v = min(self.high, round(self.low + round((v - self.low) / self.step) * self.step,
                                     12))
        return v

    def outside(self, value: Any) -> str | None:
        if not _is_number(value):
            return f"must be a number in [{self.low}, {self.high}], got {value!r}"
        if not self.low <= value <= self.high:
            return f"{value} is outside [{self.low}, {self.high}]"
        return None


class CategoricalParam(_Param):
    type: Literal["categorical"]
    choices: list[Scalar]

    @model_validator(mode="after")
    def _check(self):
        if not self.choices:
            raise ValueError("choices is empty; list at least one value")
        keys = [repr(c) for c in self.choices]
        if len(set(keys)) != len(keys):
            raise ValueError(f"choices has duplicates: {self.choices}; list each value once")
        return self

    def grid(self) -> list:
        return list(self.choices)

    def options(self) -> list:
        return list(self.choices)

    def domain(self) -> str:
        return "one of " + ", ".join(map(str, self.choices))

    def nearest(self, value: Any) -> Scalar:
        """The choice itself, else for a number the closest numeric choice, else None."""
        if any(c == value and type(c) is type(value) for c in self.choices):
            return value
        numeric = [c for c in self.choices if _is_number(c)]
        if not _is_number(value) or not numeric:
            return None
        return min(numeric, key=lambda c: abs(c - value))

    def outside(self, value: Any) -> str | None:
        if any(c == value and type(c) is type(value) for c in self.choices):
            return None
        return f"{value!r} is not one of {self.choices}"


class BoolParam(_Param):
    type: Literal["bool"]

    def grid(self) -> list:
        return [False, True]

    def options(self) -> list:
        return [False, True]

    def cast(self, value: Any) -> bool:
        return bool(value)

    def domain(self) -> str:
        return "true / false"

    def nearest(self, value: Any) -> bool | None:
        return value if isinstance(value, bool) else None

    def outside(self, value: Any) -> str | None:
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"


class FixedParam(_Param):
    type: Literal["fixed"]
    value: Scalar

    def grid(self) -> list:
        return [self.value]

    def options(self) -> list:
        return [self.value]

    def domain(self) -> str:
        return f"fixed {self.value}"

    def nearest(self, value: Any) -> None:
        return None  # nothing to choose: the sampler hands in the value itself

    def outside(self, value: Any) -> str | None:
        return None if value == self.value else f"{value!r} is not the fixed {self.value!r}"


Param = Annotated[
    Union[IntParam, FloatParam, CategoricalParam, BoolParam, FixedParam],
    Field(discriminator="type"),
]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_range(low, high, log, step) -> None:
    if not low < high:
        raise ValueError(f"low must be < high, got low={low} high={high}; swap or widen them")
    if log and low <= 0:
        raise ValueError(f"log scale needs low > 0, got low={low}; use a positive low")
    if step is not None and not 0 < step <= high - low:
        raise ValueError(f"step must be > 0 and <= high - low, got step={step}")


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
        if self.source in ("npz", "csv", "folder") and not self.path:
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
    task: Literal[TASKS] = "classification"  # type: ignore[valid-type]
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
        from .tasks import task

        if not task(self.task).classes and self.training.class_weight != "none":
            raise ValueError(f"training.class_weight weighs classes, and task {self.task} has "
                             "none; drop it")
        try:
            task(self.task).configured(min_labels=self.data.min_labels)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return self


class SearchSpace:
    """A validated search space: the params in sampling order plus the fixed settings."""

    def __init__(self, spec: SpaceFile, source: str, text: str, base_dir: Path):
        self.spec = spec
        self.source = source  # the file name, used in messages
        self.text = text  # the file as written, logged with the study
        self.base_dir = base_dir  # relative data paths resolve against the file's folder
        self.params: dict[str, Any] = spec.params
        self.order: list[str] = _sampling_order(spec.params, source)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def task(self):
        """The ``tasks.Task`` the study learns."""
        from .tasks import task

        return task(self.spec.task)

    @property
    def data(self) -> DataSettings:
        return self.spec.data

    @property
    def own_model(self) -> ModelSettings | None:
        """The user's own model (a builder or a KerasTuner hypermodel), or None: cnntune's
        families."""
        return self.spec.model

    @property
    def training(self) -> TrainingSettings:
        return self.spec.training

    @property
    def search(self) -> SearchSettings:
        return self.spec.search

    @property
    def objectives(self) -> list[str]:
        """The study's objectives, primary first (one unless the space lists several)."""
        return list(self.spec.objectives or
                    [self.training.objective or self.task.default_objective])

    @property
    def directions(self) -> list[str]:
        return [ALL_OBJECTIVES[o] for o in self.objectives]

    @property
    def multi(self) -> bool:
        return len(self.objectives) > 1

    @property
    def measures_latency(self) -> bool:
        """Whether trials must measure latency and size (an objective or constraint asks)."""
        wanted = set(self.objectives) | set(self.spec.constraints.limits())
        return bool(wanted & {"latency_ms", "size_mb"})

    @property
    def direction(self) -> str:
        return OBJECTIVES[self.primary]

    @property
    def primary(self) -> str:
        return self.objectives[0]

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]

    def is_active(self, name: str, values: dict[str, Any]) -> bool:
        """Whether param ``name`` applies, given the values sampled so far (in sampling order)."""
        when = self.params[name].when
        if not when:
            return True
        for parent, wanted in when.items():
            if parent not in values:  # the parent itself is inactive
                return False
            allowed = wanted if isinstance(wanted, list) else [wanted]
            if values[parent] not in allowed:
                return False
        return True

    def project(self, config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """``config`` (knob -> value) moved into this space: each active param it names is
        snapped to the nearest value the param can take; params it does not name are left
        to the sampler. Returns (params, the names of ``config`` that did not fit)."""
        out: dict[str, Any] = {}
        for name in self.order:
            if name in config and self.is_active(name, out):
                value = self.params[name].nearest(config[name])
                if value is not None:
                    out[name] = value
        return out, sorted(k for k in config if k not in out)

    def start_from(self) -> list[dict[str, Any]] | None:
        """The space's own ``start_from`` entries (None: "auto", cnntune's known-good
        configurations of its families; a user's builder has none)."""
        entries = self.spec.start_from
        if entries == "auto":
            return [] if self.own_model else None
        return [dict(e) for e in entries]

    def grid(self) -> dict[str, list]:
        """Every param's finite list of values, for the grid sampler."""
        out = {}
        for name in self.order:
            try:
                out[name] = self.params[name].grid()
            except ValueError as exc:
                raise SpaceError(f"space '{self.source}', param '{name}': {exc}") from None
        return out

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, domain, condition) rows for `cnntune space show`."""
        rows = []
        for name in self.order:
            p = self.params[name]
            cond = " and ".join(f"{k} in {', '.join(map(str, v))}" if isinstance(v, list)
                                  else f"{k} = {v}"
                                for k, v in (p.when or {}).items())
            rows.append((name, p.domain(), cond))
        return rows


# ----------------------------------------------------------------------------- loading


def resolve_space_path(space: str | Path) -> Path:
    """A path as given, or a shipped space's name (``default``: search_spaces/default.yaml)."""
    path = Path(space)
    if path.exists():
        return path
    if path.suffix == "" and path.parent == Path("."):
        shipped = shipped_spaces_dir() / f"{path.name}.yaml"
        if shipped.exists():
            return shipped
    return path


def shipped_spaces_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "search_spaces"


def load_space(space: str | Path) -> SearchSpace:
    """Read and validate a search-space file. Raises SpaceError with a one-line message."""
    path = resolve_space_path(space)
    src = str(space)
    if not path.exists():
        raise SpaceError(f"space '{src}': file not found; give the path of a YAML file "
                         f"or a shipped space name ({', '.join(list_shipped())})")
    if path.is_dir():
        raise SpaceError(f"space '{src}': is a folder, not a file; give a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpaceError(f"space '{src}': cannot be read ({exc}); check the file") from None
    return parse_space(text, source=path.name, base_dir=path.resolve().parent)


def parse_space(text: str, source: str = "<string>", base_dir: Path | None = None) -> SearchSpace:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SpaceError(f"space '{source}': malformed YAML at {where}: {problem}; "
                         "fix the syntax") from None
    if not isinstance(raw, dict):
        raise SpaceError(f"space '{source}': expected a mapping with a 'params' key at the top, "
                         f"got {type(raw).__name__}; see search_spaces/default.yaml")
    if isinstance(raw.get("params"), dict):
        raw = dict(raw)
        raw["params"] = {k: _expand_shorthand(v) for k, v in raw["params"].items()}
    try:
        spec = SpaceFile.model_validate(raw)
    except ValidationError as exc:
        raise SpaceError(_format_validation_error(exc, source)) from None
    _check_against_knobs(spec, source)
    sp = SearchSpace(spec, source, text, base_dir or Path.cwd())
    _check_family_use(sp)
    _check_task_use(sp)
    _check_start_from(sp)
    return sp


def list_shipped() -> list[str]:
    d = shipped_spaces_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def _expand_shorthand(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {"type": "categorical", "choices": value}
    return {"type": "fixed", "value": value}


def _format_validation_error(exc: ValidationError, source: str) -> str:
    errors = exc.errors()
    err = errors[0]
    loc = [str(p) for p in err["loc"]]
    kind = err["type"]
    if loc and loc[-1].startswith("literal["):  # a key that is 'auto' or something else
        err, loc, kind = _union_error(errors, loc)
    # drop the discriminator tag pydantic puts in the location: params.lr.float.low -> params.lr.low
    if len(loc) >= 3 and loc[0] == "params" and loc[2] in ("int", "float", "categorical", "bool",
                                                              "fixed"):
        loc = loc[:2] + loc[3:]
    if loc and loc[0] == "params" and len(loc) >= 2:
        where = f"param '{loc[1]}'" + (f", key '{'.'.join(loc[2:])}'" if len(loc) > 2 else "")
    else:
        where = f"key '{'.'.join(loc)}'" if loc else "top level"
    if kind == "extra_forbidden":
        msg = f"unknown key '{loc[-1]}'; remove it or check its spelling"
        where = where.rsplit(", key", 1)[0] if "param" in where else \
            (f"section '{'.'.join(loc[:-1])}'" if len(loc) > 1 else "top level")
    elif kind == "missing":
        msg = f"missing required key '{loc[-1]}'; add it"
        where = where.rsplit(", key", 1)[0] if "param" in where else "top level"
    elif kind == "union_tag_invalid" or kind == "union_tag_not_found":
        msg = ("'type' must be one of int, float, categorical, bool, fixed, got "
               f"{err.get('input', {}).get('type')!r}; fix the type"
               if isinstance(err.get("input"), dict)
               else "expected a mapping with a 'type' key; see search_spaces/default.yaml")
    elif kind == "value_error":
        msg = str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
    else:
        msg = f"{err['msg'].rstrip('.')}, got {err.get('input')!r}; fix the value"
    return f"space '{source}', {where}: {msg}"


def _union_error(errors: list[dict], loc: list[str]) -> tuple[dict, list[str], str]:
    """One error for a key of the kind ``Literal["auto"] | int``, of which pydantic reports
    one per branch (loc ``key.literal['auto']``, ``key.constrained-int``): the error deepest
    inside the key where there is one (an entry of a list), else the branches' messages joined
    ("should be 'auto' or greater than or equal to 1"); a deeper union is joined the same way."""
    key = loc[:-1]
    under = [([str(p) for p in e["loc"]], e) for e in errors]
    under = [(path, e) for path, e in under if path[:len(key)] == key]
    deep, deepest = max(under, key=lambda pe: len(pe[0]))
    if len(deep) > len(loc):  # inside the key's other branch: drop that branch's tag
        key = key + deep[len(loc):]
        branches = [e for path, e in under if path[:-1] == deep[:-1]]
        if len(branches) == 1:
            return deepest, key, deepest["type"]
        key = key[:-1]  # a union there too: its last element is a branch tag
    else:
        branches = [e for path, e in under if len(path) == len(loc)]
    wants = " or ".join(e["msg"].removeprefix("Input should be ").rstrip(".") for e in branches)
    return {"input": branches[0].get("input"), "msg": f"Should be {wants}"}, key, "union"


def _check_against_knobs(spec: SpaceFile, source: str) -> None:
    """Each param is a knob, with values the knob takes. With a user's builder, only the knobs
    cnntune reads around the model (``knobs.AROUND_MODEL``) are its; every other name is the
    builder's, and ``family`` has no meaning."""
    from .knobs import AROUND_MODEL

    known = ", ".join(sorted(KNOBS))
    for name, p in spec.params.items():
        knob = KNOBS.get(name)
        if spec.model is not None:
            if name == "family":
                raise SpaceError(f"space '{source}', param 'family': the space's model."
                                 f"{spec.model.kind} builds the model; drop the family param")
            if name not in AROUND_MODEL:
                continue
        if knob is None:
            raise SpaceError(f"space '{source}', param '{name}': unknown knob; "
                             f"use one of: {known}")
        if isinstance(p, IntParam | FloatParam):
            if knob.kind in (str, bool):
                raise SpaceError(f"space '{source}', param '{name}': is a {knob.kind.__name__} "
                                 f"knob and cannot be a numeric range; use categorical/bool")
            if isinstance(p, FloatParam) and knob.kind is int:
                raise SpaceError(f"space '{source}', param '{name}': is an integer knob; "
                                 f"use type: int")
            values = [p.low, p.high]
        elif isinstance(p, BoolParam):
            values = [True, False]
        else:
            values = p.grid()
        for v in values:
            why = knob.check(v)
            if why:
                raise SpaceError(f"space '{source}', param '{name}': {why}; "
                                 f"change the value ({knob.help})")


def _check_start_from(sp: SearchSpace) -> None:
    """Each ``start_from`` entry names only params of the space, each with a value the param
    can take and active given the entry's other values."""
    for i, entry in enumerate(sp.start_from() or [], 1):
        where = f"space '{sp.source}', start_from entry {i}"
        if not entry:
            raise SpaceError(f"{where}: is empty; give param: value pairs or remove it")
        active: dict[str, Any] = {}
        for name in sp.order:
            if name in entry and sp.is_active(name, active):
                active[name] = entry[name]
        for name, value in entry.items():
            if name not in sp.params:
                raise SpaceError(f"{where}, param '{name}': not a param of this space; use one "
                                 f"of {', '.join(sp.order)} or remove it")
            why = sp.params[name].outside(value)
            if why:
                raise SpaceError(f"{where}, param '{name}': {why}; give a value the space "
                                 "allows or widen the param")
            if name not in active:
                raise SpaceError(f"{where}, param '{name}': does not apply, its 'when' "
                                 f"({sp.params[name].when}) does not hold in this entry; "
                                 "remove it or set its parent")


def _check_task_use(sp: SearchSpace) -> None:
    """Refuse a param only another task reads (label_smoothing in a regression, ...), and a
    family that cannot give the task's outputs (segmentation needs a decoder, a decoder's
    class per pixel suits segmentation only)."""
    from .knobs import DECODERS
    from .tasks import task

    fam = sp.params.get("family")
    pixels = task(sp.spec.task).per_pixel
    # a builder's model is checked against the task when it is built (Task.output_problem)
    for f in ([] if sp.own_model else fam.grid() if fam is not None else ["plain"]):
        if pixels != (f in DECODERS):
            raise SpaceError(
                f"space '{sp.source}', param 'family': {f} " + (
                    f"has no decoder, and task {sp.spec.task} predicts a class per pixel; use "
                    f"family {' or '.join(DECODERS)}" if pixels else
                    f"predicts a class per pixel, and task {sp.spec.task} does not; use it "
                    "with task: segmentation, or another family"))
    for name in sp.order:
        owners = [t for t in TASKS if name in task(t).knobs]
        if owners and sp.spec.task not in owners:
            raise SpaceError(f"space '{sp.source}', param '{name}': is read by task "
                             f"{' and '.join(owners)} only, and this space's task is "
                             f"{sp.spec.task}; remove it or set task: {owners[0]}")


def _check_family_use(sp: SearchSpace) -> None:
    """Refuse a param that would be handed to a family that does not read it: each param must
    be conditional (``when: {family: ...}``, directly or through its parents) on the families
    that use it."""
    from .knobs import FAMILIES, USES

    params = sp.params
    fam = params.get("family")
    if sp.own_model:  # the builder reads every param it is given
        return
    every = set(fam.grid()) if fam is not None else {"plain"}
    memo: dict[str, set] = {}

    def active_for(name: str) -> set:
        if name not in memo:
            out = set(every)
            for parent, wanted in (params[name].when or {}).items():
                if parent == "family":
                    out &= set(wanted if isinstance(wanted, list) else [wanted])
                else:
                    out &= active_for(parent)
            memo[name] = out
        return memo[name]

    for name in sp.order:
        if name == "family":
            continue
        for f in sorted(active_for(name)):
            if f in FAMILIES and name not in USES[f]:
                users = [g for g in FAMILIES if name in USES[g]]
                fix = (f"add when: {{family: [{', '.join(users)}]}}" if fam is not None
                       else f"add family: {users[0]}" if len(users) == 1
                       else f"add a family param ({', '.join(users)})")
                raise SpaceError(f"space '{sp.source}', param '{name}': would be handed to "
                                 f"family {f}, which does not use it; {fix} or remove it")


def _sampling_order(params: dict[str, Any], source: str) -> list[str]:
    """Params in file order, moved where needed so that each comes after what its `when` names."""
    for name, p in params.items():
        for parent, wanted in (p.when or {}).items():
            if parent == name:
                raise SpaceError(f"space '{source}', param '{name}': 'when' names the param "
                                 "itself; name another param")
            if parent not in params:
                raise SpaceError(f"space '{source}', param '{name}': 'when' names unknown param "
                                 f"'{parent}'; declare it or fix the name")
            possible = params[parent].grid() if not isinstance(
                params[parent], IntParam | FloatParam) else None
            for w in wanted if isinstance(wanted, list) else [wanted]:
                if possible is not None and w not in possible:
                    raise SpaceError(f"space '{source}', param '{name}': 'when' wants "
                                     f"{parent}={w!r}, which '{parent}' never takes "
                                     f"(it takes {possible}); fix the value")
    order: list[str] = []
    visiting: set[str] = set()

    def visit(n: str) -> None:
        if n in order:
            return
        if n in visiting:
            raise SpaceError(f"space '{source}', param '{n}': its 'when' conditions form a "
                             "cycle; break it")
        visiting.add(n)
        for parent in (params[n].when or {}):
            visit(parent)
        visiting.discard(n)
        order.append(n)

    for n in params:
        visit(n)
    return order
