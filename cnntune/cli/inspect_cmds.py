"""The commands that read a study: studies, trials, best, ui, dashboard, report, explain,
pareto and baseline.
"""

from __future__ import annotations


import click

from ..catalog import (DEFAULT_ENGINE, EXPLAIN_METHODS)
from ..errors import ConfigError
from ..tracking.links import UI_PORT
from ..tracking.stores import DEFAULT_STORAGE
from .options import (CONTEXT, FORMAT, TRACKING, emit_frame, fail)


@click.command(context_settings=CONTEXT)
@click.option("--storage", default=DEFAULT_STORAGE, show_default=True, envvar="CNNTUNE_STORAGE",
              help="Optuna storage (KerasTuner studies: its folder's kerastuner/).")
@FORMAT
def studies(storage, fmt):
    """All studies in a storage, with trial counts by state and the best value."""
    from ..reports.tables import studies_frame

    df = studies_frame(storage)
    if df.empty and fmt == "table":
        click.echo(f"no studies in {storage}; run `cnntune search` first")
        return
    emit_frame(df, fmt)


@click.command(context_settings=CONTEXT)
@click.argument("study")
@click.option("--sort", default=None, metavar="COLUMN",
              help="Sort by a column; prefix - for descending (e.g. -val_accuracy).")
@click.option("--state", default=None, help="Only trials in this state (COMPLETE, PRUNED, ...).")
@FORMAT
@TRACKING
def trials(study, sort, state, fmt, tracking_uri):
    """The trials of a study: params, state, the task's val/test figures, epochs, duration."""
    from ..tracking.studies import StudyView
    from ..reports.tables import trials_frame

    df = trials_frame(StudyView(study, tracking_uri), state=state, sort=sort)
    if fmt == "table":
        df = df.drop(columns=["run_id"])
    emit_frame(df, fmt, title=f"{study}: {len(df)} trials")


@click.command(context_settings=CONTEXT)
@click.argument("study")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@TRACKING
def best(study, fmt, tracking_uri):
    """The best trial of a study: params, metrics, run and model URI."""
    import json

    from ..tracking.studies import StudyView
    from ..tracking.runs import model_uri

    view = StudyView(study, tracking_uri)
    t = view.best()
    metrics = dict(t.metrics)
    scored_now = "test" in t.unscored and t.model_logged
    if scored_now:  # cut at the deadline before its test split was scored: score it now
        from .._quiet import import_tensorflow_quietly

        import_tensorflow_quietly()
        metrics.update(view.test_figures(t))
    info = {"study": study, "trial": t.number, "objective": view.objective,
            "value": t.metrics.get(view.objective), "params": t.params,
            "metrics": metrics, "run_id": t.run_id,
            "model_uri": (f"runs:/{t.run_id}/checkpoint" if t.kept else model_uri(t.run_id))
            if t.model_logged else None, "unscored": list(t.unscored),
            "scored_now": ["test"] if scored_now else []}
    if fmt == "json":
        click.echo(json.dumps(info, indent=1, default=str))
        return
    h = view.task.headline
    test = metrics.get(f"test_{h}")
    click.echo(f"best trial {t.number} of '{study}': {view.objective} {info['value']:.4f}"
               + (" (its best check's, on part of the validation split)"
                  if "val" in t.unscored else "")
               + (f", test {h} {test:.4f}" if test is not None else f", test {h} not scored")
               + (" (scored now from the weights it kept: the search's deadline came first)"
                  if scored_now else ""))
    for k, v in t.params.items():
        click.echo(f"  {k:<18} {v}")
    click.echo(f"run {t.run_id}" + (f", model {info['model_uri']}" if info["model_uri"] else "")
               + (" (the weights it kept when cut at the deadline)" if t.kept else ""))


@click.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind; 0.0.0.0 exposes the UI to the network.")
@click.option("--port", type=int, default=UI_PORT, show_default=True)
@TRACKING
def ui(host, port, tracking_uri):
    """Start the MLflow UI on the tracking store; Ctrl-C stops it."""
    from .ui import MlflowUI

    import signal

    def stop_on_term(signum, frame):  # `kill` and service managers: stop as on Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_term)
    server = MlflowUI(tracking_uri, host=host, port=port)
    url = server.start()
    # MLflow 3.17 opens in its GenAI mode unless the link says otherwise (tracking/links.py)
    click.echo(f"MLflow UI on {tracking_uri}: {url}/#/experiments?workflowType=machine_learning"
               "  (Ctrl-C stops it)")
    for study, link in server.study_links():
        click.echo(f"  {study}: {link}")
    try:
        code = server.wait()
        if code:
            fail(f"mlflow server stopped with exit code {code}", 1)
    except KeyboardInterrupt:
        server.stop()
        click.echo("\nstopped the MLflow UI", err=True)


@click.command(context_settings=CONTEXT)
@click.argument("study")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind; 0.0.0.0 exposes the dashboard to the network.")
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--storage", default=DEFAULT_STORAGE, show_default=True, envvar="CNNTUNE_STORAGE",
              help="The Optuna storage the study was searched with (or CNNTUNE_STORAGE).")
@TRACKING
def dashboard(study, host, port, storage, tracking_uri):
    """Start optuna-dashboard on a study's Optuna storage; Ctrl-C stops it."""
    import signal

    from ..tracking.studies import StudyView
    from ..tuning.engines.optuna import stored_study
    from .ui import OptunaDashboard

    from ..tuning.engines import abilities

    engine = StudyView(study, tracking_uri).settings.get("engine", DEFAULT_ENGINE)
    if not abilities(engine).optuna_storage:
        raise ConfigError(f"study '{study}' was searched with {engine}, which keeps no Optuna "
                          "storage for optuna-dashboard to read; look at it with cnntune ui "
                          "or cnntune report")
    opened, study_id = stored_study(storage, study)

    def stop_on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_term)
    board = OptunaDashboard(opened, study_id, host=host, port=port)
    url = board.start()
    click.echo(f"optuna-dashboard on study '{study}': {url}  (Ctrl-C stops it)")
    try:
        board.serve()
    except KeyboardInterrupt:
        click.echo("\nstopped optuna-dashboard", err=True)


@click.command(context_settings=CONTEXT)
@click.argument("study")
@click.option("--out", default="report.html", show_default=True, type=click.Path(dir_okay=False),
              help="The HTML file to write (its folder is made if need be).")
@click.option("--no-mlflow", is_flag=True, help="Do not log the report to the study's run.")
@TRACKING
def report(study, out, no_mlflow, tracking_uri):
    """One HTML page about a study and its winner, offline and self-contained.

    \b
    The winner: params, test figures, export size and latency where measured,
      architecture, learning curves, test confusion matrix, misclassified examples,
      Grad-CAM, the baselines beside it.
    The search: history, learning curves, parallel coordinates, slices, importances,
      timeline, the trials table. Also logged to the study's MLflow run."""
    from ..reports.report import build_report

    path, sections = build_report(study, tracking_uri=tracking_uri, out=out,
                                  log_to_mlflow=not no_mlflow)
    size = path.stat().st_size / 1e6
    click.echo(f"wrote {path} ({len(sections)} sections, {size:.1f} MB)"
               + ("" if no_mlflow else "; also logged as the study run's report/report.html"))


@click.command(context_settings=CONTEXT)
@click.argument("study")
@click.option("--method", type=click.Choice(EXPLAIN_METHODS), default="gradcam",
              show_default=True)
@click.option("--trial", type=int, default=None, help="Trial number [default: the best].")
@click.option("--images", multiple=True, metavar="PATH",
              help="Image files or folders to explain (repeatable) [default: test images].")
@click.option("--n", "n", type=int, default=16, show_default=True,
              help="Test images to explain when no --images are given.")
@click.option("--out", default="explain", show_default=True, type=click.Path(file_okay=False))
@TRACKING
def explain(study, method, trial, images, n, out, tracking_uri):
    """Grad-CAM or saliency maps of a trial's model over images, and its feature maps."""
    from ..reports.explain import explain_study

    res = explain_study(study, tracking_uri=tracking_uri, out=out, method=method, trial=trial,
                        images=list(images) or None, n=n)
    click.echo(f"trial {res['trial']} of '{study}': wrote {res['grid']} and "
               f"{res['activations']}; also logged under explain/ of run {res['run_id']}")


@click.command(context_settings=CONTEXT)
@click.argument("study")
@click.option("--out", default="pareto.html", show_default=True, type=click.Path(dir_okay=False),
              help="The plot (HTML) of the front; also logged to the study's run.")
@FORMAT
@TRACKING
def pareto(study, out, fmt, tracking_uri):
    """The Pareto front of a multi-objective study: a table and a plot."""
    from ..reports.pareto import front_frame, plot
    from ..tracking.studies import StudyView

    view = StudyView(study, tracking_uri)
    path = plot(view, out)
    emit_frame(front_frame(view), fmt, title=f"{study}: Pareto front (feasible trials)"
                if fmt == "table" else None)
    if fmt == "table":
        click.echo(f"plot: {path} (also logged as pareto/front.html of the study run)")


@click.command(context_settings=CONTEXT)
@click.argument("study")
@TRACKING
def baseline(study, tracking_uri):
    """Classical baselines on a study's splits, logged beside its trials: logistic
    regression, an RBF SVM and a random forest (classification); ridge and a random forest
    (regression); a logistic regression per label and a random forest (multi-label)."""
    from ..tuning.baselines import baseline_study

    for r in baseline_study(study, tracking_uri=tracking_uri):
        m, h = r["metrics"], r["headline"]
        click.echo(f"{r['name']:<20} val_{h} {m[f'val_{h}']:.4f}  test_{h} "
                   f"{m[f'test_{h}']:.4f}  ({m['fit_seconds']:.1f}s)")
