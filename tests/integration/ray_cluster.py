"""A real Ray cluster on this machine for the tests and benchmarks/ray_workers.py: a head
(`ray start --head`) and more nodes (`ray start --address`), each `ray start --block` in its
own session so that every process of a node is under it and the node can be killed -9 as a
lost machine would be. Ray's temp folder is a fresh one under /tmp (its socket paths must
stay short), so a cluster someone else runs here is never touched."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
# the cluster notices a dead node within ~3 s instead of Ray's default ~30 s
FAST_HEALTH = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3",
               "RAY_health_check_initial_delay_ms": "1000", "RAY_USAGE_STATS_ENABLED": "0"}


class LocalCluster:
    """``with LocalCluster([{"cpus": 2}, {"cpus": 1, "resources": {...}, "labels": {...}}])
    as c:`` the first node is the head; ``c.address``, ``c.nodes[i]`` (its ``ray start``
    process), ``c.kill(i)``."""

    def __init__(self, nodes: list[dict], timeout: float = 90):
        self.specs, self.timeout = nodes, timeout
        self.nodes: list[subprocess.Popen] = []
        self.temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
        self.address = ""

    def __enter__(self) -> "LocalCluster":
        try:
            self._start_all()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        for i in reversed(range(len(self.nodes))):
            self.kill(i)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def _start_all(self) -> None:
        deadline = time.time() + self.timeout
        head, *more = self.specs
        self._start(head, ["--head", "--port", "0", "--include-dashboard", "false",
                           "--temp-dir", self.temp_dir])
        address_file = Path(self.temp_dir) / "ray_current_cluster"
        while not address_file.exists():
            if time.time() > deadline or self.nodes[0].poll() is not None:
                raise RuntimeError(f"the Ray head did not start; see {self.temp_dir}")
            time.sleep(0.3)
        self.address = address_file.read_text().strip()
        for i, spec in enumerate(more, start=2):
            # each further node on its own loopback address: a driver started here attaches
            # to the head's raylet (the one at this machine's address), never to a node a
            # test kills
            self._start(spec, ["--address", self.address, "--node-ip-address", f"127.0.0.{i}"])
        check = [sys.executable, "-c", "import ray; ray.init(address=%r, logging_level="
                 "'ERROR'); print(sum(n['Alive'] for n in ray.nodes()))" % self.address]
        while time.time() < deadline:
            out = subprocess.run(check, capture_output=True, text=True, timeout=60).stdout
            if out.strip().splitlines()[-1:] == [str(len(self.specs))]:
                return
            time.sleep(1)
        raise RuntimeError(f"{len(self.specs)} Ray nodes did not join within {self.timeout} s")

    def _start(self, spec: dict, args: list[str]) -> None:
        args = [*args, "--num-cpus", str(spec.get("cpus", 1))]
        if spec.get("resources"):
            args += ["--resources", json.dumps(spec["resources"])]
        if spec.get("labels"):
            args += ["--labels", ",".join(f"{k}={v}" for k, v in spec["labels"].items())]
        log = open(Path(self.temp_dir) / f"node-{len(self.nodes)}.log", "w")
        self.nodes.append(subprocess.Popen(
            [RAY, "start", "--block", "--disable-usage-stats", *args], stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, cwd=self.temp_dir,
            env=dict(os.environ, **FAST_HEALTH)))

    def kill(self, i: int) -> None:
        """Kill -9 node ``i``: its ``ray start`` and every process under it (raylet, Ray
        workers, a study worker and its trial process)."""
        proc = self.nodes[i]
        for pid in [proc.pid, *_descendants(proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()


def _descendants(root: int) -> list[int]:
    """The PIDs under ``root``, from /proc (parent of each process: field 4 of its stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out
