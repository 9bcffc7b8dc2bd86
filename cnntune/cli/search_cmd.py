"""`cnntune search`: run or resume a study, printing its progress.
"""

from __future__ import annotations


import click

from ..catalog import (ALGORITHMS, EMBEDDED, ENGINES, PRUNERS, SAMPLERS)
from ..tuning.options import AUTO
from .options import (CONTEXT, process_start,
                      store_options)


@click.command(context_settings=CONTEXT)
@click.option("--space", default=AUTO, show_default=True,
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
@click.option("--ray", default=None, metavar="ADDRESS|auto",
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
def search(quiet, jsonl, **options):
    """Search a space: train one CNN per trial, track every trial in MLflow."""
    from rich.console import Console

    from .progress import JsonLines, Progress
    from ..tuning.study import SearchOptions, run

    # the options are SearchOptions' fields by name: checked there, once
    opts = SearchOptions(started=process_start(), **options)
    console = Console(soft_wrap=True, stderr=jsonl == "-")
    progress = Progress(console, quiet=quiet)
    log = JsonLines(jsonl) if jsonl else None

    def on_event(kind, payload):
        progress(kind, payload)
        if log is not None:
            log(kind, payload)

    try:
        with progress:
            result = run(opts, on_event)
        if log is not None:
            log.result(result)
    finally:
        if log is not None:
            log.close()
    progress.summary(result)
