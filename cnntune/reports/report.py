"""`cnntune report`: one self-contained HTML page of a study, built with Optuna's
visualisation module (plotly), and the same figures logged to the study's MLflow run.

The study is read back from MLflow (``StudyView``), so Optuna and KerasTuner studies get the
same report: its trials are copied into an in-memory Optuna study (params with the space's
distributions, per-epoch objective values as intermediate values, states kept), which is what
Optuna's plots read. Figures: optimisation history, parameter importances (fANOVA), parallel
coordinates, slice plots, intermediate values (learning curves, pruned trials included), and
the trials table.
"""

from __future__ import annotations

import html
import math
import time
from pathlib import Path

from ..files import write_text
from ..errors import ConfigError


def optuna_study(view, *, with_curves: bool = True):
    """The trials of ``view`` as an in-memory Optuna study (see the module docstring)."""
    import optuna
    from optuna.trial import TrialState, create_trial

    from ..tuning.engines.optuna import distributions

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    dists = distributions(view.space)
    study = optuna.create_study(study_name=view.study, direction=view.direction)
    states = {"COMPLETE": TrialState.COMPLETE, "PRUNED": TrialState.PRUNED,
              "FAIL": TrialState.FAIL}
    objective = view.objective
    for t in view.trials():
        state = states.get(t.state)
        if state is None:  # RUNNING: not finished, not plotted
            continue
        params = {k: v for k, v in t.params.items() if k in dists}
        curve = {}
        if with_curves:
            hist = view.client.get_metric_history(t.run_id, f"epoch/{objective}")
            curve = {m.step: m.value for m in hist if math.isfinite(m.value)}
        value = t.metrics.get(objective) if state == TrialState.COMPLETE else None
        if state == TrialState.COMPLETE and (value is None or not math.isfinite(value)):
            state, value = TrialState.FAIL, None
        study.add_trial(create_trial(
            state=state, value=value, params=params,
            distributions={k: dists[k] for k in params}, intermediate_values=curve,
            user_attrs={"number": t.number, "test_accuracy": t.metrics.get("test_accuracy")}))
    return study


def figures(study) -> dict:
    """name -> (title, plotly figure); figures that do not apply are left out."""
    from optuna import visualization as vis

    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    out = {}
    if not study.trials:
        return out
    out["history"] = ("Optimisation history", vis.plot_optimization_history(study))
    if any(t.intermediate_values for t in study.trials):
        out["intermediate"] = ("Learning curves (objective per epoch; pruned trials too)",
                               vis.plot_intermediate_values(study))
    varying = [k for k in {k for t in done for k in t.params}
               if len({repr(t.params.get(k)) for t in done}) > 1]
    if len(done) >= 2 and varying:
        out["parallel"] = ("Parallel coordinates", vis.plot_parallel_coordinate(
            study, params=sorted(varying)))
        out["slice"] = ("Slice plots", vis.plot_slice(study, params=sorted(varying)))
        if len(done) >= 3:
            try:
                out["importances"] = ("Parameter importances (fANOVA)",
                                      vis.plot_param_importances(study))
            except (ValueError, RuntimeError):  # too few distinct trials for the estimator
                pass
    for _, fig in out.values():
        fig.update_layout(template="plotly_white", margin=dict(l=40, r=20, t=50, b=40))
    return out


def build_report(study: str, *, tracking_uri: str, out: str | Path, log_to_mlflow: bool = True):
    """Write the HTML report; return (path, figure names)."""
    from ..tracking.studies import StudyView
    from .tables import trials_frame

    view = StudyView(study, tracking_uri)
    ostudy = optuna_study(view)
    if not ostudy.trials:
        raise ConfigError(f"study '{study}' has no finished trial to report yet")
    figs = figures(ostudy)
    table = trials_frame(view)
    page = _page(view, figs, table)
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"--out '{out}' is a folder; give a file name such as report.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, page)
    if log_to_mlflow:
        run_id = view.parent.info.run_id
        for name, (_, fig) in figs.items():
            view.client.log_figure(run_id, fig, f"report/{name}.html")
        view.client.log_text(run_id, page, "report/report.html")
    return out, list(figs)


def _page(view, figs: dict, table) -> str:
    import plotly.offline

    parts = []
    for name, (title, fig) in figs.items():
        parts.append(f"<h2>{html.escape(title)}</h2>\n" + fig.to_html(
            full_html=False, include_plotlyjs=False, div_id=f"fig-{name}"))
    best = view.best() if any(t.state == "COMPLETE" for t in view.trials()) else None
    summary = (f"best trial {best.number}: {view.objective} "
               f"{best.metrics.get(view.objective, float('nan')):.4f}, test accuracy "
               f"{best.metrics.get('test_accuracy', float('nan')):.4f}" if best else
               "no completed trial")
    counts = table["state"].value_counts().to_dict()
    s = view.settings
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>cnntune report: {html.escape(view.study)}</title>
<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:2px 6px}}
h2{{margin-top:2em}}</style></head><body>
<h1>Study {html.escape(view.study)}</h1>
<p>{html.escape(summary)}. Trials: {html.escape(', '.join(f'{k} {v}' for k, v in
                                                           counts.items()))}.
Engine {html.escape(s.get('engine', '?'))} / {html.escape(s.get('algorithm', '?'))},
data {html.escape(s.get('data', '?'))}, objective {html.escape(view.objective)}
({html.escape(view.direction)}). Generated {time.strftime('%Y-%m-%d %H:%M')}.</p>
{''.join(parts)}
<h2>Trials</h2>
{table.to_html(index=False, na_rep='', float_format=lambda v: f'{v:.4g}', border=0)}
</body></html>
"""
