"""`cnntune ui` and `cnntune dashboard`: the MLflow UI on the project's tracking store, and
optuna-dashboard on a study's Optuna storage.

``ui`` runs ``mlflow server`` (``mlflow ui`` is an alias) as a child process bound to 127.0.0.1
unless another host is asked for, waits until it answers, and stops it cleanly (terminate,
then kill after a grace period) when the caller stops: Ctrl-C in the CLI.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

from ..errors import ConfigError, StorageError
from ..tracking.links import UI_PORT
from ..tracking.stores import redact, require_tracking_store


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _check_port(host: str, port: int) -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            raise ConfigError(f"port {port} on {host} is in use; pass --port with a free one "
                              f"(such as --port {free_port(host)})") from None


def _browser_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


class OptunaDashboard:
    """optuna-dashboard (its WSGI app on wsgiref, in this process) on one study's storage.
    ``start()`` binds the port; ``serve()`` answers until Ctrl-C (KeyboardInterrupt), then
    closes the socket."""

    def __init__(self, storage, study_id: int, *, host: str = "127.0.0.1", port: int = 8080):
        self.storage, self.study_id, self.host, self.port = storage, study_id, host, port
        self.server = None

    @property
    def url(self) -> str:
        return f"http://{_browser_host(self.host)}:{self.port}/dashboard/studies/{self.study_id}"

    def start(self) -> str:
        from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

        import optuna_dashboard

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):  # no line per request on the terminal
                pass

        class Server(WSGIServer):
            allow_reuse_address = False  # a port in use is an error, not shared

        _check_port(self.host, self.port)
        self.server = make_server(self.host, self.port, optuna_dashboard.wsgi(self.storage),
                                  server_class=Server, handler_class=Quiet)
        return self.url

    def serve(self) -> None:
        try:
            self.server.serve_forever(poll_interval=0.5)
        finally:
            self.server.server_close()


class MlflowUI:
    def __init__(self, tracking_uri: str, *, host: str = "127.0.0.1", port: int = UI_PORT,
                 workers: int = 1):
        if tracking_uri.startswith(("http://", "https://")):
            raise ConfigError(f"tracking URI '{redact(tracking_uri)}' is already a server; "
                              "open it in a browser")
        require_tracking_store(tracking_uri)
        self.tracking_uri = tracking_uri
        self.host, self.port, self.workers = host, port, workers
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{_browser_host(self.host)}:{self.port}"

    def start(self, timeout: float = 90.0) -> str:
        _check_port(self.host, self.port)
        cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
               self.tracking_uri, "--host", self.host, "--port", str(self.port),
               "--workers", str(self.workers)]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace").strip().splitlines()
                raise StorageError(f"mlflow server exited with code {self.proc.returncode}: "
                                   f"{err[-1] if err else 'no message'}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return self.url
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise StorageError(f"mlflow server did not answer on {self.url} within {timeout:.0f} s")

    def study_links(self, last: int = 5) -> list[tuple[str, str]]:
        """(study, link to its trials table) for the ``last`` studies made, newest first."""
        from mlflow import MlflowClient

        from ..tracking.links import VIEW_TAG, trials_url

        try:
            exps = MlflowClient(self.tracking_uri).search_experiments(
                filter_string="tags.`cnntune.study` != ''", order_by=["creation_time DESC"],
                max_results=last)
        except Exception:  # the UI runs anyway; the links are a convenience
            return []
        return [(e.name, trials_url(self.url, e.experiment_id, view=VIEW_TAG in e.tags))
                for e in exps]

    def wait(self) -> int:
        return self.proc.wait() if self.proc else 0

    def stop(self, grace: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        import signal

        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # mlflow's gunicorn/uvicorn workers too
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
