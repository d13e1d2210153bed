"""Real Ray clusters for the tests, started with Ray's own ``ray start`` on this machine, and
the ``deepdream`` command run against them.

A cluster is stopped at the end, even when a test fails, with ``ray stop --force``, which stops
every Ray process of this machine (Ray has no way to stop one cluster of several): do not run
these tests beside Ray work of your own. Every cluster here is one node on 127.0.0.1, with as
many CPUs (so workers) as asked: Ray 2.60 moves a cluster of several nodes off the loopback
address onto the machine's own network address (its GCS and raylets listen and connect there,
whatever ``--node-ip-address`` says), and these tests send traffic to loopback only; a
one-node cluster stays on 127.0.0.1 with ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RAY = Path(sys.executable).parent / "ray"
RUN_TIMEOUT_S = 300
NODE = ["--object-store-memory=100000000"]


def ray_env(pythonpath: str | Path = PROJECT_ROOT) -> dict:
    """The environment of the cluster's node and of the commands: ``pythonpath`` the path
    (the node's workers import the project, or what stands in for it, from there), Ray kept
    lean, everything on 127.0.0.1, and without Ray's token authentication (a head node would
    want its token from every driver; all of this stays on this machine)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(pythonpath)
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_DEDUP_LOGS="0", RAY_ADDRESS="")
    env["RAY_AUTH_MODE"] = "disabled"
    env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    return env


def free_port() -> int:
    """A TCP port nobody listens on now (127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def ray_cluster(cpus: int = 1, pythonpath: str | Path = PROJECT_ROOT) -> Iterator[str]:
    """HOST:PORT of a one-node Ray cluster on 127.0.0.1 with ``cpus`` CPUs (one worker each)
    whose workers find the project through ``pythonpath``; stopped afterwards, whatever
    happened. Join it with :func:`ray_env`."""
    env = ray_env(pythonpath)
    port = free_port()
    start = [str(RAY), "start", "--head", f"--port={port}", "--include-dashboard=false"]
    try:
        subprocess.run(
            [*start, f"--num-cpus={cpus}", *NODE],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(RAY), "stop", "--force"], env=env, capture_output=True, timeout=120)


def command(argv: list[str], env: dict | None = None, cwd: Path | None = None):
    """``deepdream argv`` in a fresh process (a Popen, stderr piped as text; ``env``:
    ray_env()). Ray puts the driver's working directory on its workers' path too."""
    return subprocess.Popen(
        [sys.executable, "-m", "tf_impl.cli", *argv],
        env=env or ray_env(),
        cwd=cwd,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def finish_with_error(process: subprocess.Popen) -> str:
    """The one stderr line of a command that failed with exit code 2."""
    err = process.stderr.read()
    assert process.wait(timeout=RUN_TIMEOUT_S) == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]
