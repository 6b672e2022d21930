"""Subprocess side of the `Model.fit` distribution tests: Keras-API training under a distribution.

Run as ``python fit_worker.py MODE OUT_DIR [PROCESS_ID PORT]`` with XLA_FLAGS setting the number
of CPU devices (a fresh process: the flag must be set before JAX starts). Every mode builds the
same tiny model from the same seed and trains it on the same arrays with `model.fit`:

- ``reference``: one device, no distribution: run A (2 shuffled epochs with validation data,
  then evaluate and predict) and run B (3 unshuffled epochs);
- ``dp``: run A under ``DataParallel()`` over the 4 local devices (``set_distribution``);
- ``model``: run A under ``ModelParallel`` on a (2, 2) mesh, LSTM and Dense kernels split over
  "model" (inside ``dist.scope()``);
- ``mp``: one of two processes of 2 devices (jax.distributed on 127.0.0.1): run A, then the
  first 2 epochs of run B with a ModelCheckpoint;
- ``resume``: one of a fresh pair of processes: loads that checkpoint and fits epoch 3 of B,
  then run B from a PyDataset of half batches of which each process reads its shard.

``dp`` also runs B from a PyDataset of whole batches.

Writes ``OUT_DIR/<mode>[<process>]_<run>.npz`` (weights, History, evaluate, predict); the tests
compare them with the reference.
"""

import json
import sys
from pathlib import Path

import numpy as np

N, T, F, UNITS, BATCH = 32, 5, 3, 8, 8


def data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(N + 8, T, F)).astype("float32")
    y = np.stack([x[:, -1, 0] > 0, x[:, 0, 1] > 0], -1).astype("float32") + 0.1 * x[:, 1, :2]
    w = rng.uniform(0.5, 1.5, size=(N + 8,)).astype("float32")
    return (x[:N], y[:N], w[:N]), (x[N:], y[N:])


def build():
    from unrolled import layers, models, optimizers, utils

    utils.set_random_seed(1)
    model = models.Sequential([layers.Input((T, F)), layers.LSTM(UNITS), layers.Dense(2)])
    model.compile(optimizer=optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    return model


def run_a(model):
    (x, y, w), val = data()
    hist = model.fit(x, y, sample_weight=w, batch_size=BATCH, epochs=2, shuffle=True,
                     validation_data=val, verbose=0)
    evaluated = model.evaluate(val[0], val[1], batch_size=BATCH, verbose=0, return_dict=True)
    predicted = model.predict(val[0][:6], batch_size=4, verbose=0)  # rows padded to replicas
    return hist.history, evaluated, predicted


def save(out, name, model, history, evaluated=None, predicted=None, info=None):
    import jax

    if jax.process_index() == 0 or name.startswith(("mp", "resume")):
        arrays = {f"w{i}": a for i, a in enumerate(model.get_weights())}
        if predicted is not None:
            arrays["predicted"] = predicted
        np.savez(Path(out) / f"{name}.npz", history=json.dumps(history),
                 evaluated=json.dumps(evaluated), info=json.dumps(info or {}), **arrays)


def run_stream(model, rows):
    """Run B (3 epochs, no shuffling) from a PyDataset of batches of ``rows`` rows.

    Under a distribution each process reads only its shard of the batches (every other one with
    two processes), and a global step is the processes' batches side by side.
    """
    from unrolled.utils import PyDataset

    (x, y, w), _ = data()

    class Batches(PyDataset):
        read = []

        def __len__(self):
            return N // rows

        def __getitem__(self, i):
            self.read.append(i)
            s = slice(i * rows, (i + 1) * rows)
            return x[s], y[s], w[s]

    source = Batches()
    hist = model.fit(source, epochs=3, verbose=0)
    return hist.history, sorted(set(source.read))


def model_parallel():
    from unrolled import distribution as ud

    mesh = ud.DeviceMesh((2, 2), ["batch", "model"])
    layout_map = ud.LayoutMap(mesh)
    layout_map[".*lstm_cell/kernel"] = (None, "model")
    layout_map[".*lstm_cell/recurrent_kernel"] = (None, "model")
    layout_map[".*lstm_cell/bias"] = ("model",)
    layout_map[".*dense/kernel"] = ("model", None)
    return ud.ModelParallel(layout_map=layout_map, batch_dim_name="batch")


def main():
    mode, out = sys.argv[1], sys.argv[2]
    from unrolled import distribution as ud

    (x, y, w), _ = data()
    if mode in ("mp", "resume"):
        pid, port = int(sys.argv[3]), sys.argv[4]
        ud.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=pid)
    import jax

    if mode == "reference":
        model = build()
        save(out, "reference_a", model, *run_a(model))
        model = build()
        hist = model.fit(x, y, sample_weight=w, batch_size=BATCH, epochs=3, shuffle=False,
                         verbose=0)
        save(out, "reference_b", model, hist.history)
    elif mode == "dp":
        ud.set_distribution(ud.DataParallel())
        model = build()
        history, evaluated, predicted = run_a(model)
        kernel = model.weights[0]._value
        info = {"kernel_shards": len(kernel.addressable_shards),
                "kernel_replicated": bool(kernel.sharding.is_fully_replicated)}
        save(out, "dp_a", model, history, evaluated, predicted, info)
        model = build()
        history, read = run_stream(model, BATCH)
        save(out, "dp_stream", model, history, info={"read": read})
    elif mode == "model":
        dist = model_parallel()
        with dist.scope():
            model = build()
            history, evaluated, predicted = run_a(model)
        kernel = model.weights[0]._value
        info = {"kernel_shard_shape": list(kernel.sharding.shard_shape(kernel.shape))}
        save(out, "model_a", model, history, evaluated, predicted, info)
    elif mode == "mp":
        from unrolled import callbacks

        ud.set_distribution(ud.DataParallel())
        model = build()
        history, evaluated, predicted = run_a(model)
        info = {"devices": jax.device_count(), "local_devices": jax.local_device_count()}
        save(out, f"mp{pid}_a", model, history, evaluated, predicted, info)
        from unrolled.io import atomic

        writes, write = [], atomic.atomic_write
        atomic.atomic_write = lambda path, *a, **k: (writes.append(Path(path).name),
                                                     write(path, *a, **k))
        model = build()
        ckpt = callbacks.ModelCheckpoint(str(Path(out) / "ckpt_e{epoch}.keras"))
        hist = model.fit(x, y, sample_weight=w, batch_size=BATCH, epochs=2, shuffle=False,
                         verbose=0, callbacks=[ckpt])
        save(out, f"mp{pid}_b2", model, hist.history, info={"writes": writes})
    elif mode == "resume":
        from unrolled import models

        ud.set_distribution(ud.DataParallel())
        model = models.load_model(str(Path(out) / "ckpt_e2.keras"))
        hist = model.fit(x, y, sample_weight=w, batch_size=BATCH, epochs=3, initial_epoch=2,
                         shuffle=False, verbose=0)
        save(out, f"resume{pid}_b", model, hist.history)
        model = build()
        history, read = run_stream(model, BATCH // 2)
        save(out, f"resume{pid}_stream", model, history, info={"read": read})
    else:
        raise SystemExit(f"unknown mode {mode}")
    if mode in ("mp", "resume"):
        jax.distributed.shutdown()


if __name__ == "__main__":
    main()
