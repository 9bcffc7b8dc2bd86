"""Warm starts: the configurations a study tries first, and the history it may start with.

Three sources, each projected onto the study's space (``SearchSpace.project``: a value snaps to
the nearest one the param can take; a param the space lacks is dropped and said so; a param the
configuration lacks is left to the sampler):

* ``start_from: auto`` (the default): cnntune's known-good configurations for data of this
  shape (``autospace.known_good``);
* ``start_from: [...]`` in the space file: the user's own, validated when the file is read;
* ``--warm-start STUDY``: an earlier Optuna study in the same storage, or a KerasTuner study:
  one of cnntune's (``--engine kerastuner``, in the ``kerastuner/`` folder beside the storage)
  or any KerasTuner project folder (``directory/project_name`` of a user's own tuner: its
  ``trial_*/trial.json``). When it searched the same space on the same data, all its finished
  trials become the new study's history (Optuna ``add_trials``: the sampler starts from what
  they taught); otherwise its best N trials are enqueued.

Enqueued trials carry ``origin = warm-start`` (tracked as the ``cnntune.origin`` tag) and
``warm_start`` (where they came from).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..catalog import Direction, State
from ..errors import ConfigError
from .engines import abilities

ORIGIN = "warm-start"


@dataclass
class WarmStart:
    """What a new study starts with: trials to enqueue, and (Optuna) finished trials to add."""

    enqueue: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (params, source)
    history: list[Any] = field(default_factory=list)  # optuna FrozenTrials, same space and data
    notes: list[str] = field(default_factory=list)  # what a user should be told

    def __bool__(self) -> bool:
        return bool(self.enqueue or self.history)

    def add(self, params: dict[str, Any], source: str) -> None:
        """Enqueue ``params`` (from ``source``) unless empty or already enqueued."""
        if params and all(params != p for p, _ in self.enqueue):
            self.enqueue.append((params, source))


def from_space(sp, profile) -> WarmStart:
    """The space's ``start_from`` entries, or with ``auto`` the known-good configurations for
    ``profile`` (a DataProfile), projected onto the space; duplicates dropped."""
    from .autospace import known_good

    own = sp.start_from()
    configs = [(c, "space") for c in own] if own is not None else \
        [(c, "auto") for c in known_good(profile)]
    out = WarmStart()
    for config, source in configs:
        out.add(sp.project(config)[0], source)
    return out


class _Missing(Exception):
    pass


def from_study(storage: str, name: str, sp, *, data_fingerprint: str, best: int,
               engine: str) -> WarmStart:
    """An earlier study's trials (Optuna in ``storage``, else KerasTuner), read without
    writing anything. Raises ConfigError when there is no such study or it has no finished
    trial."""
    try:
        return _from_optuna(storage, name, sp, data_fingerprint=data_fingerprint, best=best,
                            engine=engine)
    except _Missing:
        folder = _kerastuner_project(storage, name)
        if folder is None:
            raise ConfigError(f"--warm-start {name}: no such study in storage '{storage}', nor "
                              "a KerasTuner project folder of that name; give an Optuna study "
                              "in --storage (see `cnntune studies`), or the folder of a "
                              "KerasTuner study (directory/project_name)") from None
        return _from_kerastuner(folder, name, sp, data_fingerprint=data_fingerprint,
                                best=best, engine=engine)


def _from_optuna(storage: str, name: str, sp, *, data_fingerprint: str, best: int,
                 engine: str) -> WarmStart:
    import optuna

    from .engines.optuna import read_storage

    fix = "give the name of an Optuna study in --storage (see `cnntune studies`)"
    missing = _Missing()
    try:
        store = read_storage(storage)  # None: no Optuna storage there
        if store is None or name not in optuna.study.get_all_study_names(store):
            raise missing
        study = optuna.load_study(study_name=name, storage=store)
    except _Missing:
        raise
    except Exception as exc:
        raise ConfigError(f"--warm-start {name}: the study cannot be read "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0]}); {fix}") from None
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == State.COMPLETE]
    if not done:
        raise ConfigError(f"--warm-start {name}: the study has no completed trial to start "
                          "from; finish a trial there first or drop --warm-start")
    out = WarmStart()
    attrs = study.user_attrs
    same = (attrs.get("space_fingerprint") == sp.fingerprint
            and attrs.get("data_fingerprint") == data_fingerprint
            and abilities(engine).takes_history
            and len(study.directions) == len(sp.directions))
    if same:
        out.history = [_copy(t, name) for t in study.get_trials(deepcopy=False)
                       if t.state.name in (State.COMPLETE, State.PRUNED)]
        out.notes.append(f"warm start: {len(out.history)} trials of study '{name}' (same space "
                         "and data) added as history")
        return out
    return _best_enqueued(out, [(t.number, dict(t.params), t.values[0]) for t in done],
                          name, sp, best)


def _best_enqueued(out: WarmStart, done: list[tuple[Any, dict, float]], name: str, sp,
                   best: int) -> WarmStart:
    """The ``best`` best of ``done`` (number, params, value), projected onto ``sp``,
    enqueued, and a note saying so."""
    sign = -Direction(sp.direction).sign  # best first
    dropped: set[str] = set()
    # best value first; among ties the earliest trial (ids as numbers: "2" before "10")
    for number, params, _ in sorted(done, key=lambda d: (sign * d[2], len(str(d[0])),
                                                         str(d[0]))):
        params, lost = sp.project(params)
        dropped.update(lost)
        out.add(params, f"study {name} trial {number}")
        if len(out.enqueue) >= best:
            break
    if not out.enqueue:
        raise ConfigError(f"--warm-start {name}: none of its params ({', '.join(sorted(dropped))}"
                          ") is in this space; start from a study of the same knobs")
    note = f"warm start: the best {len(out.enqueue)} trials of study '{name}' enqueued"
    if dropped:
        note += f"; params not in this space, dropped: {', '.join(sorted(dropped))}"
    out.notes.append(note)
    return out


def _kerastuner_project(storage: str, name: str):
    """The folder of KerasTuner study ``name``: cnntune's of that name beside ``storage``,
    or ``name`` itself when it is a KerasTuner project folder; else None."""
    from pathlib import Path

    from ..errors import StorageError
    from .engines.kerastuner import workdir_for

    candidates = [Path(name)]
    try:
        candidates.append(workdir_for(storage) / name)
    except StorageError:  # a storage with no folder beside it (PostgreSQL)
        pass
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("trial_*/trial.json")):
            return folder
    return None


def _from_kerastuner(folder, name: str, sp, *, data_fingerprint: str, best: int,
                     engine: str) -> WarmStart:
    """A KerasTuner study's completed trials (``trial_*/trial.json``: values and score);
    with cnntune's ``cnntune.json`` beside them, whether it searched the same space and data
    and the runs its trials were tracked with."""
    import json

    ours = folder / "cnntune.json"
    state = json.loads(ours.read_text()) if ours.exists() else {}
    done = []
    for f in sorted(folder.glob("trial_*/trial.json")):
        try:
            t = json.loads(f.read_text())
            values, score = t["hyperparameters"]["values"], t.get("score")
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"--warm-start {name}: '{f}' is not a KerasTuner trial "
                              f"({type(exc).__name__}: {exc}); remove it or start from "
                              "another study") from None
        if t.get("status") == "COMPLETED" and isinstance(score, (int, float)):
            done.append((t.get("trial_id", f.parent.name), dict(values), float(score), t))
    if not done:
        raise ConfigError(f"--warm-start {name}: the study has no completed trial to start "
                          "from; finish a trial there first or drop --warm-start")
    direction = state.get("direction") or _kerastuner_direction(done)
    if direction is None:
        raise ConfigError(f"--warm-start {name}: its trials do not say whether a higher or "
                          "lower score is better; warm-start from a study whose trials "
                          "record their objective's metrics")
    if direction != sp.direction:
        raise ConfigError(f"--warm-start {name}: its score is to {direction} and this "
                          f"space's objective to {sp.direction}; start from a study with "
                          "the same kind of objective")
    out = WarmStart()
    attrs = state.get("attrs", {})
    if attrs.get("space_fingerprint") == sp.fingerprint and \
            attrs.get("data_fingerprint") == data_fingerprint and \
            abilities(engine).takes_history:
        from .engines.optuna import distributions

        dists = distributions(sp)
        out.history = [_kerastuner_trial(sp, dists, n, params, score,
                                         state.get("trials", {}).get(str(n), {}), name)
                       for n, params, score, _ in done]
        out.notes.append(f"warm start: {len(out.history)} trials of KerasTuner study "
                         f"'{name}' (same space and data) added as history")
        return out
    return _best_enqueued(out, [d[:3] for d in done], name, sp, best)


def _kerastuner_direction(done) -> str | None:
    """Maximize or minimize: the direction of the metric whose observations hold the score
    (KerasTuner keeps the objective's name in the tuner, not in the trials)."""
    for *_, score, t in done:
        for m in t.get("metrics", {}).get("metrics", {}).values():
            seen = [v for o in m.get("observations", []) for v in o.get("value", [])]
            if any(abs(v - score) < 1e-12 for v in seen) and m.get("direction") in ("max", "min"):
                return "maximize" if m["direction"] == "max" else "minimize"
    return None


# what a trial copied from another study keeps of its attributes: its figures, its MLflow run
# and model, and how its training ended
CARRIED = ("metrics", "mlflow_run_id", "model_logged", "stopped", "unscored")


def _kerastuner_trial(sp, dists: dict, number, params: dict, score: float, ours: dict,
                      name: str):
    """A completed KerasTuner trial of the same space, as a finished Optuna trial
    (``dists``: the space's Optuna distributions)."""
    import optuna

    params = sp.project(params)[0]
    keep = {k: v for k, v in ours.get("attrs", {}).items()
            if k in CARRIED}
    keep.update(origin=ORIGIN, warm_start=f"study {name} trial {number}")
    return optuna.trial.create_trial(params=params, distributions={k: dists[k] for k in params},
                                     values=[score], state=optuna.trial.TrialState.COMPLETE,
                                     user_attrs=keep)


def _copy(t, source: str):
    """A finished trial of another study, as a trial to add to this one: its params, values,
    epochs and metrics, and the MLflow run (and model) it was tracked with."""
    import optuna

    keep = {k: v for k, v in t.user_attrs.items()
            if k in CARRIED}
    keep.update(origin=ORIGIN, warm_start=f"study {source} trial {t.number}")
    return optuna.trial.create_trial(
        params=dict(t.params), distributions=dict(t.distributions),
        values=list(t.values) if t.state.name == State.COMPLETE else None,
        state=t.state, intermediate_values=dict(t.intermediate_values), user_attrs=keep)
