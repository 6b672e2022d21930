"""The README's two-process example (examples/data_parallel.py) runs as documented.

Oracle: invariants. Both processes of a data-parallel run hold the same replicated weights
(equal checksums printed by each) and report the same, decreasing, global loss.
"""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_two_processes_on_one_machine_train_one_model():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT / "src"))
    procs = [subprocess.Popen([sys.executable, str(ROOT / "examples" / "data_parallel.py"),
                               "--coordinator", f"127.0.0.1:{port}", "--processes", "2",
                               "--process-id", str(i)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in (0, 1)]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=120))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    lines = []
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
        lines.append(out.strip().splitlines()[-1])
    pattern = r"process (\d)/2, 4 devices: loss ([\d.]+) -> ([\d.]+), weights checksum ([\d.]+)"
    found = [re.fullmatch(pattern, line) for line in lines]
    assert all(found), lines
    (p0, first0, last0, sum0), (p1, first1, last1, sum1) = (m.groups() for m in found)
    assert (p0, p1) == ("0", "1")
    assert (first0, last0, sum0) == (first1, last1, sum1)
    assert float(last0) < float(first0) - 0.05
