"""Work spread over a Ray cluster: long-lived workers (Ray actors) that each load the network
once, from the model file shipped to them through Ray's object store (SHA-1 checked), and
compute items (channel groups of an atlas, images of a batch) that the driver hands out.

The driver keeps the files: each result comes back to it and is written there (atomically),
so a run on Ray resumes like a local one and writes the same bytes. A worker process that dies
(SIGKILL, a lost node) is restarted and its unfinished item retried (``RESTARTS`` times); a
worker that cannot load the model fails the run with one line. Ray is imported only here, and
only when a run asks for it (``--ray``): it is an optional extra.

Without an address, :func:`run_on_ray` starts a local cluster of its own on 127.0.0.1 and
stops it at the end; with one (``host:port`` of a head node, or
``RAY_ADDRESS``) it joins that cluster and leaves it running.
"""

from __future__ import annotations

import builtins
import importlib.util
import ipaddress
import logging
import os
import socket
import tempfile
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from conversion.download import sha1_of
from conversion.errors import DeepDreamError
from conversion.model_files import ModelSpec
from conversion.outputs import atomic_output
from tf_impl.host.cpu_features import usable_cores
from tf_impl.host.tensorflow_logs import import_tensorflow_quietly

INSTALL = "pip install 'deepdream-tf2[ray]'"
CONNECT_TIMEOUT_S = 3.0  # an address that does not answer within this is refused
READY_TIMEOUT_S = 600.0  # workers loading TensorFlow and the model, on a busy machine
RESTARTS = 3  # a worker process may die this often (its item is retried each time)
LOCAL_OBJECT_STORE = 256 * 2**20  # bytes: the model and a few results at a time

# A worker: setup(spec) once, with the model file local to its node, gives the function that
# computes one item.
Setup = Callable[[ModelSpec], Callable[[object], object]]


@dataclass(frozen=True)
class RayOptions:
    """Where to run: ``address`` None starts a local cluster (``host:port`` or ``auto`` joins
    one); ``workers``: how many workers (None: as many as the cluster's CPUs hold, each
    reserving as many CPUs as this machine has, up to a node's)."""

    address: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise DeepDreamError(f"--ray-workers must be at least 1 (got {self.workers})")


def ray_options(address: str | None, workers: int | None = None) -> RayOptions:
    """The checked ``--ray [ADDRESS]`` (empty: ``RAY_ADDRESS``, else a local cluster), before
    any work and without importing Ray: Ray is installed, and the address answers within
    ``CONNECT_TIMEOUT_S`` seconds. One DeepDreamError line otherwise."""
    if importlib.util.find_spec("ray") is None:
        raise DeepDreamError(
            f"--ray needs Ray, an optional extra of this project: {INSTALL} (make install has it)"
        )
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None and address != "auto":
        _probe(address)
    return RayOptions(address, workers)


def _probe(address: str) -> None:
    """Refuse an address that is malformed or where nothing accepts a connection."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        raise DeepDreamError(
            f"--ray {address}: give the head node as HOST:PORT (the address 'ray start --head' "
            "prints, e.g. 10.0.0.5:6379)"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DeepDreamError(
            f"--ray {address}: no Ray head node answers there ({reason}); start one with "
            "'ray start --head', or leave the address out for a local cluster"
        ) from None


def project_fingerprint() -> str | None:
    """SHA-1 of this project's sources (every .py file of ``conversion`` and ``tf_impl``, by
    relative path), as the interpreter running it finds them; None where they cannot be
    imported. Self-contained, so that Ray can run it on a node without the project."""
    import hashlib
    import importlib.util
    import os

    digest = hashlib.sha1()
    for package in ("conversion", "tf_impl"):
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            return None
        root = next(iter(found.submodule_search_locations))
        for folder, subfolders, files in os.walk(root):
            subfolders.sort()
            for name in sorted(f for f in files if f.endswith(".py")):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode())
                with open(path, "rb") as f:
                    digest.update(f.read())
    return digest.hexdigest()


class _Worker:
    """One Ray actor: on its first call, the model file fetched from the object store (SHA-1
    checked) and the network loaded once by ``setup``; then one item per :meth:`run`. Every
    call carries ``boxed``, [a reference to (spec, the model file's bytes or None, its SHA-1,
    setup, TensorFlow's thread count)], rather than the constructor (Ray cannot restart an
    actor whose constructor arguments live in the object store), so a restarted worker loads
    again on its next call."""

    def __init__(self):
        self.work = None
        self.error = None

    def _load(self, boxed: list) -> None:
        if self.work is not None or self.error is not None:
            return
        import ray

        try:
            spec, model, sha1, setup, threads = ray.get(boxed[0])
            import_tensorflow_quietly()
            import tensorflow as tf

            # The driver's thread count, not this node's: TensorFlow's reductions add up in
            # an order that depends on it (docs/cluster.md), so this keeps the bytes the same.
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            self.work = setup(_local_model(spec, model, sha1))
        except Exception as exc:  # reported by ready() and run(): one line on the driver
            kind = "" if isinstance(exc, DeepDreamError) else f"{type(exc).__name__}: "
            self.error = kind + _first_line(exc)

    def ready(self, boxed: list) -> tuple[int, str, str | None]:
        """Load; (process id, host name, the error that stopped the model loading or None)."""
        self._load(boxed)
        return os.getpid(), socket.gethostname(), self.error

    def run(self, boxed: list, item):
        """The result of one item (an error raised here fails the run on the driver)."""
        self._load(boxed)
        if self.error is not None:
            raise DeepDreamError(self.error)
        return self.work(item)


def _local_model(spec: ModelSpec, model: bytes | None, sha1: str | None) -> ModelSpec:
    """``spec`` with its file replaced by a copy on this node (kept per SHA-1 in the temp
    folder, written atomically), checked against ``sha1``; a model name is loaded as named."""
    if model is None:
        return spec
    path = Path(tempfile.gettempdir()) / "deepdream-ray-models" / sha1 / spec.file.name
    if not path.is_file() or sha1_of(path) != sha1:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            tmp.write_bytes(model)
    arrived = sha1_of(path)
    if arrived != sha1:
        raise DeepDreamError(
            f"the model file arrived changed on {socket.gethostname()} (SHA-1 {arrived[:12]}, "
            f"sent {sha1[:12]})"
        )
    return replace(spec, file=path)


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise DeepDreamError(f"--ray: Ray cannot be imported ({exc}); {INSTALL}") from None
    return ray


def _connect(ray, options: RayOptions) -> None:
    """Join the cluster at ``options.address``, or start a local one on 127.0.0.1."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if options.address is not None:
            # A head on this machine's loopback address: the driver registers there too (else
            # Ray gives it the machine's network address, which that head never answers).
            host = options.address.rpartition(":")[0] or options.address
            loopback = {"_node_ip_address": "127.0.0.1"} if _is_loopback(host) else {}
            ray.init(address=options.address, **loopback, **quiet)
            return
        ray.init(
            num_cpus=max(usable_cores(), options.workers or 1),
            include_dashboard=False,
            object_store_memory=LOCAL_OBJECT_STORE,
            _node_ip_address="127.0.0.1",
            **quiet,
        )
    except Exception as exc:  # Ray's own kinds (authentication, timeouts...): one line
        where = options.address or "a local cluster"
        raise DeepDreamError(
            f"--ray: could not start or join {where} ({_first_line(exc)}); a cluster with "
            "token authentication needs its token here (RAY_AUTH_TOKEN, see Ray's docs)"
        ) from None


def _is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an IPv4/IPv6 address) is this machine's loopback."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _check_nodes(ray) -> None:
    """Every live node runs this very project (same sources): one line naming the node and
    what to install otherwise."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    # A copy of project_fingerprint with no module behind it, so that Ray ships its code by
    # value (a node without the project could not import this module to run it).
    shipped = types.FunctionType(
        project_fingerprint.__code__, {"__builtins__": builtins, "__name__": "__probe__"}
    )
    probe = ray.remote(num_cpus=0, max_retries=0)(shipped)
    mine = project_fingerprint()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    answers = [
        probe.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
        ).remote()
        for n in nodes
    ]
    for node, theirs in zip(nodes, _get(ray, answers, "checking the nodes"), strict=True):
        where = f"the Ray node at {node.get('NodeManagerAddress')}"
        if theirs is None:
            raise DeepDreamError(
                f"{where} cannot import this project (tf_impl, conversion); install it on every "
                f"node with its ray extra ({INSTALL}) and restart the node"
            )
        if theirs != mine:
            raise DeepDreamError(
                f"{where} runs another version of this project (its sources differ from this "
                "machine's); install the same version on every node and restart it"
            )


def run_on_ray(
    options: RayOptions,
    spec: ModelSpec,
    setup: Setup,
    items: Sequence,
    on_result: Callable[[int, object], None],
    on_workers: Callable[[list[tuple[int, str]]], None] | None = None,
) -> None:
    """Compute ``items`` on Ray workers and hand each result to ``on_result(index, result)``
    in the driver, as they finish (in any order). ``setup(spec)`` runs once per worker
    with the model file local to it and returns the function of one item; items and results
    travel pickled. ``on_workers([(pid, host)])`` is told the workers once they are ready.
    Raises DeepDreamError (one line) when the cluster cannot be used, a worker cannot load
    the model, an item fails, or a worker died more than ``RESTARTS`` times."""
    if not items:
        return  # all done already: no cluster to start
    if options.address is None:
        # A cluster of this machine alone: Ray's switch for one-machine clusters (read when
        # Ray is imported) keeps every address on 127.0.0.1, not the machine's own address.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = _import_ray()
    _connect(ray, options)
    try:
        _check_nodes(ray)
        _run(ray, options, spec, setup, items, on_result, on_workers)
    finally:
        ray.shutdown()


def _run(ray, options, spec, setup, items, on_result, on_workers) -> None:
    model = sha1 = None
    if spec.file is not None:
        sha1, model = sha1_of(spec.file), spec.file.read_bytes()
    threads = usable_cores()
    shipped = ray.put((spec, model, sha1, setup, threads))  # once for every worker
    cpus, count = _worker_cpus(ray, threads, options.workers)
    actor = ray.remote(_Worker).options(
        num_cpus=cpus, max_restarts=RESTARTS, max_task_retries=RESTARTS
    )
    workers = [actor.remote() for _ in range(min(count, len(items)))]
    boxed = [shipped]
    ready = _get(ray, [w.ready.remote(boxed) for w in workers], "loading the model")
    for _pid, host, error in ready:
        if error is not None:
            raise DeepDreamError(f"a Ray worker on {host} could not load the model: {error}")
    if on_workers:
        on_workers([(pid, host) for pid, host, _ in ready])
    queue = list(range(len(items)))
    running = {}
    for worker in workers:
        index = queue.pop(0)
        running[worker.run.remote(boxed, items[index])] = (index, worker)
    while running:
        (done,), _ = ray.wait(list(running), num_returns=1)
        index, worker = running.pop(done)
        on_result(index, _get(ray, done, "working"))
        if queue:
            index = queue.pop(0)
            running[worker.run.remote(boxed, items[index])] = (index, worker)


def _worker_cpus(ray, threads: int, workers: int | None) -> tuple[float, int]:
    """(CPUs each worker reserves, how many workers): as many CPUs as TensorFlow threads it
    runs (``threads``, the driver's), but no more than the smallest node has nor than
    ``workers`` leave each; without ``workers``, as many as the cluster's CPUs hold."""
    nodes = [n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
    total = sum(nodes)
    if total <= 0:
        raise DeepDreamError("the Ray cluster has no CPU for workers; start its nodes with CPUs")
    cpus = min([threads, *(c for c in nodes if c > 0)])
    if workers is not None:
        return min(cpus, total / workers), workers
    return cpus, max(1, int(total // cpus))


def _get(ray, refs, doing: str):
    """``ray.get`` with Ray's errors turned into one line."""
    try:
        return ray.get(refs, timeout=READY_TIMEOUT_S)
    except ray.exceptions.GetTimeoutError:
        raise DeepDreamError(
            f"Ray workers gave no answer within {READY_TIMEOUT_S:.0f} s while {doing}"
        ) from None
    except ray.exceptions.RayActorError as exc:
        raise DeepDreamError(
            f"a Ray worker died more than {RESTARTS} times while {doing} ({_first_line(exc)})"
        ) from None
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause
        text = str(cause) if isinstance(cause, DeepDreamError) else _first_line(exc)
        raise DeepDreamError(f"a Ray worker failed while {doing}: {text}") from None


def _first_line(exc: Exception) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
