"""What the commands share: click settings and options, the one-line failure, output frames,
and when this process started (for --timeout).
"""

from __future__ import annotations

import sys

import click

from ..tracking.stores import DEFAULT_STORAGE, DEFAULT_TRACKING_URI


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def process_start() -> float:
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


def emit_frame(df, fmt: str, title: str | None = None) -> None:
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
