"""Where studies and runs are kept: the default locations and URL hygiene.

By default everything lives under ``./mlruns``: the Optuna study in ``mlruns/optuna.db``, the
MLflow tracking store in ``mlruns/mlflow.db`` and MLflow artifacts in ``mlruns/artifacts``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_ROOT = Path("mlruns")
DEFAULT_STORAGE = f"sqlite:///{DEFAULT_ROOT}/optuna.db"
DEFAULT_TRACKING_URI = f"sqlite:///{DEFAULT_ROOT}/mlflow.db"


def redact(url: str) -> str:
    """A URL with any password replaced by ***, safe to print, log or store."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def sqlite_path(url: str) -> Path | None:
    """The file behind a sqlite:/// URL (None for other URLs or in-memory databases)."""
    if not url.startswith("sqlite:///"):
        return None
    db = url[len("sqlite:///"):]
    return Path(db) if db and db != ":memory:" else None
