"""Running distribution workers in fresh processes, shared by the tests of this folder.

Each worker is a new Python process, because XLA_FLAGS fixes the number of CPU devices before
JAX starts; its output is kept for the assertion message, and a worker still alive when the
test ends (a hang, a failed peer) is killed.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"


def launch(script: str, mode: str, out, devices: int, *extra) -> subprocess.Popen:
    """Start ``python HERE/script mode out *extra`` on ``devices`` CPU devices."""
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu", PYTHONPATH=os.pathsep.join([str(SRC), str(HERE)]))
    env.pop("KERAS_BACKEND", None)
    return subprocess.Popen([sys.executable, str(HERE / script), mode, str(out),
                             *map(str, extra)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait(*procs, timeout: float) -> None:
    """Wait for every worker; kill the ones left; assert each exited 0 (showing its output)."""
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=timeout)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, text in zip(procs, outputs, strict=True):
        assert p.returncode == 0, text[-3000:]


def free_port() -> int:
    """A TCP port on 127.0.0.1 free right now (for jax.distributed's coordinator)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
