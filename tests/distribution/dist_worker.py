"""Subprocess side of the distribution tests: a pure-JAX LSTM train step under a distribution.

Run as ``python dist_worker.py MODE OUT_DIR [PROCESS_ID PORT]`` with XLA_FLAGS setting the number
of CPU devices (the flag must be set before JAX is imported, hence a fresh process). Modes:
``reference`` (one device), ``dp`` (DataParallel over every local device), ``mp`` (one of two
processes of 2 devices, jax.distributed on 127.0.0.1), ``model`` (ModelParallel, LSTM kernels
split over a "model" axis). Writes ``OUT_DIR/<mode>[<process>].npz``; the tests compare.
"""

import json
import sys
from collections import namedtuple
from pathlib import Path

import numpy as np

GLOBAL_BATCH, STEPS, T, F, UNITS = 8, 4, 6, 3, 8
PATHS = ["sequential/lstm/lstm_cell/kernel", "sequential/lstm/lstm_cell/recurrent_kernel",
         "sequential/lstm/lstm_cell/bias", "sequential/dense/kernel", "sequential/dense/bias"]
Var = namedtuple("Var", "path shape")


def data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(GLOBAL_BATCH * STEPS, T, F)).astype("float32")
    y = (x[:, -1, :1] > 0).astype("float32") + 0.1 * x[:, 0, 1:2]
    w = rng.uniform(0.5, 1.5, size=(GLOBAL_BATCH * STEPS,)).astype("float32")
    return x, y, w


def initial_params():
    rng = np.random.default_rng(3)
    shapes = [(F, 4 * UNITS), (UNITS, 4 * UNITS), (4 * UNITS,), (UNITS, 1), (1,)]
    return [rng.normal(scale=0.3, size=s).astype("float32") for s in shapes]


def build(jax, optax):
    from unrolled.ops.rnn import lstm

    def loss_fn(params, x, y, w):
        k, r, b, dk, db = params
        last, _, _ = lstm(x, k, r, b)  # (B, u)
        pred = last @ dk + db  # (B, 1)
        return jax.numpy.sum(w * jax.numpy.mean((pred - y) ** 2, axis=-1)) / x.shape[0]

    opt = optax.adam(1e-2)

    def step(params, opt_state, x, y, w):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, w)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss, grads

    return loss_fn, opt, step


def train(dist, arrays_for_step):
    """Train STEPS steps; `arrays_for_step(i)` gives the global (x, y, w) of step i."""
    import jax
    import optax

    from unrolled import distribution as ud

    _, opt, step = build(jax, optax)
    host = initial_params()
    if dist is None:
        params = [jax.device_put(p, jax.devices()[0]) for p in host]
        jstep = jax.jit(step)
    else:
        variables = [Var(p, h.shape) for p, h in zip(PATHS, host, strict=True)]
        shardings = ud.variable_shardings(dist, variables)
        params = ud.distribute_variables(dist, host, shardings)
        opt_sh = ud.state_shardings(dist, jax.eval_shape(opt.init, params), params, shardings)
        jstep = jax.jit(step, out_shardings=(shardings, opt_sh, ud.replicated(dist), shardings))
    opt_state = jax.jit(opt.init, out_shardings=None if dist is None else opt_sh)(params)
    losses, grads0, hlo = [], None, ""
    for i in range(STEPS):
        batch = arrays_for_step(i)
        if i == 0:
            hlo = jstep.lower(params, opt_state, *batch).compile().as_text()
        params, opt_state, loss, grads = jstep(params, opt_state, *batch)
        losses.append(float(ud.to_numpy(loss)) if dist else float(loss))
        if i == 0:
            grads0 = [ud.to_numpy(g) if dist else np.asarray(g) for g in grads]
    final = [ud.to_numpy(p) if dist else np.asarray(p) for p in params]
    info = {"all_reduce": "all-reduce" in hlo,
            "kernel_shard_shape": list(params[0].sharding.shard_shape(params[0].shape)),
            "kernel_shards": len(params[0].addressable_shards)}
    return final, losses, grads0, info


def save(out, name, final, losses, grads0, info, **extra):
    arrays = {f"w{i}": a for i, a in enumerate(final)}
    arrays.update({f"g{i}": a for i, a in enumerate(grads0)})
    np.savez(Path(out) / f"{name}.npz", losses=np.array(losses), info=json.dumps(info),
             **arrays, **extra)


def main():
    mode, out = sys.argv[1], sys.argv[2]
    import jax

    from unrolled import distribution as ud

    x, y, w = data()
    rows = lambda i: slice(i * GLOBAL_BATCH, (i + 1) * GLOBAL_BATCH)  # noqa: E731
    if mode == "reference":
        save(out, mode, *train(None, lambda i: (x[rows(i)], y[rows(i)], w[rows(i)])))
    elif mode == "dp":
        dist = ud.DataParallel()
        save(out, mode, *train(dist, lambda i: ud.global_batch_from_arrays(
            dist, (x, y, w), i * GLOBAL_BATCH, GLOBAL_BATCH)))
    elif mode == "model":
        mesh = ud.DeviceMesh((2, 2), ["batch", "model"])
        layout_map = ud.LayoutMap(mesh)
        layout_map[".*lstm_cell/kernel"] = (None, "model")
        layout_map[".*lstm_cell/recurrent_kernel"] = (None, "model")
        layout_map[".*lstm_cell/bias"] = ("model",)
        layout_map[".*dense/kernel"] = ("model", None)
        dist = ud.ModelParallel(layout_map=layout_map, batch_dim_name="batch")
        save(out, mode, *train(dist, lambda i: ud.global_batch_from_arrays(
            dist, (x, y, w), i * GLOBAL_BATCH, GLOBAL_BATCH)))
    elif mode == "mp":
        pid, port = int(sys.argv[3]), sys.argv[4]
        ud.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=pid)
        dist = ud.DataParallel()
        name = f"mp{pid}"
        rows_here = ud.local_rows(dist, GLOBAL_BATCH)
        # NumPy arrays: every process passes the same full arrays and takes its own rows.
        final, losses, grads0, info = train(dist, lambda i: ud.global_batch_from_arrays(
            dist, (x, y, w), i * GLOBAL_BATCH, GLOBAL_BATCH))
        info.update(rows=[rows_here.start, rows_here.stop], devices=len(jax.devices()),
                    local_devices=len(jax.local_devices()), shard=list(ud.dataset_shard(dist)))
        # Agreeing on a padded length, and gathering a batch split over both processes.
        info["global_max"] = ud.global_max(3 + pid)
        gx = ud.global_batch_from_arrays(dist, x, GLOBAL_BATCH, GLOBAL_BATCH)
        info["gathered"] = bool(np.array_equal(ud.to_numpy(gx), x[GLOBAL_BATCH:2 * GLOBAL_BATCH]))
        save(out, name, final, losses, grads0, info)
        # A stream: each process reads only its shard of a PyDataset of half-batches.
        from unrolled.data import BatchStream, PyDataset

        half = GLOBAL_BATCH // 2

        class Halves(PyDataset):
            read = []

            def __len__(self):
                return 2 * STEPS

            def __getitem__(self, i):
                self.read.append(i)
                s = slice(i * half, (i + 1) * half)
                return x[s], y[s], w[s]

        source = Halves()
        stream = BatchStream(source, shard=ud.dataset_shard(dist))
        batches = list(stream.epoch())
        final, losses, grads0, info = train(dist, lambda i: ud.make_global_batch(
            dist, batches[i][:3], GLOBAL_BATCH))
        save(out, name + "_stream", final, losses, grads0, info, read=np.array(source.read))
        jax.distributed.shutdown()
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
