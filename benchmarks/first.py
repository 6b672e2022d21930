"""First trained batch of unrolled and Keras-JAX, from alternating fresh processes.

Usage::

    python -m benchmarks.first --config seed --rounds 7

"First batch" is what `benchmarks.run` reports: seconds from building the model (the library
already imported) to the end of ``fit`` on one batch, compilation included; the import itself is
reported beside it. It is a one-shot number per process, so `benchmarks.run`'s single process per
system is at the mercy of the machine's drift (on this VM the same system varied 1.7-2.2 s within
an hour). Here each round starts one fresh process per system, alternating, and the medians and
the median of the per-round ratios are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks.common import CONFIGS

SYSTEMS = {"unrolled": "unrolled", "keras-jax": "keras"}


def child(system: str, config: str) -> dict:
    """Import ``system``, then build the benchmark model and fit one batch; return the timings."""
    from benchmarks.common import make_data
    from benchmarks.peers.keras_like import build

    cfg = CONFIGS[config]
    x, y, _ = make_data(cfg)
    t0 = time.perf_counter()
    lib = __import__(SYSTEMS[system])
    t1 = time.perf_counter()
    model = build(lib, cfg)
    model.fit(x[: cfg.batch], y[: cfg.batch], batch_size=cfg.batch, epochs=1, verbose=0,
              shuffle=False)
    t2 = time.perf_counter()
    return {"system": system, "import_s": t1 - t0, "first_batch_s": t2 - t1}


def _spawn(system: str, config: str) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, KERAS_BACKEND="jax")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, os.path.join(root, "src"), env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-m", "benchmarks.first", "--child", system,
                           "--config", config], env=env, cwd=root, capture_output=True,
                          text=True, timeout=600, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="seed", choices=sorted(CONFIGS))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--child", choices=sorted(SYSTEMS), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.child, a.config)))
        return 0
    runs = {s: [] for s in SYSTEMS}
    for r in range(a.rounds):
        order = list(SYSTEMS) if r % 2 == 0 else list(reversed(SYSTEMS))
        for system in order:
            runs[system].append(_spawn(system, a.config))
    for system, rs in runs.items():
        first = [r["first_batch_s"] for r in rs]
        imp = [r["import_s"] for r in rs]
        print(f"{a.config} {system:<10} first batch {statistics.median(first):.2f} s "
              f"(min {min(first):.2f}, max {max(first):.2f})  "
              f"import {statistics.median(imp):.2f} s")
    ratios = [u["first_batch_s"] / k["first_batch_s"]
              for u, k in zip(runs["unrolled"], runs["keras-jax"], strict=True)]
    print(f"{a.config} first batch unrolled/keras-jax: median {statistics.median(ratios):.2f} "
          f"(rounds: {', '.join(f'{q:.2f}' for q in ratios)}; below 1 = unrolled earlier)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
