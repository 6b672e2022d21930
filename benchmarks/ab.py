"""Interleaved A/B of unrolled and Keras-JAX in ONE process (robust to load on a shared machine).

Usage::

    KERAS_BACKEND=jax python -m benchmarks.ab --config seed --rounds 5

Both models are built from the same code (`benchmarks.peers.keras_like.build`), trained on the
same data; each round runs one epoch of each, then one predict pass of each. Reports the median
samples/s of each and their ratio. The official numbers come from `benchmarks.run` (separate
processes); this tool is for measuring levers quickly.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from benchmarks.common import CONFIGS, make_data
from benchmarks.peers.keras_like import build


def main(argv=None) -> int:
    """Command-line entry point."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    import unrolled

    p = argparse.ArgumentParser()
    p.add_argument("--config", default="seed", choices=sorted(CONFIGS))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--samples", type=int, default=None)
    a = p.parse_args(argv)
    cfg = CONFIGS[a.config]
    x, y, _ = make_data(cfg)
    if a.samples:
        x, y = x[: a.samples], y[: a.samples]
    n = len(x)
    models = {"unrolled": build(unrolled, cfg), "keras-jax": build(keras, cfg)}
    times = {k: ([], []) for k in models}
    for m in models.values():  # warm-up: compile train and predict
        m.fit(x, y, batch_size=cfg.batch, epochs=1, verbose=0)
        m.predict(x, batch_size=cfg.batch, verbose=0)
    for _ in range(a.rounds):
        for name, m in models.items():
            t = time.perf_counter()
            m.fit(x, y, batch_size=cfg.batch, epochs=1, verbose=0)
            times[name][0].append(time.perf_counter() - t)
            t = time.perf_counter()
            m.predict(x, batch_size=cfg.batch, verbose=0)
            times[name][1].append(time.perf_counter() - t)
    rates = {k: (n / statistics.median(t), n / statistics.median(i)) for k, (t, i) in times.items()}
    for k, (t, i) in rates.items():
        print(f"{cfg.name} {k:<10} train {t:10,.0f}/s  infer {i:10,.0f}/s")
    u, k = rates["unrolled"], rates["keras-jax"]
    print(f"{cfg.name} ratio unrolled/keras-jax: train {u[0] / k[0]:.2f}x  "
          f"infer {u[1] / k[1]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
