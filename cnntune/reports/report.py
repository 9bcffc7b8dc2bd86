"""`cnntune report`: one self-contained HTML page of a study, built with Optuna's
visualisation module (plotly), and the same figures logged to the study's MLflow run.

The study is read back from MLflow (``StudyView``), so Optuna and KerasTuner studies get the
same report: its trials are copied into an in-memory Optuna study (params with the space's
distributions, per-epoch objective values as intermediate values, states kept), which is what
Optuna's plots read. Figures: optimisation history, parameter importances (fANOVA), parallel
coordinates, slice plots, intermediate values (learning curves, pruned trials included), the
timeline and the trials table (``figures.py``); before them, the winning trial's sections
(``winner.py``). ``page.py`` makes the page: self-contained, about 0.6 MB plus its images.
"""

from __future__ import annotations

import html
import math
import time
from pathlib import Path

from ..catalog import State
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
    states = {State.COMPLETE: TrialState.COMPLETE, State.PRUNED: TrialState.PRUNED,
              State.FAIL: TrialState.FAIL}
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
            user_attrs={"number": t.number, **{k: t.metrics.get(k) for k in (
                f"test_{view.task.headline}",)}}))
    return study


def build_report(study: str, *, tracking_uri: str, out: str | Path, log_to_mlflow: bool = True,
                 winner: bool = True):
    """Write the HTML report (creating ``out``'s folder if need be); return (path, section
    names). ``winner=False`` leaves out the sections that load the winning model."""
    from ..tracking.studies import StudyView
    from .figures import search_figures
    from .page import Section, render, table_html
    from .tables import trials_frame

    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"--out '{out}' is a folder; give a file name such as report.html")
    view = StudyView(study, tracking_uri)
    ostudy = optuna_study(view)
    if not ostudy.trials:
        raise ConfigError(f"study '{study}' has no finished trial to report yet")
    table = trials_frame(view)
    best = view.best() if any(t.state == State.COMPLETE for t in view.trials()) else None
    sections = []
    if best is not None and winner:
        from .winner import winner_sections

        sections += winner_sections(view, best)
    for name, (title, fig) in search_figures(ostudy, view).items():
        sections.append(Section(title).figure(f"fig-{name}", fig))
    sections.append(Section("Trials").html(table_html(table)))
    page = render(f"cnntune report: {view.study}", _intro(view, best, table), sections)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, page)
    if log_to_mlflow:
        view.attach_text(page, "report/report.html")
    return out, [s.title for s in sections]


def _intro(view, best, table) -> str:
    h = view.task.headline
    summary = (f"best trial {best.number}: {view.objective} "
               f"{best.metrics.get(view.objective, float('nan')):.4f}, test {h} "
               f"{best.metrics.get(f'test_{h}', float('nan')):.4f}" if best else
               "no completed trial")
    counts = table["state"].value_counts().to_dict()
    s = view.settings
    return f"""<p>{html.escape(summary)}. Trials: {html.escape(', '.join(
        f'{k} {v}' for k, v in counts.items()))}.
Engine {html.escape(s.get('engine', '?'))} / {html.escape(s.get('algorithm', '?'))},
data {html.escape(s.get('data', '?'))}, objective {html.escape(view.objective)}
({html.escape(view.direction)}). Generated {time.strftime('%Y-%m-%d %H:%M')}.</p>"""
