"""`cnntune ui`: the MLflow UI on the project's tracking store.

Runs ``mlflow server`` (``mlflow ui`` is an alias) as a child process bound to 127.0.0.1
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
from ..tracking.stores import redact, require_tracking_store


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class MlflowUI:
    def __init__(self, tracking_uri: str, *, host: str = "127.0.0.1", port: int = 5000,
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
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 90.0) -> str:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((self.host, self.port))
            except OSError:
                raise ConfigError(f"port {self.port} on {self.host} is in use; pass --port "
                                  "with a free one") from None
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
