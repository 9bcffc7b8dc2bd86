"""The `cnntune` command line: thin commands over the Python API.

The only module that prints for humans or exits. Heavy imports happen inside commands, so
`cnntune --help` and `cnntune space validate` answer at once.
"""

from __future__ import annotations

import sys

import click

from ..errors import CnntuneError
from ..version import __version__
from .deploy_cmds import export, predict
from .inspect_cmds import baseline, best, dashboard, explain, pareto, report, studies, trials, ui
from .options import CONTEXT, fail
from .search_cmd import search
from .space_cmd import space


class _Group(click.Group):
    """Turns cnntune's own errors into one line on stderr and the right exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CnntuneError as exc:
            fail(str(exc), exc.exit_code)
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


for command in (space, search, studies, trials, best, ui, dashboard, report, explain, pareto,
                baseline, export, predict):
    cli.add_command(command)


def main():
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per file
    cli(prog_name="cnntune")


if __name__ == "__main__":
    main()
