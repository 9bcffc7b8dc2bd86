"""Where studies and runs are kept: the default locations and URL hygiene.

By default everything lives under ``./mlruns``: Optuna studies in the journal file
``mlruns/optuna.journal`` (Optuna's storage for several processes on one machine; SQLite is
not safe for concurrent writers), the MLflow tracking store in ``mlruns/mlflow.db`` and MLflow
artifacts in ``mlruns/artifacts``. Several machines share a study through an Optuna RDB URL
(``postgresql://...``) and an MLflow tracking server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_ROOT = Path("mlruns")
DEFAULT_STORAGE = f"journal:{DEFAULT_ROOT}/optuna.journal"
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


def scrub(text: str, url: str) -> str:
    """``text`` (an error message, a log line) with the password of ``url`` masked."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return text
    return text.replace(password, "***") if password else text


def sqlite_path(url: str) -> Path | None:
    """The file behind a sqlite:/// URL (None for other URLs or in-memory databases)."""
    if not url.startswith("sqlite:///"):
        return None
    db = url[len("sqlite:///"):]
    return Path(db) if db and db != ":memory:" else None


def require_tracking_store(uri: str) -> None:
    """For commands that only read: a SQLite tracking store that is not there is an error
    (StorageError), never made empty. Servers and other stores are left to the caller."""
    from ..errors import StorageError

    db = sqlite_path(uri)
    if db is not None and not db.exists():
        raise StorageError(f"no tracking store at '{db}' (from '{redact(uri)}'); run "
                           "`cnntune search` first, or pass the --tracking-uri it used")


def journal_path(url: str) -> Path | None:
    """The file behind a ``journal:PATH`` storage (None for other storages)."""
    if not url.startswith("journal:"):
        return None
    path = url[len("journal:"):]
    if path.startswith("///"):
        path = path[2:]  # journal:///abs/path -> /abs/path
    return Path(path) if path else None


def absolute_store(url: str) -> str:
    """A file-backed store's URL (journal, sqlite) with its path made absolute, for a process
    that starts in another folder; other URLs as they are."""
    return Store.of(url).absolute()


@dataclass(frozen=True)
class Store:
    """A study storage, its URL read once: a ``journal:PATH`` file (Optuna's, for several
    processes on one machine), a ``sqlite:///PATH`` file (one writer at a time), a database
    server (``postgresql://...``, shared by machines), or a plain folder path (KerasTuner's
    studies). Every rule that depends on the kind of storage asks it here."""

    url: str
    kind: str  # journal, sqlite, database or folder
    path: Path | None  # the file (journal, sqlite) or the folder; None: a server, or memory

    @classmethod
    def of(cls, url: str) -> Store:
        url = str(url)
        if url.startswith("journal:"):
            return cls(url, "journal", journal_path(url))
        if url.startswith("sqlite:"):
            return cls(url, "sqlite", sqlite_path(url))
        if "://" in url:
            return cls(url, "database", None)
        return cls(url, "folder", Path(url))

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0] if "://" in self.url else self.kind

    @property
    def label(self) -> str:
        """What it is, for messages: SQLite, a journal file, a folder, or the server's
        scheme."""
        return {"journal": "a journal file", "sqlite": "SQLite",
                "folder": "a folder"}.get(self.kind, self.scheme)

    @property
    def optuna(self) -> bool:
        """Whether Optuna keeps studies in it (a folder is KerasTuner's)."""
        return self.kind != "folder"

    @property
    def concurrent(self) -> bool:
        """Whether several processes may write to it at once (SQLite: not safely)."""
        return self.kind in ("journal", "database")

    @property
    def on_this_machine(self) -> bool:
        """Whether it is a file or folder here, which other machines cannot reach."""
        return self.kind != "database"

    @property
    def file(self) -> bool:
        """Whether it is a file (journal, SQLite), made on first use."""
        return self.kind in ("journal", "sqlite")

    @property
    def missing(self) -> bool:
        """A file store whose file is not there yet (reading must not make it)."""
        return self.file and self.path is not None and not self.path.exists()

    @property
    def folder(self) -> Path | None:
        """The local folder it lives in (a file's parent, or the folder itself)."""
        if self.path is None:
            return None
        return self.path if self.kind == "folder" else self.path.parent

    def absolute(self) -> str:
        """Its URL with its path made absolute, for a process that starts in another folder
        (a server's URL as it is)."""
        if self.kind == "sqlite" and self.path is not None:
            return f"sqlite:///{self.path.resolve()}"
        if self.kind == "journal" and self.path is not None:
            return f"journal:{self.path.resolve()}"
        return self.url

    def __str__(self) -> str:
        return redact(self.url)


def process_owner() -> str:
    """``host:pid:start`` naming this process; start (from /proc) guards against PID reuse."""
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def owner_alive(owner: str) -> bool | None:
    """Whether the process an owner string names still runs: None when it is on another host
    (that is for heartbeats to tell)."""
    import socket

    try:
        host, pid, start = owner.rsplit(":", 2)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    return _start_time(int(pid)) == start


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return "gone"
    if len(fields) < 20 or fields[0] in ("Z", "X"):  # a zombie has died already
        return "gone"
    return fields[19]  # field 22 of stat: start time in clock ticks since boot
