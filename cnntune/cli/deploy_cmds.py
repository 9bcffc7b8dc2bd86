"""`cnntune export` and `cnntune predict`: the best model out, verified, and run on inputs.
"""

from __future__ import annotations


import click

from ..catalog import (FORMATS,
                       QUANTIZE)
from .options import (CONTEXT, TRACKING, fail)


@click.command(context_settings=CONTEXT)
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
            fail("give --trial or --pick, not both", 2)
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


@click.command(context_settings=CONTEXT)
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
