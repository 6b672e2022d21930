"""Subprocess side of test_larger_than_memory: train from a file under an address-space limit.

``python big_file_worker.py FILE HEADROOM_MB [fit]``: compiles the step, then limits the address
space (RLIMIT_AS) to what the process already maps plus HEADROOM_MB, proves that the whole file
no longer fits, streams the file through `BatchStream` + `Prefetcher` and trains; prints JSON.
With ``fit``, the training is `model.fit` on a generator function of the file's batches.
"""

import json
import resource
import sys

import numpy as np

B, T, F = 512, 128, 8  # one batch: 2 MiB of float32


def batch_from_rows(x):
    return x, x[:, -1, :1] * 2.0 + 1.0  # targets derived from the inputs


def make_step():
    import jax
    import jax.numpy as jnp

    @jax.jit
    def step(w, x, y, sw):
        def loss(w):
            pred = jnp.mean(x, axis=1) @ w  # (B, 1)
            return jnp.sum(sw * jnp.mean((pred - y) ** 2, axis=-1)) / x.shape[0]

        value, grad = jax.value_and_grad(loss)(w)
        return w - 0.1 * grad, value

    return step


def make_model():
    """``mean over time -> Dense(1)``, SGD 0.1 on MSE: the same maths as `make_step`."""
    from unrolled import layers, models, optimizers

    model = models.Sequential([layers.Input((T, F)), layers.GlobalAveragePooling1D(),
                               layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="mse")
    return model


def vm_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize")


def main():
    path, headroom = sys.argv[1], int(sys.argv[2]) * 2**20
    with_fit = sys.argv[3:] == ["fit"]
    from unrolled.data import BatchStream, Prefetcher

    step = make_step()
    w = np.zeros((F, 1), "float32")
    zero = np.zeros((B, T, F), "float32")
    if with_fit:  # compile fit's step before the limit: zero data leaves the zero weights
        model = make_model()
        model.fit(lambda: iter([(zero, zero[:, 0, :1])]), epochs=1, verbose=0)
        assert not np.any(model.get_weights()[0])
    else:
        step(w, zero, zero[:, 0, :1], np.ones(B, "float32"))  # compile before the limit
    file_bytes = int(np.memmap(path, dtype=np.uint8, mode="r").shape[0])
    limit = vm_bytes() + headroom
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        np.ones(file_bytes, np.uint8)
        fits = True
    except MemoryError:
        fits = False

    def read_batches():
        with open(path, "rb") as f:
            while True:
                x = np.fromfile(f, dtype="float32", count=B * T * F)
                if x.size == 0:
                    return
                yield batch_from_rows(x.reshape(-1, T, F))

    if with_fit:
        history = model.fit(read_batches, epochs=1, verbose=0)
        print(json.dumps({"whole_file_fits": fits, "file_bytes": file_bytes, "limit": limit,
                          "loss": history.history["loss"][0],
                          "w": model.get_weights()[0].ravel().tolist()}))
        return
    sums, losses = [], []
    with Prefetcher(BatchStream(read_batches, batch_size=B).epoch(), depth=2) as batches:
        for b in batches:
            sums.append(float(b.x.astype(np.float64).sum()))
            w, loss = step(w, b.x, b.y, b.sample_weight)
            losses.append(float(loss))
    print(json.dumps({"whole_file_fits": fits, "file_bytes": file_bytes, "limit": limit,
                      "sums": sums, "losses": losses, "w": np.asarray(w).ravel().tolist()}))


if __name__ == "__main__":
    main()
