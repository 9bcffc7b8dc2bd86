"""`cnntune search --ray ADDRESS --workers N`: the study's workers as Ray tasks on a cluster.

The coordinator is the same as for ``--workers`` on one machine (``parallel.search_workers``):
it checks everything, opens the study and its MLflow parent run, and hands each worker
``search()``'s keyword arguments. Here each worker is a Ray task that runs the very process a
hand-started worker runs (``python -m cnntune.tuning.study_worker``) on the node Ray gives
it, and sends its JSON-line events back through a queue actor on the coordinator's node.
The workers share the study through the Optuna storage (PostgreSQL) and the runs through
the MLflow tracking store, as hand-started workers do; nothing else travels between nodes.

Placement: each worker reserves ``threads`` CPUs (and, on a cluster with GPUs, 1/``per_gpu``
of a GPU, which Ray pins through ``CUDA_VISIBLE_DEVICES``). The workers are dealt to the
nodes in turn (soft node affinity), so two workers land on two nodes when both have room.
A worker whose node dies is restarted by Ray (``max_retries``) wherever there is room, and
goes on with the study; the trial it was running is failed and retried once by the crash
safety every worker has (its owner process is gone, or its heartbeats stop).
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from urllib.parse import urlsplit

from ..errors import ConfigError
from .devices import GROWTH, NODE, VISIBLE, check_per_gpu

EXTRA = "pip install 'cnntune[ray]'"
CONNECT_S = 10  # how long an address may take to answer (Ray itself retries for minutes)
RETRIES = 3  # restarts of a worker whose process or node died


def import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--ray needs Ray, which is not installed; add it with: {EXTRA}") \
            from None
    return ray


def on_cluster(address: str, *, workers: int | None, threads: int | None, gpus: str | None,
               per_gpu: int, storage: str, tracking_uri: str) -> tuple[int, "RayWorkers"]:
    """Check a ``--ray`` search against the cluster before anything is written: the number of
    workers (default: as many as the cluster has slots) and how to start them."""
    from ..tracking.stores import Store, redact

    if gpus not in (None, "all", "none"):
        raise ConfigError(f"--gpus {gpus} names GPUs of this machine; with --ray, Ray assigns "
                          "each worker its GPU: use --gpus all (the default) or none")
    check_per_gpu(per_gpu)
    store = Store.of(storage)
    if not store.concurrent:
        raise ConfigError(f"--ray needs a storage that every node reaches and that takes "
                          f"concurrent writers; {store.label} is not: give a "
                          "PostgreSQL URL in --storage or CNNTUNE_STORAGE")
    ray = connect(address)
    threads = threads or 1
    here = ray.util.get_node_ip_address()
    elsewhere = sorted({n["NodeManagerAddress"] for n in ray.nodes()
                        if n.get("Alive") and not _this_machine(n["NodeManagerAddress"], here)})
    for option, url in (("--storage", storage), ("--tracking-uri", tracking_uri)):
        # MLflow's file: URIs are files here too
        if elsewhere and (Store.of(url).on_this_machine or url.startswith("file:")):
            fix = "a PostgreSQL URL" if option == "--storage" else \
                "an MLflow server's URL (mlflow server ...)"
            raise ConfigError(f"{option} {redact(url)} is a file on this machine, which the "
                              f"cluster's nodes at {', '.join(elsewhere)} cannot reach; give "
                              f"{fix} that every node reaches")
    use_gpus = gpus != "none" and ray.cluster_resources().get("GPU", 0) > 0
    slots = cluster_slots(ray, threads, per_gpu, use_gpus)
    if not slots:
        raise ConfigError(f"--ray {address}: no node has room for a worker of --threads "
                          f"{threads} CPU(s){' and a GPU share' if use_gpus else ''}; lower "
                          "--threads or add nodes")
    return workers or len(slots), RayWorkers(ray, slots, threads, use_gpus)


def _this_machine(address: str, here: str) -> bool:
    """Whether a node's address is this machine's: ours, or a loopback one (127.0.0.x)."""
    import ipaddress

    try:
        return address == here or ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def connect(address: str):
    """Connect this process to the Ray cluster at ``address`` (``auto``, ``HOST:PORT`` or
    ``ray://HOST:PORT``), or say in one line that none answers there within CONNECT_S (Ray's
    own ``ray.init`` would retry for minutes, even at a port where something else listens)."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    target = _resolve(address)
    host, port = _host_port(target)
    why = _unanswered(host, port)
    if why:
        raise ConfigError(f"--ray {address}: no Ray cluster answers at {host}:{port} ({why}); "
                          "start one with `ray start --head`, or give the address it printed")
    try:
        ray.init(address=target, logging_level="ERROR", log_to_driver=False,
                 configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"--ray {address}: could not join the cluster ({first}); start one "
                          "with `ray start --head`, or give the address it printed") from None
    _messages_to_stderr(ray)
    return ray


def _messages_to_stderr(ray) -> None:
    """Ray's driver prints the cluster's messages ("Task _run_worker failed ... will be
    retried") on stdout, where ``--jsonl -`` writes its events: send them to stderr."""
    module = getattr(getattr(ray, "_private", None), "worker", None)
    original = getattr(module, "print_to_stdstream", None)
    if original is None or getattr(original, "cnntune", False):
        return

    def to_stderr(data, ignore_prefix):
        original(dict(data, is_err=True), ignore_prefix)

    to_stderr.cnntune = True
    module.print_to_stdstream = to_stderr


def _resolve(address: str) -> str:
    """``auto``: the cluster this machine's ``ray start`` made (RAY_ADDRESS, else the address
    Ray leaves in its temp folder), as ``ray.init`` finds it."""
    if address != "auto":
        return address
    given = os.environ.get("RAY_ADDRESS")
    if given:
        return given
    try:
        with open(os.path.join(tempfile.gettempdir(), "ray", "ray_current_cluster")) as f:
            return f.read().strip()
    except OSError:
        raise ConfigError("--ray auto: no Ray cluster was started on this machine (no "
                          "RAY_ADDRESS, no `ray start --head` here); start one, or give a "
                          "cluster's address") from None


def _host_port(address: str) -> tuple[str, int]:
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ConfigError(f"--ray {address!r} is not an address; give HOST:PORT (as "
                          "`ray start --head` prints it), ray://HOST:10001, or auto")
    return parts.hostname, port


def _unanswered(host: str, port: int) -> str | None:
    """Why no Ray server (a gRPC one: the GCS, or Ray Client's) answers at host:port within
    CONNECT_S, or None when one does."""
    import grpc

    t0 = time.monotonic()
    try:
        socket.create_connection((host, port), timeout=CONNECT_S).close()
    except TimeoutError:
        return f"no answer within {CONNECT_S} s"
    except OSError as exc:
        return (exc.strerror or type(exc).__name__).lower()
    channel = grpc.insecure_channel(f"{host}:{port}")
    try:
        grpc.channel_ready_future(channel).result(
            timeout=max(1.0, CONNECT_S - (time.monotonic() - t0)))
    except grpc.FutureTimeoutError:
        return f"something listens there, but not Ray: no answer within {CONNECT_S} s"
    finally:
        channel.close()
    return None


def cluster_slots(ray, threads: int, per_gpu: int, gpus: bool) -> list[tuple[str, float]]:
    """Where workers can go: (node id, GPU share) per slot, the nodes taken in turn, so that
    the first workers spread over the nodes. A node offers one slot per ``threads`` CPUs, or
    with ``gpus`` one per GPU share (``per_gpu`` workers a GPU)."""
    per_node = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        res = node.get("Resources", {})
        n_gpu = int(res.get("GPU", 0)) if gpus else 0
        if n_gpu:
            n = min(n_gpu * per_gpu, int(res.get("CPU", 0) // threads))
            share = 1.0 / per_gpu
        else:
            n, share = int(res.get("CPU", 0) // threads), 0.0
        per_node.append([(node["NodeID"], share)] * n)
    slots = []
    while any(per_node):
        for node in per_node:
            if node:
                slots.append(node.pop())
    return slots


class RayWorkers:
    """The study workers as Ray tasks; the same interface as ``parallel.LocalWorkers``."""

    def __init__(self, ray, slots: list[tuple[str, float]], threads: int, gpus: bool):
        self.ray, self.slots, self.threads, self.gpus = ray, slots, threads, gpus
        self.refs: dict = {}
        self.results: dict[int, tuple[int, str]] = {}

    def default_threads(self, n: int) -> int:
        return self.threads

    def start(self, options: list[str]) -> None:
        """One Ray task per ``SearchOptions`` JSON document."""
        from ray.util.queue import Queue
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Affinity

        ray = self.ray
        here = ray.get_runtime_context().get_node_id()
        # on this node, hard (a soft affinity was seen to land elsewhere): the events must
        # not die with a worker's node
        self.queue = Queue(actor_options={"num_cpus": 0,
                                          "scheduling_strategy": Affinity(here, soft=False)})
        task = ray.remote(_run_worker)
        for i, doc in enumerate(options):
            node, share = self.slots[i % len(self.slots)]
            ref = task.options(num_cpus=self.threads, num_gpus=share, max_retries=RETRIES,
                               retry_exceptions=False, name=f"cnntune-worker-{i}",
                               scheduling_strategy=Affinity(node, soft=True)) \
                .remote(doc, i, self.queue, self.gpus)
            self.refs[ref] = i

    def lines(self):
        """(worker, JSON line) as they come, until every worker has ended (a task puts its
        lines before it returns, so one batch after the last return has them all)."""
        ray = self.ray
        pending = list(self.refs)
        while True:
            for item in self.queue.get_nowait_batch(self.queue.qsize()):
                yield item
            if not pending:
                break
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=0.5,
                                     fetch_local=True)
            for ref in done:
                i = self.refs[ref]
                try:
                    self.results[i] = ray.get(ref)
                except Exception as exc:  # its retries are spent: a lost node, a crash
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    self.results[i] = (1, first)

    def failed(self) -> list[tuple[int, int, str]]:
        """(worker, exit code, its last line of stderr) for each worker that failed."""
        return [(i, code, last) for i, (code, last) in sorted(self.results.items()) if code]

    def where(self, i: int) -> str:
        return "see its node's Ray logs"

    def stop(self) -> None:
        """Ctrl-C: each worker interrupts its study process, which ends its trial as
        interrupted trials end."""
        for ref in self.refs:
            self.ray.cancel(ref, force=False)
        deadline = time.time() + 60
        pending = list(self.refs)
        while pending and time.time() < deadline:
            _, pending = self.ray.wait(pending, num_returns=len(pending), timeout=1.0)


def _run_worker(options: str, index: int, queue, gpus: bool) -> tuple[int, str]:
    """A Ray task: run one study worker process here and forward its events."""
    import signal
    import subprocess
    import sys
    import tempfile

    import ray

    ctx = ray.get_runtime_context()
    node = ctx.get_node_id()
    name = f"{socket.gethostname()}/{node[:8]}"
    env = dict(os.environ, PYTHONUNBUFFERED="1", **{NODE: name})
    if gpus:
        env[GROWTH] = "true"  # Ray has set CUDA_VISIBLE_DEVICES to this task's GPU
    else:
        env[VISIBLE] = ""
    labels = {k: v for k, v in ctx.get_node_labels().items() if not k.startswith("ray.io/")}
    queue.put((index, json.dumps({"event": "worker_start", "node": name, "labels": labels,
                                  "gpus": env.get(VISIBLE, "")})))
    with tempfile.TemporaryFile("w+") as err:  # TensorFlow's chatter; its last line
        proc = subprocess.Popen([sys.executable, "-m", "cnntune.tuning.study_worker"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                text=True, env=env)
        proc.stdin.write(options)
        proc.stdin.close()
        try:
            for line in proc.stdout:
                queue.put((index, line))
            proc.wait()
        except BaseException:  # cancelled (Ctrl-C on the coordinator): end its trial cleanly
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
        err.seek(0)
        last = err.read().strip().splitlines()
    return proc.returncode, last[-1] if last else ""
