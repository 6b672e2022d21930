"""Data-parallel LSTM training over every device of one or several processes.

Until `Model.fit` takes a distribution (issue 13), this is the loop it will run, spelled out
with `unrolled.distribution` and `unrolled.data`: a pure-JAX train step (`ops.rnn.lstm` ->
dense, Adam) jitted with DataParallel shardings, fed by a streaming source of which each
process reads only its shard, prefetched and placed on the devices in a background thread.

One process, all its devices::

    python examples/data_parallel.py

Two processes on one machine, two CPU devices each (run both; process 0 is the coordinator)::

    export XLA_FLAGS=--xla_force_host_platform_device_count=2
    python examples/data_parallel.py --coordinator 127.0.0.1:12345 --processes 2 --process-id 0 &
    python examples/data_parallel.py --coordinator 127.0.0.1:12345 --processes 2 --process-id 1

Several hosts: the same command on every host, `--coordinator` = host 0's address and a free
port, `--processes` = the number of hosts, `--process-id` = 0, 1, ... (one per host).
"""

import argparse

import numpy as np

BATCH, T, F, UNITS, STEPS = 32, 20, 3, 16, 30


def make_batch(i):
    """Batch i of a synthetic task: is the mean of the first feature positive?"""
    rng = np.random.default_rng(i)
    x = rng.normal(size=(BATCH, T, F)).astype("float32")
    return x, (x[:, :, :1].mean(1) > 0).astype("float32")


def main(argv=None):
    p = argparse.ArgumentParser(description="data-parallel LSTM training")
    p.add_argument("--coordinator")
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--process-id", type=int, default=0)
    args = p.parse_args(argv)

    from unrolled import distribution

    if args.processes > 1:  # first, before anything starts JAX's backend
        distribution.initialize(args.coordinator, args.processes, args.process_id)
    import jax
    import optax

    from unrolled.data import BatchStream, Prefetcher
    from unrolled.ops.rnn import lstm

    dist = distribution.DataParallel()  # every device of every process, axis "batch"
    index, count = distribution.dataset_shard(dist)
    global_batch = BATCH * count  # each process reads BATCH rows per step

    rng = np.random.default_rng(0)
    host = [rng.normal(scale=0.3, size=s).astype("float32")
            for s in [(F, 4 * UNITS), (UNITS, 4 * UNITS), (4 * UNITS,), (UNITS, 1), (1,)]]
    shardings = [distribution.replicated(dist)] * len(host)
    params = distribution.distribute_variables(dist, host, shardings)  # process 0's values
    opt = optax.adam(1e-2)
    opt_sh = distribution.state_shardings(dist, jax.eval_shape(opt.init, params), params,
                                          shardings)
    opt_state = jax.jit(opt.init, out_shardings=opt_sh)(params)

    def step(params, opt_state, x, y, w):
        def loss_fn(params):
            last, _, _ = lstm(x, params[0], params[1], params[2])  # (B, u)
            logits = last @ params[3] + params[4]  # (B, 1)
            return (optax.sigmoid_binary_cross_entropy(logits, y)[:, 0] * w).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)  # XLA all-reduces the gradients
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    train_step = jax.jit(step, out_shardings=(shardings, opt_sh, distribution.replicated(dist)))
    source = BatchStream(lambda: (make_batch(i) for i in range(STEPS * count)),
                         shard=(index, count))
    place = lambda b: distribution.make_global_batch(  # noqa: E731
        dist, (b.x, b.y, b.sample_weight), global_batch)
    losses = []
    with Prefetcher(source.epoch(), transform=place) as batches:
        for x, y, w in batches:
            params, opt_state, loss = train_step(params, opt_state, x, y, w)
            losses.append(float(distribution.to_numpy(loss)))
    checksum = float(sum(np.abs(distribution.to_numpy(v)).sum() for v in params))
    print(f"process {jax.process_index()}/{jax.process_count()}, {jax.device_count()} devices: "
          f"loss {losses[0]:.4f} -> {losses[-1]:.4f}, weights checksum {checksum:.6f}")
    return losses, checksum


if __name__ == "__main__":
    main()
