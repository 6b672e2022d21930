"""Measure one lever at a time on the LSTM op: the same jitted gradient step, interleaved variants.

Usage::

    python -m benchmarks.levers --config seed --variants reference,fast,fast-u2,fast-u4
    python -m benchmarks.levers --config medium --variants fast-p1,fast-p2,fast-p4
    python -m benchmarks.levers --config seed --variants fast,fast-xla2

A variant is ``reference`` (generic scan, JAX autodiff) or ``fast`` (hand-derived BPTT), with
optional suffixes: ``-uN`` a scan unroll factor, ``-pG`` G phases of the length-sorted masked
path (``unrolled.ops.packed.PHASES``; 1 = the plain scan), ``-xla2`` plain ``jax.jit`` instead of
unrolled's compiler options (``unrolled.ops.compile``). Each round times every variant once on
the same batches (so load on the machine hits all variants alike); the median over rounds is
reported, for the gradient step (train) and for the forward pass alone (infer), in samples/s.
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.common import CONFIGS, make_data


def main(argv=None) -> int:
    """Command-line entry point."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from unrolled.ops import compile as ucompile
    from unrolled.ops import packed, rnn

    p = argparse.ArgumentParser()
    p.add_argument("--config", default="seed", choices=sorted(CONFIGS))
    p.add_argument("--variants", default="reference,fast")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--batches", type=int, default=16)
    a = p.parse_args(argv)
    cfg = CONFIGS[a.config]
    x, y, _ = make_data(cfg)
    rng = np.random.default_rng(0)
    u, f = cfg.units, cfg.features
    params = [rng.normal(0, 0.3, s).astype(np.float32)
              for s in [(f, 4 * u), (u, 4 * u), (4 * u,), (u, 2), (2,)]]
    batches = [(x[i * cfg.batch:(i + 1) * cfg.batch], y[i * cfg.batch:(i + 1) * cfg.batch])
               for i in range(a.batches)]

    def make(variant):
        name, *suffixes = variant.split("-")
        op = {"reference": rnn.lstm_reference, "fast": rnn.lstm}[name]
        unroll, phases, jit = 1, packed.PHASES, ucompile.jit
        for suffix in suffixes:
            if suffix.startswith("u"):
                unroll = int(suffix[1:])
            elif suffix.startswith("p"):
                phases = int(suffix[1:])
            elif suffix == "xla2":
                jit = jax.jit
            else:
                raise SystemExit(f"unknown variant suffix {suffix!r} in {variant!r}")

        def forward(params, xb):
            k, r, b, w, wb = params
            mask = jnp.any(xb != 0.0, axis=-1)  # (B, T)
            last, _, _ = op(xb, k, r, b, mask=mask, unroll=unroll)
            return jax.nn.sigmoid(last @ w + wb)

        def loss(params, xb, yb):
            p = jnp.clip(forward(params, xb), 1e-7, 1 - 1e-7)
            return -jnp.mean(yb * jnp.log(p) + (1 - yb) * jnp.log(1 - p))

        grad, fwd = jit(jax.value_and_grad(loss)), jit(forward)
        default, packed.PHASES = packed.PHASES, phases
        try:  # compile now: the phase count is read while tracing
            jax.block_until_ready(grad(params, *batches[0]))
            jax.block_until_ready(fwd(params, batches[0][0]))
        finally:
            packed.PHASES = default
        return grad, fwd

    fns = {v: make(v) for v in a.variants.split(",")}
    times = {v: ([], []) for v in fns}
    for _ in range(a.rounds):
        for v, (grad, fwd) in fns.items():
            t = time.perf_counter()
            for xb, yb in batches:
                out = grad(params, xb, yb)
            jax.block_until_ready(out)
            times[v][0].append(time.perf_counter() - t)
            t = time.perf_counter()
            for xb, _ in batches:
                out = fwd(params, xb)
            jax.block_until_ready(out)
            times[v][1].append(time.perf_counter() - t)
    n = a.batches * cfg.batch
    print(f"config {cfg.name}: samples/s (median of {a.rounds} rounds of {a.batches} batches)")
    base = None
    for v, (tr, inf) in times.items():
        train, infer = n / statistics.median(tr), n / statistics.median(inf)
        base = base or (train, infer)
        print(f"{v:<16} train {train:10,.0f}  infer {infer:10,.0f}   "
              f"x{train / base[0]:.2f} / x{infer / base[1]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
