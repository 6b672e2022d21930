"""Data-parallel scaling: samples/s and efficiency on 1, 2, 4 devices, and time spent on input.

Each device count runs in a fresh process (on CPU, ``XLA_FLAGS=--xla_force_host_platform_device_
count=N`` must be set before JAX starts; on GPU the first N GPUs are used). The step is a pure-JAX
train step of the benchmark model's core (LSTM(U) -> Dense(2), sigmoid cross-entropy, optax Adam)
under `unrolled.distribution.DataParallel`: variables replicated, the global batch split, XLA's
all-reduce of the gradients. Weak scaling: every device gets ``--per-device-batch`` rows, so the
global batch grows with N; efficiency = samples/s(N) / (N * samples/s(1)).

Input runs as a fit loop will run it: a generator of NumPy batches -> `BatchStream` -> a
`Prefetcher` thread that also places each batch on the devices (`make_global_batch`). Every step
is awaited (`block_until_ready`), so "waiting" is time the devices sat idle for input:
``wait fraction = consumer wait / wall time`` of the timed steps; "input ms" is the prefetch
thread's own time per batch (reading, padding, placing), overlapped with the steps.

    python -m benchmarks.scaling                          # CPU: 1, 2, 4 devices
    python -m benchmarks.scaling --platform gpu --devices 1,2,4,8   # on a GPU machine
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(args) -> dict:
    import jax
    import numpy as np
    import optax

    from unrolled import distribution as ud
    from unrolled.data import BatchStream, Prefetcher
    from unrolled.ops.rnn import lstm

    n = args.devices[0]
    devices = jax.devices()[:n]
    assert len(devices) == n, f"asked for {n} devices, found {len(jax.devices())}"
    dist = ud.DataParallel(devices=devices)
    f, u, t = args.features, args.units, args.timesteps
    gb = args.per_device_batch * n
    rng = np.random.default_rng(0)
    host = [rng.normal(scale=0.2, size=s).astype("float32")
            for s in [(f, 4 * u), (u, 4 * u), (4 * u,), (u, 2), (2,)]]
    shardings = [ud.replicated(dist)] * len(host)
    params = ud.distribute_variables(dist, host, shardings)
    opt = optax.adam(1e-3, eps=1e-7)
    opt_sh = ud.state_shardings(dist, jax.eval_shape(opt.init, params), params, shardings)
    opt_state = jax.jit(opt.init, out_shardings=opt_sh)(params)

    def loss_fn(p, x, y, w):
        last, _, _ = lstm(x, p[0], p[1], p[2])  # (B, u)
        logits = last @ p[3] + p[4]  # (B, 2)
        per = optax.sigmoid_binary_cross_entropy(logits, y).mean(-1)  # (B,)
        return (per * w).sum() / x.shape[0]

    def step(p, s, x, y, w):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y, w)
        updates, s = opt.update(g, s, p)
        return optax.apply_updates(p, updates), s, loss

    jstep = jax.jit(step, out_shardings=(shardings, opt_sh, ud.replicated(dist)),
                    donate_argnums=(0, 1))
    x_all = rng.normal(size=(gb * 8, t, f)).astype("float32")
    y_all = (x_all[:, :, :1].mean(1) > 0).astype("float32").repeat(2, axis=1)
    total = args.warmup + args.steps

    def batches():
        for i in range(total):
            s = slice((i % 8) * gb, (i % 8 + 1) * gb)
            yield x_all[s], y_all[s]

    place = lambda b: ud.make_global_batch(dist, (b.x, b.y, b.sample_weight), gb)  # noqa: E731
    with Prefetcher(BatchStream(batches).epoch(), depth=2, transform=place) as stream:
        start = time.perf_counter()
        for i, (x, y, w) in enumerate(stream):
            if i == args.warmup:  # compiled and warm: start the clock and the counters
                start, stream.wait_seconds = time.perf_counter(), 0.0
                produced = stream.produce_seconds
            params, opt_state, loss = jstep(params, opt_state, x, y, w)
            loss.block_until_ready()
        wall = time.perf_counter() - start
        wait, produce = stream.wait_seconds, stream.produce_seconds - produced
    return {"devices": n, "platform": devices[0].platform, "global_batch": gb,
            "steps": args.steps, "seconds": wall, "samples_per_s": args.steps * gb / wall,
            "wait_fraction": wait / wall, "step_ms": 1e3 * wall / args.steps,
            "input_ms": 1e3 * produce / args.steps, "loss": float(ud.to_numpy(loss))}


def run_one(args, n: int) -> dict:
    env = dict(os.environ)
    if args.platform == "cpu":
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={n}"
        env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "benchmarks.scaling", "--child", "--devices", str(n)]
    for name in ("per_device_batch", "features", "units", "timesteps", "steps", "warmup"):
        cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=args.timeout)
    if out.returncode:
        raise SystemExit(f"{n} devices failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    base = rows[0]["samples_per_s"] / rows[0]["devices"]
    lines = ["| devices | global batch | samples/s | scaling efficiency | step ms | input ms "
             "(prefetch thread) | waiting on input |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        eff = r["samples_per_s"] / (r["devices"] * base)
        lines.append(f"| {r['devices']} ({r['platform']}) | {r['global_batch']} | "
                     f"{r['samples_per_s']:,.0f} | {eff:.2f} | {r['step_ms']:.2f} | "
                     f"{r['input_ms']:.2f} | {r['wait_fraction']:.1%} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=lambda s: [int(v) for v in s.split(",")], default=[1, 2, 4])
    p.add_argument("--platform", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--per-device-batch", type=int, default=32)
    p.add_argument("--features", type=int, default=1)
    p.add_argument("--units", type=int, default=16)
    p.add_argument("--timesteps", type=int, default=100)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--timeout", type=int, default=300)
    p.add_argument("--out", type=Path, help="write latest.md / latest.json here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return
    load = os.getloadavg()
    rows = [run_one(args, n) for n in args.devices]
    text = (f"{table(rows)}\n\nMachine: {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores, load average {load[0]:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after. Command: python -m benchmarks.scaling "
            f"{' '.join(sys.argv[1:])}\n")
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "latest.md").write_text(text)
        (args.out / "latest.json").write_text(json.dumps({"rows": rows, "load": load}, indent=1))


if __name__ == "__main__":
    main()
