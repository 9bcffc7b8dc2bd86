"""The `cnntune` command line: thin commands over the Python API.

The only module that prints for humans or exits. Heavy imports happen inside commands, so
`cnntune --help` and `cnntune space validate` answer at once.
"""

from __future__ import annotations

import sys

import click

from ..version import __version__
from ..catalog import (ALGORITHMS, DEFAULT_ENGINE, EMBEDDED, ENGINES, EXPLAIN_METHODS, FORMATS,
                      PRUNERS, QUANTIZE, SAMPLERS)
from ..errors import CnntuneError, ConfigError
from ..tracking.links import UI_PORT
from ..tracking.stores import DEFAULT_STORAGE, DEFAULT_TRACKING_URI

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _process_start() -> float:
    """When this process started (``time.time()``), so that --timeout counts start-up too."""
    import os
    import time

    now = time.time()
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return min(now, boot + ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, StopIteration):
        return now


class _Group(click.Group):
    """Turns cnntune's own errors into one line on stderr and the right exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CnntuneError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            click.echo("\ninterrupted: finished trials are saved; run the same command again "
                       "to resume the study", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="cnntune")
def cli():
    """Hyperparameter and architecture search for Keras CNNs.

    \b
    Start with:   cnntune search                 (digits, a space picked for the data)
    Then look:    cnntune ui  (the MLflow UI),  cnntune trials auto-digits
    """


# ----------------------------------------------------------------------------------- space


@cli.group(context_settings=CONTEXT)
def space():
    """Check and inspect search-space files (no TensorFlow needed)."""


@space.command("validate")
@click.argument("files", nargs=-1, required=True)
def space_validate(files):
    """Validate one or more search-space files; exit 2 on the first invalid one."""
    from ..space import load_space

    for f in files:
        sp = load_space(f)
        click.echo(f"ok: {f} ({len(sp.params)} params, objective {sp.primary}, "
                   f"{sp.search.engine} {sp.search.algorithm_for(sp.search.engine)})")


@space.command("show")
@click.argument("file", required=False, default="auto")
@click.option("--data", default=None, help="With the auto space (no FILE): the data to pick the "
              "space for - digits, an .npz file, a CSV or an image folder [default: digits].")
def space_show(file, data):
    """Show the params of a space, in sampling order, with their conditions and settings.

    With no FILE (or `auto`), print as YAML the space `cnntune search --data SRC` would pick
    for the data: copy it to a file, edit it, pass it with --space."""
    from rich.console import Console
    from rich.table import Table

    from ..space import load_space
    from ..tuning.plan import AUTO, auto_plan

    if file == AUTO:
        sp, dataset = auto_plan(data)
        click.echo(f"# data '{dataset.name}': {dataset.describe_splits()}; "
                   f"{dataset.meta.get('storage', 'in memory')}")
        if dataset.skipped_note():
            click.echo(dataset.skipped_note(), err=True)
        click.echo(sp.text, nl=False)
        return
    if data is not None:
        raise ConfigError(f"--data picks the auto space; space '{file}' names its own data "
                          "(drop --data, or drop FILE to see the auto space)")
    sp = load_space(file)
    console = Console()
    table = Table(title=f"{sp.name}: {sp.spec.description or sp.source}", title_justify="left")
    for col in ("param", "values", "only when"):
        table.add_column(col)
    for row in sp.describe():
        table.add_row(*row)
    console.print(table)
    d, t, s = sp.data, sp.training, sp.search
    console.print(f"data: {d.source or 'digits'}{' ' + d.path if d.path else ''} "
                  f"(val {d.val_fraction}, test {d.test_fraction})")
    console.print(f"training: {t.epochs} epochs, patience {t.patience}, objective "
                  f"{t.objective} ({sp.direction}), seed {t.seed}")
    if sp.spec.constraints.max_params:
        console.print(f"constraints: max_params {sp.spec.constraints.max_params:,}")
    from ..tuning.engines import abilities

    pruner = f", {s.pruner} pruner" if len(abilities(s.engine).pruners) > 1 else ""
    console.print(f"search: {s.engine} {s.algorithm_for(s.engine)}{pruner}, {s.trials} trials"
                  + (f", timeout {s.timeout:g}s" if s.timeout else ""))


@space.command("list")
def space_list():
    """List the shipped search spaces."""
    from ..space import list_shipped, load_space, shipped_spaces_dir

    for name in list_shipped():
        sp = load_space(shipped_spaces_dir() / f"{name}.yaml")
        click.echo(f"{name:12s} {sp.spec.description}")


# ----------------------------------------------------------------------------------- search


def store_options(f):
    f = click.option("--tracking-uri", default=DEFAULT_TRACKING_URI, show_default=True,
                     envvar="CNNTUNE_TRACKING_URI",
                     help="MLflow tracking URI (a server URL or a database); or set "
                     "CNNTUNE_TRACKING_URI.")(f)
    f = click.option("--storage", default=DEFAULT_STORAGE, show_default=True,
                     envvar="CNNTUNE_STORAGE",
                     help="Where studies live: journal:FILE (one machine, many processes), "
                     "an RDB URL such as postgresql://user@host/db (many machines), or for "
                     "--engine kerastuner a folder; or set CNNTUNE_STORAGE (keeps a password "
                     "out of the command line).")(f)
    return f


@cli.command(context_settings=CONTEXT)
@click.option("--space", "space_file", default="auto", show_default=True,
              help="Search-space YAML file, a shipped space name (see `cnntune space list`), "
              "or auto: a space picked for the data (see it with `cnntune space show --data`).")
@click.option("--data", default=None,
              help=f"An embedded set ({', '.join(f'{k} ({t})' for k, t in EMBEDDED.items())}"
              "), an .npz file (x and y; a segmentation's x and masks), a CSV or an image "
              "folder; overrides the space's data.")
@click.option("--study", default=None, help="Study name; an existing name is resumed. "
              "[default: <space name>-<data name>]")
@store_options
@click.option("--trials", type=int, default=None, help="Trials to run now [default: the space's].")
@click.option("--timeout", type=float, default=None, metavar="SECONDS",
              help="The whole command ends within SECONDS of its start: the last trial is cut "
              "short (its best epoch kept) or not started.")
@click.option("--patience-trials", type=int, default=None, metavar="N",
              help="Stop once N trials in a row have not beaten the best.")
@click.option("--warm-start", default=None, metavar="STUDY",
              help="Start from an earlier study in --storage: its trials as history when it "
              "searched the same space and data, else its best trials re-run first.")
@click.option("--warm-start-best", type=int, default=3, show_default=True, metavar="N",
              help="How many of --warm-start's best trials to re-run.")
@click.option("--seed", type=int, default=None, help="Sampler and weight-init seed.")
@click.option("--engine", type=click.Choice(ENGINES), default=None,
              help="Search engine [default: the space's, else optuna].")
@click.option("--algorithm", default=None, metavar="NAME",
              help="; ".join(f"{e}: {', '.join(a)}" for e, a in ALGORITHMS.items())
              + " [default: the space's, else the engine's first].")
@click.option("--sampler", type=click.Choice(SAMPLERS), default=None,
              help="Optuna's name for --algorithm.")
@click.option("--pruner", type=click.Choice(PRUNERS), default=None,
              help="Optuna only [default: the space's].")
@click.option("--epochs", type=int, default=None,
              help="Max epochs per trial [default: the space's].")
@click.option("--quiet", "-q", is_flag=True, help="Print only the final summary.")
@click.option("--workers", type=int, default=None,
              help="Study processes sharing the study on this machine (journal or "
              "PostgreSQL storage); each gets cores/N TensorFlow threads [default: one per "
              "GPU slot (--gpus x --trials-per-gpu), else 1].")
@click.option("--gpus", default=None, metavar="all|none|IDS",
              help="GPUs the workers train on, each worker pinned to one (CUDA_VISIBLE_DEVICES, "
              "memory growth on): all, none, or ids like 0,2 [default: all visible].")
@click.option("--trials-per-gpu", type=int, default=1, show_default=True, metavar="N",
              help="Workers (trials at once) sharing each GPU, for small models.")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS|auto",
              help="Run the workers as tasks on the Ray cluster at ADDRESS (HOST:PORT, "
              "ray://HOST:10001 or auto), spread over its nodes; they share the study "
              "through a PostgreSQL --storage. --workers defaults to filling the cluster: "
              "one per --threads CPUs (default 1), or per GPU share. Needs cnntune[ray].")
@click.option("--total-trials", type=int, default=None, metavar="M",
              help="Run until the study holds M trials, counting other workers' (for "
              "several machines on one study) instead of adding --trials.")
@click.option("--threads", type=int, default=None,
              help="TensorFlow threads per trial [default: all cores; cores/N with --workers].")
@click.option("--heartbeat", type=int, default=60, show_default=True, metavar="SECONDS",
              help="RDB storages: a trial without heartbeat for 3x this is failed and retried.")
@click.option("--worker-index", type=int, default=0, hidden=True)
@click.option("--baselines", is_flag=True, help="Also fit classical models on the same splits, "
              "logged beside the trials: logistic regression, an RBF SVM and a random forest "
              "(classification); ridge and a random forest (regression).")
@click.option("--jsonl", default=None, metavar="PATH",
              help="Also write every event (study_start, trial_start, epoch, trial_end, "
              "study_end) as a JSON line to PATH; '-' is stdout (the human output then goes "
              "to stderr).")
def search(space_file, data, study, storage, tracking_uri, trials, timeout, patience_trials,
           warm_start, warm_start_best, seed, engine, algorithm, sampler, pruner, epochs, quiet,
           workers, gpus, trials_per_gpu, ray_address, total_trials, threads, heartbeat,
           worker_index, baselines, jsonl):
    """Search a space: train one CNN per trial, track every trial in MLflow."""
    from rich.console import Console

    from .progress import JsonLines, Progress
    from ..tuning.study import search as run_search

    console = Console(soft_wrap=True, stderr=jsonl == "-")
    progress = Progress(console, quiet=quiet)
    log = JsonLines(jsonl) if jsonl else None

    def on_event(kind, payload):
        progress(kind, payload)
        if log is not None:
            log(kind, payload)

    try:
        with progress:
            result = run_search(space_file, data=data, study=study, storage=storage,
                                tracking_uri=tracking_uri, trials=trials, timeout=timeout,
                                seed=seed, engine=engine, algorithm=algorithm, sampler=sampler,
                                pruner=pruner, epochs=epochs, on_event=on_event,
                                workers=workers, gpus=gpus, trials_per_gpu=trials_per_gpu,
                                total_trials=total_trials, threads=threads,
                                heartbeat=heartbeat, worker_index=worker_index,
                                baselines=baselines, warm_start=warm_start,
                                warm_start_best=warm_start_best,
                                patience_trials=patience_trials, started=_process_start(),
                                ray=ray_address)
        if log is not None:
            log.result(result)
    finally:
        if log is not None:
            log.close()
    progress.summary(result)


# ---------------------------------------------------------------------------- inspecting


def _emit_frame(df, fmt: str, title: str | None = None) -> None:
    """A DataFrame as an aligned text table (as wide as it needs: pipe it to `less -S`), CSV
    or JSON records on stdout."""
    if fmt == "csv":
        click.echo(df.to_csv(index=False), nl=False)
        return
    if fmt == "json":  # Python's json: floats round-trip exactly (pandas' stops at 15 digits)
        import json

        records = df.astype(object).where(df.notna(), None).to_dict(orient="records")
        click.echo(json.dumps(records, indent=1, default=str))
        return
    if title:
        click.echo(title)
    click.echo(df.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.4g}"))


FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]),
                      default="table", show_default=True)
TRACKING = click.option("--tracking-uri", default=DEFAULT_TRACKING_URI, show_default=True,
                        envvar="CNNTUNE_TRACKING_URI",
                        help="MLflow tracking URI holding the study (or CNNTUNE_TRACKING_URI).")


@cli.command(context_settings=CONTEXT)
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
    _emit_frame(df, fmt)


@cli.command(context_settings=CONTEXT)
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
    _emit_frame(df, fmt, title=f"{study}: {len(df)} trials")


@cli.command(context_settings=CONTEXT)
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


@cli.command(context_settings=CONTEXT)
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
            _fail(f"mlflow server stopped with exit code {code}", 1)
    except KeyboardInterrupt:
        server.stop()
        click.echo("\nstopped the MLflow UI", err=True)


@cli.command(context_settings=CONTEXT)
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


@cli.command(context_settings=CONTEXT)
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


@cli.command(context_settings=CONTEXT)
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


@cli.command(context_settings=CONTEXT)
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
    _emit_frame(front_frame(view), fmt, title=f"{study}: Pareto front (feasible trials)"
                if fmt == "table" else None)
    if fmt == "table":
        click.echo(f"plot: {path} (also logged as pareto/front.html of the study run)")


@cli.command(context_settings=CONTEXT)
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


# ----------------------------------------------------------------------------------- export


@cli.command(context_settings=CONTEXT)
@click.argument("study")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              default="keras", show_default=True)
@click.option("--quantize", type=click.Choice(QUANTIZE), default="none",
              show_default=True, help="TFLite only: float16 weights, or int8 weights and "
              "activations calibrated on training examples.")
@click.option("--trial", type=int, default=None, help="Trial number [default: the best].")
@click.option("--pick", default=None, metavar="RULE",
              help="Choose the trial: 'fastest-above 0.97' (lowest latency with val_accuracy, "
              "or a regression's val_r2, >= 0.97), 'smallest-above 0.97' (fewest params), "
              "'best'.")
@click.option("--retrain", is_flag=True, help="Train the trial's params afresh on train+val "
              "for its best epoch count, instead of using its logged model.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder to write the model and cnntune.json into.")
@click.option("--register", default=None, metavar="NAME",
              help="Also register the export in the MLflow Model Registry as NAME.")
@click.option("--alias", default="champion", show_default=True,
              help="Alias of the registered version.")
@TRACKING
def export(study, fmt, quantize, trial, pick, retrain, out, register, alias, tracking_uri):
    """Export a study's best (or --trial N, or --pick RULE) model, verified by running it."""
    from ..deploy.export import export_study

    if pick is not None:
        if trial is not None:
            _fail("give --trial or --pick, not both", 2)
        from ..reports.pareto import parse_pick
        from ..reports.pareto import pick as pick_trial
        from ..tracking.studies import StudyView

        trial = pick_trial(StudyView(study, tracking_uri), *parse_pick(pick))
        click.echo(f"--pick {pick}: trial {trial}", err=True)

    report = export_study(study, fmt=fmt, out=out, tracking_uri=tracking_uri, quantize=quantize,
                          trial=trial, retrain=retrain, register=register, alias=alias,
                          on_step=lambda msg: click.echo(f"... {msg}", err=True))
    q = "" if report.quantize == "none" else f" ({report.quantize})"
    click.echo(f"exported trial {report.trial} of '{report.study}' as {report.format}{q}: "
               f"{report.path} ({report.size_bytes / 1024:.1f} KiB)")
    click.echo(f"verified with its runtime: test {report.metric} {report.test_score:.4f} "
               f"(Keras {report.keras_test_score:.4f}), max |output difference| "
               f"{report.max_abs_diff:.2e} [{report.tolerance}]")
    click.echo(f"latency at batch 1: {report.latency_ms:.3f} ms per image "
               f"(Keras {report.keras_latency_ms:.3f} ms)")
    click.echo(f"metadata: {report.metadata_path}")
    if report.registered:
        r = report.registered
        click.echo(f"registered: {r['name']} version {r['version']}, alias {r['alias']} "
                   f"-> mlflow.pyfunc.load_model('{r['model_uri']}')")


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False), default=None,
              help="Write the predictions to this CSV file instead of a table.")
@click.option("--top", type=int, default=1, show_default=True, help="Classes per input.")
@click.option("--masks", "masks_dir", type=click.Path(file_okay=False), default="masks",
              show_default=True, help="Segmentation: the folder the predicted masks (PNGs of "
              "class indices) and their overlays are written to.")
def predict(model, inputs, csv_out, top, masks_dir):
    """Run an exported model (any format) on image files, folders or an .npz."""
    from ..deploy.predict import predict_files

    table = predict_files(model, inputs, top=top, masks_dir=masks_dir)
    if csv_out:
        table.to_csv(csv_out, index=False)
        click.echo(f"wrote {len(table)} predictions to {csv_out}")
        return
    from rich.console import Console
    from rich.table import Table

    out = Table()
    for col in table.columns:  # a narrow terminal wraps a long path or label set, never cuts it
        out.add_column(str(col), overflow="fold")
    for row in table.itertuples(index=False):
        out.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    Console().print(out)


def main():
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per file
    cli(prog_name="cnntune")


if __name__ == "__main__":
    main()
