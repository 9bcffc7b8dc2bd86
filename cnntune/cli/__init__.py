"""The command line: the commands (``main``), the progress lines a search prints
(``progress``) and the MLflow UI launcher (``ui``). The only code in cnntune that prints."""

from .main import cli, main

__all__ = ["cli", "main"]
