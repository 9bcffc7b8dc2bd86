"""Pareto fronts of multi-objective studies, and picking one of their trials.

Read back from MLflow (``StudyView``): the study's objectives and directions (its run's
params), and its completed trials that met every constraint (tag ``cnntune.feasible``). A trial
is on the front when no other feasible trial is at least as good in every objective and
better in one.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from ..catalog import Direction, State
from ..errors import ConfigError

PICKS = ("fastest-above", "smallest-above", "best")


def objectives_of(view) -> tuple[list[str], list[str]]:
    names = [o for o in view.settings.get("objectives", view.objective).split(",") if o]
    dirs = [d for d in view.settings.get("directions", view.direction).split(",") if d]
    return names, dirs


def feasible_trials(view) -> list:
    return [t for t in view.trials() if t.state == State.COMPLETE
            and t.tags.get("cnntune.feasible", "true") == "true"]


def front(view) -> list:
    """The non-dominated feasible trials, by the primary objective."""
    names, dirs = objectives_of(view)
    trials = [t for t in feasible_trials(view) if all(n in t.metrics for n in names)]
    sign = [Direction(d).sign for d in dirs]

    def key(t):
        return [s * t.metrics[n] for s, n in zip(sign, names)]  # larger is better

    def dominates(a, b):
        ka, kb = key(a), key(b)
        return all(x >= y for x, y in zip(ka, kb)) and any(x > y for x, y in zip(ka, kb))

    out = [t for t in trials if not any(dominates(o, t) for o in trials if o is not t)]
    return sorted(out, key=lambda t: -key(t)[0])


def front_frame(view):
    import pandas as pd

    names, _ = objectives_of(view)
    rows = []
    for t in front(view):
        rows.append({"number": t.number, **{n: t.metrics.get(n) for n in names},
                     f"test_{view.task.headline}": t.metrics.get(f"test_{view.task.headline}"),
                     "n_params": t.metrics.get("n_params"),
                     "latency_ms": t.metrics.get("latency_ms"),
                     "size_mb": t.metrics.get("size_mb"), "run_id": t.run_id})
    cols = ["number", *dict.fromkeys([*names, f"test_{view.task.headline}", "n_params",
                                      "latency_ms", "size_mb"]), "run_id"]
    return pd.DataFrame(rows, columns=cols).dropna(axis=1, how="all")


def plot(view, out: str | Path, log_to_mlflow: bool = True) -> Path:
    """All feasible trials and the front, first objective against the second (HTML)."""
    import plotly.graph_objects as go

    names, dirs = objectives_of(view)
    if len(names) < 2:
        raise ConfigError(f"study '{view.study}' has one objective ({names[0]}); a Pareto "
                          "front needs objectives: [..., ...] in the space")
    x, y = names[1], names[0]
    on = {t.number for t in front(view)}
    allt = feasible_trials(view)
    fig = go.Figure()
    for label, ts, size in (("feasible trials", [t for t in allt if t.number not in on], 7),
                            ("Pareto front", sorted([t for t in allt if t.number in on],
                                                    key=lambda t: t.metrics[x]), 11)):
        fig.add_trace(go.Scatter(
            x=[t.metrics.get(x) for t in ts], y=[t.metrics.get(y) for t in ts],
            mode="markers+lines" if label == "Pareto front" else "markers", name=label,
            marker={"size": size}, text=[f"trial {t.number}" for t in ts]))
    fig.update_layout(title=f"{view.study}: {y} ({dirs[0]}) against {x} ({dirs[1]})",
                      xaxis_title=x, yaxis_title=y, template="plotly_white")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(out, include_plotlyjs=True)
    if log_to_mlflow:
        view.attach_figure(fig, "pareto/front.html")
        view.attach_text(front_frame(view).to_csv(index=False), "pareto/front.csv")
    return out


def pick(view, how: str, threshold: float | None) -> int:
    """A trial number: ``fastest-above X`` (lowest latency with the task's accuracy-like
    validation figure, val_accuracy or val_r2, >= X), ``smallest-above X`` (fewest params),
    ``best`` (best primary objective)."""
    if how not in PICKS:
        raise ConfigError(f"--pick {how} is unknown; use one of {', '.join(PICKS)}")
    trials = feasible_trials(view)
    if how == "best":
        return view.best().number
    if threshold is None:
        raise ConfigError(f"--pick {how} needs an accuracy, e.g. --pick {how} 0.97")
    metric = "latency_ms" if how == "fastest-above" else "n_params"
    score = f"val_{view.task.headline}"
    ok = [t for t in trials if t.metrics.get(score, -math.inf) >= threshold
          and metric in t.metrics]
    if not ok:
        if not any(metric in t.metrics for t in trials):
            raise ConfigError(f"study '{view.study}' has no {metric} per trial; add "
                              f"{metric} to its objectives or constraints")
        best = max((t.metrics.get(score, -math.inf) for t in trials), default=-math.inf)
        raise ConfigError(f"no feasible trial of '{view.study}' reaches {score} "
                          f">= {threshold} (best {best:.4f}); lower the threshold")
    return min(ok, key=lambda t: (t.metrics[metric], t.number)).number


def parse_pick(text: str) -> tuple[str, float | None]:
    m = re.fullmatch(r"\s*([a-z-]+)(?:[\s=:]+([0-9.]+))?\s*", text)
    if not m:
        raise ConfigError(f"--pick '{text}' is not understood; e.g. --pick 'fastest-above 0.97'")
    return m.group(1), float(m.group(2)) if m.group(2) else None
