"""`cnntune space`: list, show and validate search spaces (no TensorFlow imported).
"""

from __future__ import annotations


import click

from ..errors import ConfigError
from ..tuning.options import AUTO
from .options import CONTEXT


@click.group(context_settings=CONTEXT)
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
@click.argument("file", required=False, default=AUTO)
@click.option("--data", default=None, help="With the auto space (no FILE): the data to pick the "
              "space for - digits, an .npz file, a CSV or an image folder [default: digits].")
def space_show(file, data):
    """Show the params of a space, in sampling order, with their conditions and settings.

    With no FILE (or `auto`), print as YAML the space `cnntune search --data SRC` would pick
    for the data: copy it to a file, edit it, pass it with --space."""
    from rich.console import Console
    from rich.table import Table

    from ..space import load_space
    from ..tuning.plan import auto_plan

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

    pruner = f", {s.pruner} pruner" if abilities(s.engine).prunes else ""
    console.print(f"search: {s.engine} {s.algorithm_for(s.engine)}{pruner}, {s.trials} trials"
                  + (f", timeout {s.timeout:g}s" if s.timeout else ""))


@space.command("list")
def space_list():
    """List the shipped search spaces."""
    from ..space import list_shipped, load_space, shipped_spaces_dir

    for name in list_shipped():
        sp = load_space(shipped_spaces_dir() / f"{name}.yaml")
        click.echo(f"{name:12s} {sp.spec.description}")
