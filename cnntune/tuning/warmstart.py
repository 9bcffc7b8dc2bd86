"""Warm starts: the configurations a study tries first, and the history it may start with.

Three sources, each projected onto the study's space (``SearchSpace.project``: a value snaps to
the nearest one the param can take; a param the space lacks is dropped and said so; a param the
configuration lacks is left to the sampler):

* ``start_from: auto`` (the default): cnntune's known-good configurations for data of this
  shape (``autospace.known_good``);
* ``start_from: [...]`` in the space file: the user's own, validated when the file is read;
* ``--warm-start STUDY``: an earlier Optuna study in the same storage. When it searched the same
  space on the same data, all its finished trials become the new study's history (Optuna
  ``add_trials``: the sampler starts from what they taught); otherwise its best N trials are
  enqueued.

Enqueued trials carry ``origin = warm-start`` (tracked as the ``cnntune.origin`` tag) and
``warm_start`` (where they came from).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..catalog import Direction
from ..errors import ConfigError

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


def from_study(storage: str, name: str, sp, *, data_fingerprint: str, best: int,
               engine: str) -> WarmStart:
    """An earlier Optuna study's trials, read without writing anything. Raises ConfigError
    when the study does not exist or has no finished trial."""
    import optuna

    from ..tracking.stores import journal_path, sqlite_path

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    fix = "give the name of an Optuna study in --storage (see `cnntune studies`)"
    missing = ConfigError(f"--warm-start {name}: no such study in storage '{storage}'; {fix}")
    db = journal_path(storage) or sqlite_path(storage)
    if ("://" not in storage and not storage.startswith("journal:")) or \
            (db is not None and not db.exists()):
        raise missing
    from .engines.optuna import journal_storage

    try:
        store = journal_storage(db) if storage.startswith("journal:") else storage
        if name not in optuna.study.get_all_study_names(store):
            raise missing
        study = optuna.load_study(study_name=name, storage=store)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"--warm-start {name}: the study cannot be read "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0]}); {fix}") from None
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not done:
        raise ConfigError(f"--warm-start {name}: the study has no completed trial to start "
                          "from; finish a trial there first or drop --warm-start")
    out = WarmStart()
    attrs = study.user_attrs
    same = (attrs.get("space_fingerprint") == sp.fingerprint
            and attrs.get("data_fingerprint") == data_fingerprint and engine == "optuna"
            and len(study.directions) == len(sp.directions))
    if same:
        out.history = [_copy(t, name) for t in study.get_trials(deepcopy=False)
                       if t.state.name in ("COMPLETE", "PRUNED")]
        out.notes.append(f"warm start: {len(out.history)} trials of study '{name}' (same space "
                         "and data) added as history")
        return out
    sign = -Direction(sp.direction).sign  # best first
    dropped: set[str] = set()
    for t in sorted(done, key=lambda t: (sign * t.values[0], t.number)):
        params, lost = sp.project(dict(t.params))
        dropped.update(lost)
        out.add(params, f"study {name} trial {t.number}")
        if len(out.enqueue) >= best:
            break
    note = f"warm start: the best {len(out.enqueue)} trials of study '{name}' enqueued"
    if dropped:
        note += f"; params not in this space, dropped: {', '.join(sorted(dropped))}"
    out.notes.append(note)
    return out


def _copy(t, source: str):
    """A finished trial of another study, as a trial to add to this one: its params, values,
    epochs and metrics, and the MLflow run (and model) it was tracked with."""
    import optuna

    keep = {k: v for k, v in t.user_attrs.items()
            if k in ("metrics", "mlflow_run_id", "model_logged", "stopped")}
    keep.update(origin=ORIGIN, warm_start=f"study {source} trial {t.number}")
    return optuna.trial.create_trial(
        params=dict(t.params), distributions=dict(t.distributions),
        values=list(t.values) if t.state.name == "COMPLETE" else None,
        state=t.state, intermediate_values=dict(t.intermediate_values), user_attrs=keep)
