"""The searched params of a space: int, float, categorical, bool and fixed, each with its
domain, its conditions (``when``) and its checks.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import (BaseModel, ConfigDict, Field, model_validator)



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
