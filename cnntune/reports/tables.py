"""Studies and trials as pandas tables, for `cnntune studies`, `cnntune trials` and reports.

``trials_frame`` reads a study back from MLflow (both engines): one row per trial with its
number, state, origin (``warm-start``; empty: the sampler's), why its training ended early
(``early_stopping``, ``pruned``, ``deadline``...), every param (empty where it was inactive),
the objective and test metrics, epochs, duration and run id. Params keep their types: ints
stay integers (nullable ``Int64``, empty where a conditional param was inactive), bools stay
bools, so ``pandas.read_csv`` of ``--format csv`` gives numbers for numbers (float where a
column has empty cells), bools for bools and strings for strings.
"""

from __future__ import annotations

from typing import Any

from ..catalog import STATES
from ..errors import ConfigError

# beside the task's figures (``Task.columns``: the class-balanced scores where a study's
# trials have them, studies made before they were measured have not)
METRIC_COLUMNS = ("epochs", "best_epoch", "n_params", "trial_seconds")


def studies_frame(storage: str):
    import pandas as pd

    from ..tuning.engines import list_studies

    rows = []
    for s in list_studies(storage):
        c = s["counts"]
        rows.append({"study": s["study"], "engine": s["engine"], "direction": s["direction"],
                     "trials": s["trials"],
                     **{state.lower(): c.get(state, 0) for state in STATES[:4]},
                     "best_value": s["best_value"],
                     "best_trial": s["best_trial"],
                     "data": s["attrs"].get("data"),
                     "started": s["started"]})
    df = pd.DataFrame(rows, columns=["study", "engine", "direction", "trials", "complete",
                                     "pruned", "fail", "running", "best_value", "best_trial",
                                     "data", "started"])
    df["started"] = pd.to_datetime(df["started"]).dt.floor("s")
    return df.astype({"best_trial": "Int64"})


def trials_frame(view, *, state: str | None = None, sort: str | None = None):
    """The trials of a ``StudyView`` as a DataFrame (see the module docstring)."""
    import pandas as pd


    space_params = view.space.params
    trials = view.trials()
    main, scores = view.task.columns({k for t in trials for k in t.metrics})
    metrics = (*main, *METRIC_COLUMNS, *scores,
               # k-fold studies: the objective's spread over the folds, and how many ran
               *sorted({k for t in trials for k in t.metrics if k.endswith("_std")}),
               *(("folds",) if any("folds" in t.metrics for t in trials) else ()))
    # the space's params, then those a user's builder or hypermodel sampled as it ran
    names = list(view.space.order)
    names += [k for k in dict.fromkeys(k for t in trials for k in t.params) if k not in names]
    rows: list[dict[str, Any]] = []
    for t in trials:
        row: dict[str, Any] = {"number": t.number, "state": t.state,
                               # where its params came from, why its training ended early
                               "origin": t.tags.get("cnntune.origin"),
                               "stopped": t.tags.get("cnntune.stopped")}
        for name in names:
            row[name] = t.params.get(name)
        for m in metrics:
            row[m] = t.metrics.get(m)
        row["run_id"] = t.run_id
        rows.append(row)
    for b in view.baselines():  # classical models on the same splits, beside the CNNs
        rows.append({"number": None, "state": "BASELINE", "model": b["name"],
                     **{m: b["metrics"].get(m) for m in metrics}, "run_id": b["run_id"]})
    for row in rows:
        row.setdefault("model", "cnn")
    columns = ["number", "state", "model", "origin", "stopped", *names,
               *metrics, "run_id"]
    df = pd.DataFrame(rows, columns=columns)
    has_baselines = (df["state"] == "BASELINE").any()
    dtypes: dict[str, str] = {"number": "Int64" if has_baselines else "int64",
                              "state": "string", "model": "string", "origin": "string",
                              "stopped": "string", "run_id": "string"}
    for name in view.space.order:
        dtypes[name] = space_params[name].dtype()
    for m in metrics:
        dtypes[m] = "float64"
    for m in ("epochs", "best_epoch", "n_params"):  # epochs: fractions with several checks
        whole = m in df.columns and bool((df[m].dropna() % 1 == 0).all())
        dtypes[m] = "Int64" if whole or m == "n_params" else "float64"
    df = df.astype({k: v for k, v in dtypes.items() if k in df.columns})
    if state:
        want = state.upper()
        if want not in STATES:
            raise ConfigError(f"--state {state} is unknown; use one of {', '.join(STATES)}")
        df = df[df["state"] == want]
    if sort:
        desc = sort.startswith("-")
        key = sort.lstrip("-")
        if key not in df.columns:
            raise ConfigError(f"--sort {key}: no such column; use one of "
                              f"{', '.join(df.columns)} (prefix - for descending)")
        df = df.sort_values(key, ascending=not desc, na_position="last", kind="stable")
    return df.reset_index(drop=True)
