"""Data-parallel LSTM training with `model.fit` over every device of one or several processes.

Every process runs this same program on the same full arrays. `distribution.initialize` joins
the processes (first, before anything starts JAX's backend); `set_distribution(DataParallel())`
makes `fit` replicate the weights on every device of every process (process 0's values), split
each global batch of `BATCH` rows over the devices (each process copies only its own rows) and
let XLA all-reduce the gradients: the numbers equal one device on the same batches.

One process, all its devices::

    python examples/data_parallel.py

Two processes on one machine, two CPU devices each (run both; process 0 is the coordinator)::

    export XLA_FLAGS=--xla_force_host_platform_device_count=2
    python examples/data_parallel.py --coordinator 127.0.0.1:12345 --processes 2 --process-id 0 &
    python examples/data_parallel.py --coordinator 127.0.0.1:12345 --processes 2 --process-id 1

Several hosts: the same command on every host, `--coordinator` = host 0's address and a free
port, `--processes` = the number of hosts, `--process-id` = 0, 1, ... (one per host).
`--checkpoint model.keras` saves after every epoch (process 0 writes the file).
"""

import argparse

import numpy as np

BATCH, T, F, UNITS, SAMPLES, EPOCHS = 32, 20, 3, 16, 256, 5


def make_data():
    """A synthetic task: is the mean of the first feature positive? (The same on every process.)"""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, T, F)).astype("float32")
    return x, (x[:, :, :1].mean(1) > 0).astype("float32")


def main(argv=None):
    p = argparse.ArgumentParser(description="data-parallel LSTM training with model.fit")
    p.add_argument("--coordinator")
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--process-id", type=int, default=0)
    p.add_argument("--checkpoint", help="a .keras path to save after every epoch")
    args = p.parse_args(argv)

    from unrolled import distribution

    if args.processes > 1:  # first, before anything starts JAX's backend
        distribution.initialize(args.coordinator, args.processes, args.process_id)
    import jax

    from unrolled import callbacks, layers, models, optimizers

    distribution.set_distribution(distribution.DataParallel())  # every device, axis "batch"
    model = models.Sequential([layers.Input((T, F)), layers.LSTM(UNITS),
                               layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizers.Adam(1e-2), loss="binary_crossentropy")
    x, y = make_data()
    cbs = [callbacks.ModelCheckpoint(args.checkpoint)] if args.checkpoint else []
    history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0, callbacks=cbs)
    losses = history.history["loss"]
    checksum = float(sum(np.abs(w).sum() for w in model.get_weights()))
    print(f"process {jax.process_index()}/{jax.process_count()}, {jax.device_count()} devices: "
          f"loss {losses[0]:.4f} -> {losses[-1]:.4f}, weights checksum {checksum:.6f}")
    return losses, checksum


if __name__ == "__main__":
    main()
