"""Reading a space: a file or a shipped space's name -> YAML -> ``SearchSpace``, with one-line
errors naming the file, the key and the fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import (ValidationError)

from ..errors import SpaceError
from .crosschecks import _check_against_knobs, _check_family_use, _check_start_from, _check_task_use
from .schema import SpaceFile
from .searchspace import SearchSpace


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
    return Path(__file__).resolve().parents[2] / "search_spaces"


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


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader reading numbers as YAML 1.2 (and Python, and JSON) do: ``1e-5``
    is a float, not the string PyYAML's YAML 1.1 rules make it (they need ``1.0e-5``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def read_yaml(text: str) -> Any:
    """A space file's YAML (``_Loader``)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)


def parse_space(text: str, source: str = "<string>", base_dir: Path | None = None) -> SearchSpace:
    try:
        raw = read_yaml(text)
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
    _check_task_use(sp)  # first: a param no family of this task could read says so
    _check_family_use(sp)
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
