"""The study's figures: Optuna's visualisation module where it draws with scatter and bar
traces (history, learning curves, slices, importances), and cnntune's own parallel coordinates
and timeline, drawn with the same two trace types so that the page needs only plotly.js' basic
bundle (``page.py``). Optuna's parallel-coordinate plot uses the ``parcoords`` trace, which
the basic bundle does not have."""

from __future__ import annotations

import math
from typing import Any

from ..catalog import State

LAYOUT = dict(template="plotly_white", margin=dict(l=50, r=20, t=50, b=40))
STATE_COLOR = {State.COMPLETE: "#2c7fb8", State.PRUNED: "#f0a202", State.FAIL: "#d7301f",
               State.RUNNING: "#999999", State.INTERRUPTED: "#999999"}


def search_figures(ostudy, view) -> dict[str, tuple[str, Any]]:
    """name -> (title, plotly figure) for the search as a whole; those that do not apply are
    left out. ``ostudy`` is the study as an in-memory Optuna study (``report.optuna_study``)."""
    from optuna import visualization as vis

    done = [t for t in ostudy.trials if t.state.name == State.COMPLETE]
    out: dict[str, tuple[str, Any]] = {}
    if not ostudy.trials:
        return out
    out["history"] = ("Optimisation history", vis.plot_optimization_history(ostudy))
    if any(t.intermediate_values for t in ostudy.trials):
        out["intermediate"] = ("Learning curves of every trial (objective per "
                               "epoch, or per check; pruned trials too)",
                               vis.plot_intermediate_values(ostudy))
    varying = [k for k in view.space.order
               if len({repr(t.params.get(k)) for t in done if k in t.params}) > 1]
    if len(done) >= 2 and varying:
        out["parallel"] = ("Parallel coordinates", parallel_coordinates(
            done, varying, view.space, view.objective, view.direction))
        out["slice"] = ("Slice plots", vis.plot_slice(ostudy, params=varying))
        if len(done) >= 3:
            try:
                out["importances"] = ("Parameter importances (fANOVA)",
                                      vis.plot_param_importances(ostudy))
            except (ValueError, RuntimeError):  # too few distinct trials for the estimator
                pass
    trials = view.trials()
    if any(t.started and t.ended for t in trials):
        out["timeline"] = ("Timeline: each trial over wall time, by state, with its time in "
                           "fit", timeline(trials))
    for _, fig in out.values():
        fig.update_layout(**LAYOUT)
    return out


def parallel_coordinates(done, params: list[str], space, objective: str, direction: str):
    """One line per completed trial across one axis per param and the objective, coloured by
    the objective (best drawn on top). Numeric axes run from the lowest to the highest value
    tried (log-scaled for log params); categorical axes list their options in space order."""
    import plotly.graph_objects as go
    from plotly.colors import sample_colorscale

    axes = [*params, objective]
    positions: dict[str, Any] = {}
    ticks: dict[str, tuple[list[float], list[str]]] = {}
    for name in params:
        values = [t.params.get(name) for t in done]
        spec = space.params.get(name)
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values
               if v is not None):
            log = bool(getattr(spec, "log", False))
            positions[name], ticks[name] = _numeric_axis(values, log)
        else:
            options = [o for o in ((spec.options() if spec else None) or []) if o in values]
            options += sorted({v for v in values if v not in options}, key=repr)
            span = max(1, len(options) - 1)
            positions[name] = [None if v is None else options.index(v) / span for v in values]
            ticks[name] = ([i / span for i in range(len(options))], [str(o) for o in options])
    scores = [t.value for t in done]
    positions[objective], ticks[objective] = _numeric_axis(scores, False)
    lo, hi = min(scores), max(scores)
    shade = [(s - lo) / (hi - lo) if hi > lo else 1.0 for s in scores]
    if direction == "minimize":
        shade = [1 - s for s in shade]
    colors = sample_colorscale("Viridis", shade)
    fig = go.Figure()
    for i in sorted(range(len(done)), key=lambda i: shade[i]):  # the best on top
        t = done[i]
        hover = "<br>".join([f"trial {t.user_attrs.get('number', t.number)}"]
                            + [f"{a}: {_fmt(t.params.get(a) if a != objective else t.value)}"
                               for a in axes])
        fig.add_trace(go.Scatter(x=list(range(len(axes))), y=[positions[a][i] for a in axes],
                                 mode="lines+markers", line=dict(color=colors[i], width=2),
                                 marker=dict(size=5), hovertext=hover, hoverinfo="text",
                                 showlegend=False, connectgaps=False))
    for k, a in enumerate(axes):  # the axes and their value labels
        fig.add_shape(type="line", x0=k, x1=k, y0=0, y1=1, line=dict(color="#444", width=1))
        for y, label in zip(*ticks[a]):
            fig.add_annotation(x=k, y=y, text=label, showarrow=False, xshift=4,
                               xanchor="left", font=dict(size=10, color="#333"))
    fig.update_xaxes(tickvals=list(range(len(axes))), ticktext=axes, showgrid=False,
                     range=[-0.3, len(axes) - 0.4])
    fig.update_yaxes(visible=False, range=[-0.05, 1.05])
    fig.update_layout(title=f"Completed trials, coloured by {objective}", height=460)
    return fig


def _numeric_axis(values: list, log: bool) -> tuple[list, tuple[list[float], list[str]]]:
    tf = (lambda v: math.log10(v)) if log else (lambda v: float(v))
    ok = [tf(v) for v in values if v is not None and (not log or v > 0)]
    lo, hi = (min(ok), max(ok)) if ok else (0.0, 1.0)
    span = hi - lo or 1.0
    pos = [None if v is None or (log and v <= 0) else (tf(v) - lo) / span for v in values]
    raw = [v for v in values if v is not None]
    low, high = (min(raw), max(raw)) if raw else (0, 1)
    return pos, ([0.0, 1.0] if hi > lo else [0.5], [_fmt(low), _fmt(high)] if hi > lo
                 else [_fmt(low)])


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def timeline(trials) -> Any:
    """Horizontal bars: each trial from its run's start to its end (seconds since the first
    trial started), the part spent in ``fit`` solid and the rest (building, scoring, logging)
    pale, coloured by state."""
    import plotly.graph_objects as go

    timed = [t for t in trials if t.started and t.ended]
    t0 = min(t.started for t in timed)
    fig = go.Figure()
    for state in dict.fromkeys(t.state for t in timed):
        group = [t for t in timed if t.state == state]
        color = STATE_COLOR.get(state, "#999999")
        fit = [min(t.metrics.get("fit_seconds", 0.0), t.ended - t.started) for t in group]
        names = [f"trial {t.number}" for t in group]
        fig.add_trace(go.Bar(
            y=names, x=fit, base=[t.started - t0 for t in group], orientation="h",
            marker_color=color, name=f"{state.lower()}: fit", legendgroup=state,
            hovertemplate="%{y}: fit %{x:.1f} s<extra></extra>"))
        fig.add_trace(go.Bar(
            y=names, x=[t.ended - t.started - f for t, f in zip(group, fit)],
            base=[t.started - t0 + f for t, f in zip(group, fit)], orientation="h",
            marker_color=color, opacity=0.35, name=f"{state.lower()}: other",
            legendgroup=state,
            customdata=[t.ended - t.started for t in group],
            hovertemplate="%{y}: %{customdata:.1f} s in all<extra></extra>"))
    order = [f"trial {t.number}" for t in sorted(timed, key=lambda t: t.number, reverse=True)]
    fig.update_yaxes(categoryorder="array", categoryarray=order)
    fig.update_xaxes(title="seconds since the first trial started")
    fig.update_layout(barmode="overlay", height=max(300, 18 * len(timed) + 120),
                      title="Trials over wall time (solid: fit)")
    return fig
