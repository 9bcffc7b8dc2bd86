"""The package layout keeps its promises: the sub-packages import each other in one direction
(no cycles), the code that runs inside a trial worker never reaches a command module, and no
module uses another module's private names. Read from the source (ast), nothing imported."""

import ast
from collections import defaultdict
from pathlib import Path

import cnntune

ROOT = Path(cnntune.__file__).parent
# what runs inside a worker, and what the commands above it are
WORKER_SIDE = ("cnntune.worker", "cnntune.models", "cnntune.formats", "cnntune.data")
COMMANDS = ("cnntune.cli", "cnntune.deploy", "cnntune.reports", "cnntune.estimators")


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = ["cnntune", *f.relative_to(ROOT).with_suffix("").parts]
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (f, is_pkg)
    return out


MODULES = _modules()


def _imports() -> dict[str, set[tuple[str, tuple[str, ...]]]]:
    """module -> {(imported module, names taken from it)}, lazy (in-function) imports too."""
    out = defaultdict(set)
    for mod, (path, is_pkg) in MODULES.items():
        base = mod.split(".") if is_pkg else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                pkg = ".".join(base[:len(base) - node.level + 1] +
                               ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{pkg}.{alias.name}"
                    if sub in MODULES:
                        out[mod].add((sub, ()))
                    else:
                        out[mod].add((pkg, (alias.name,)))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cnntune"):
                out[mod].add((node.module, tuple(a.name for a in node.names)))
    return out


IMPORTS = _imports()


def _group(mod: str) -> str:
    """The sub-package a module belongs to (cnntune.tuning.engines.optuna -> cnntune.tuning),
    or the module itself for a top-level module."""
    parts = mod.split(".")
    return ".".join(parts[:2])


def test_the_layout_is_read_from_the_source():
    # guards the checks below against passing on an empty graph
    assert {"cnntune.tuning.study", "cnntune.worker.trial", "cnntune.cli.main"} <= set(MODULES)
    assert "cnntune.worker.train" in {m for m, _ in IMPORTS["cnntune.worker.trial"]}
    assert ("cnntune.knobs", ()) in IMPORTS["cnntune.worker.fitting"]  # from .. import knobs


def test_sub_packages_import_each_other_in_one_direction():
    graph = defaultdict(set)
    for mod, targets in IMPORTS.items():
        if mod == "cnntune":
            continue  # the package root only re-exports search and load_space, lazily
        for target, _ in targets:
            a, b = _group(mod), _group(target)
            if a != b and b != "cnntune":
                graph[a].add(b)

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n)))
                   for n in graph.get(start, ()))

    assert graph["cnntune.cli"] >= {"cnntune.tuning", "cnntune.reports", "cnntune.deploy"}
    cycles = sorted(f"{a} <-> {b}" for a in list(graph) for b in graph[a] if reaches(b, a))
    assert not cycles


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of ``graph`` with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycles_are_found_between_modules():
    # the finder itself: a cycle through three modules, and none in a chain
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}}) == []


def test_no_two_modules_import_each_other_even_lazily():
    """Between modules, not only sub-packages: an in-function import that closes a cycle is
    a layering mistake waiting for a module-level import to make it an ImportError."""
    graph = {mod: {t for t, _ in targets if t in MODULES and t != mod}
             for mod, targets in IMPORTS.items()}
    assert "cnntune.worker.fitting" in graph["cnntune.worker.folds"]
    assert not _cycles(graph)


def test_the_training_path_imports_no_command_module():
    bad = sorted(f"{mod} imports {target}" for mod, targets in IMPORTS.items()
                 if mod.startswith(WORKER_SIDE)
                 for target, _ in targets if target.startswith(COMMANDS))
    assert not bad


def test_no_module_takes_another_modules_private_names():
    bad = sorted(f"{mod}: {target}.{name}" for mod, targets in IMPORTS.items()
                 for target, names in targets for name in names
                 if name.startswith("_") and not name.startswith("__")
                 and _group(target) != _group(mod))
    assert not bad


# MLflow's writing calls (MlflowClient's and the fluent API's)
MLFLOW_WRITES = {"log_artifact", "log_artifacts", "log_text", "log_figure", "log_dict",
                 "log_image", "log_batch", "log_metric", "log_param", "log_params",
                 "log_metrics", "create_run", "start_run", "set_tag", "set_tags",
                 "set_terminated", "set_experiment_tag", "create_experiment", "register_model",
                 "set_registered_model_alias", "delete_run", "update_run"}


def test_every_mlflow_write_goes_through_tracking():
    found = []
    for mod, (path, _) in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in MLFLOW_WRITES:
                found.append((mod, node.func.attr, node.lineno))
    assert any(mod.startswith("cnntune.tracking.") for mod, _, _ in found)  # the check sees them
    outside = [f"{mod}:{line} {name}" for mod, name, line in found
               if not mod.startswith("cnntune.tracking.")]
    assert not outside


def test_no_module_outside_the_engines_names_an_engine():
    """What an engine can do is declared by the engine (``Abilities``) and asked for; only the
    catalog lists the engines' names, and only tuning/engines/ spells one out."""
    from cnntune.catalog import ENGINES

    named = []
    for mod, (path, _) in MODULES.items():
        if mod.startswith("cnntune.tuning.engines") or mod == "cnntune.catalog":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in ENGINES:
                named.append(f"{mod}:{node.lineno} {node.value!r}")
    assert not named
