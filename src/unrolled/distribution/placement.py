"""Where arrays live under a distribution: the functions a training loop calls.

A loop asks for the sharding of every variable (`variable_shardings`) and of a global batch
(`data_sharding`), places the weights once (`distribute_variables`), and per step turns this
process's rows into one global `jax.Array` (`make_global_batch`). With NumPy arrays every
process passes the same full arrays and `global_batch_from_arrays` takes its own rows
(`local_rows`); a streaming source reads only this process's shard (`dataset_shard`).
Inside `jax.jit` with these in/out shardings XLA inserts the collectives (e.g. the gradient
all-reduce of data parallelism).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec

from unrolled.distribution.strategies import Distribution


def variable_shardings(dist: Distribution, variables: Sequence) -> list[NamedSharding]:
    """Return the `NamedSharding` of each variable (objects with `.path` and `.shape`).

    Replicated for `DataParallel`; by the `LayoutMap` for `ModelParallel`. Raises a
    `ValueError` naming the variable when its layout does not fit its shape.
    """
    out = []
    for v in variables:
        layout = dist.get_variable_layout(v)
        layout.check_shape(tuple(v.shape), f"variable {v.path!r}")
        out.append(layout.backend_layout)
    return out


def data_sharding(dist: Distribution, shape: Sequence[int]) -> NamedSharding:
    """Return the sharding of a global batch of `shape`: split over the batch axis."""
    shape = tuple(int(n) for n in shape)
    cache = dist.__dict__.setdefault("_data_shardings", {})  # one per shape, built once
    if shape not in cache:
        if shape[0] % dist.num_model_replicas:
            raise ValueError(
                f"The global batch size {shape[0]} does not divide over the "
                f"{dist.num_model_replicas} model replicas of {dist}; choose a batch_size that "
                f"is a multiple of {dist.num_model_replicas}."
            )
        layout = dist.get_data_layout(shape)
        layout.check_shape(shape, "the global batch")
        cache[shape] = layout.backend_layout
    return cache[shape]


def replicated(dist: Distribution) -> NamedSharding:
    """Return the sharding that keeps a whole copy on every device (losses, step, keys)."""
    return NamedSharding(dist.device_mesh.backend_mesh, PartitionSpec())


def process_rows(sharding: jax.sharding.Sharding, global_batch_size: int) -> slice:
    """Return the rows of a global batch that this process's devices hold under `sharding`."""
    spans = set()
    for index in sharding.addressable_devices_indices_map((global_batch_size,)).values():
        start, stop, _ = index[0].indices(global_batch_size)
        spans.add((start, stop))
    start, stop = min(s for s, _ in spans), max(e for _, e in spans)
    covered = np.zeros(global_batch_size, bool)
    for s, e in spans:
        covered[s:e] = True
    if not covered[start:stop].all():
        raise ValueError(
            f"This process's devices hold rows {sorted(spans)} of the batch, not one contiguous "
            "block; order the mesh's devices by process (as list_devices() does)."
        )
    return slice(start, stop)


def local_rows(dist: Distribution, global_batch_size: int) -> slice:
    """Return which rows of each global batch this process reads (every row with one process).

    Example:
        >>> from unrolled import distribution
        >>> dp = distribution.DataParallel(devices=["cpu:0"])
        >>> distribution.local_rows(dp, 8)
        slice(0, 8, None)

    """
    return process_rows(data_sharding(dist, (global_batch_size,)), global_batch_size)


def make_global_batch(dist: Distribution, local, global_batch_size: int):
    """Turn this process's rows (a pytree of NumPy arrays) into global `jax.Array`s.

    Args:
        dist: the distribution.
        local: pytree of arrays holding rows `local_rows(dist, global_batch_size)` of the batch.
        global_batch_size: number of rows of the global batch.

    Returns:
        the same pytree of `jax.Array`s of `global_batch_size` rows, split over the devices.

    """
    leaves, treedef = jax.tree_util.tree_flatten(local)
    leaves = [np.asarray(a) for a in leaves]
    shapes = [(global_batch_size,) + a.shape[1:] for a in leaves]
    shardings = [data_sharding(dist, s) for s in shapes]
    if jax.process_count() == 1:  # one batched transfer (measured 2x faster on CPU)
        placed = jax.device_put(leaves, shardings)
    else:
        placed = [jax.make_array_from_process_local_data(sh, a, s)
                  for sh, a, s in zip(shardings, leaves, shapes, strict=True)]
    return jax.tree_util.tree_unflatten(treedef, placed)


def global_batch_from_arrays(dist: Distribution, arrays, start: int, global_batch_size: int):
    """Rows `start : start + global_batch_size` of full NumPy arrays, as global `jax.Array`s.

    Every process passes the same full arrays; each copies only its own rows to its devices.
    """
    rows = local_rows(dist, global_batch_size)
    piece = slice(start + rows.start, start + rows.stop)
    return make_global_batch(dist, jax.tree_util.tree_map(lambda a: a[piece], arrays),
                             global_batch_size)


def distribute_variables(dist: Distribution, values: Sequence, shardings: Sequence) -> list:
    """Place host values on the devices by `shardings`, every process using process 0's values.

    With several processes the values are first broadcast from process 0, so replicas agree even
    when processes initialised their weights from different seeds.
    """
    values = [np.asarray(v) for v in values]
    if jax.process_count() > 1:
        values = [np.asarray(v) for v in multihost_utils.broadcast_one_to_all(values)]
    return [jax.make_array_from_callback(v.shape, s, lambda idx, v=v: v[idx])
            for v, s in zip(values, shardings, strict=True)]


def state_shardings(dist: Distribution, state, params, param_shardings):
    """Return shardings for an optimizer state (a pytree) built from `params`.

    Every subtree shaped like `params` (Adam's moments, for instance) takes `param_shardings`;
    every other leaf (step counts) is replicated. Use them as `out_shardings` of the jitted
    `optimizer.init` so the state starts on the mesh, and of the train step.
    """
    treedef = jax.tree_util.tree_structure(params)
    shardings = jax.tree_util.tree_unflatten(treedef, list(param_shardings))

    def like(node):
        return jax.tree_util.tree_structure(node) == treedef

    return jax.tree_util.tree_map(
        lambda node: shardings if like(node) else replicated(dist), state, is_leaf=like)


def dataset_shard(dist: Distribution) -> tuple[int, int]:
    """Return `(index, count)`: this process reads shard `index` of `count` of a stream.

    `(0, 1)` with one process or `auto_shard_dataset=False` (the source is already per process).
    """
    if not dist.auto_shard_dataset or dist.num_processes == 1:
        return 0, 1
    return dist.data_shard_id, min(dist.num_processes, dist.num_model_replicas)


def global_max(value: int) -> int:
    """Return the largest `value` over all processes (e.g. the padded length of a step)."""
    if jax.process_count() == 1:
        return int(value)
    return int(np.max(multihost_utils.process_allgather(np.int64(value))))


def on_process_zero(write: Callable[[], None]) -> None:
    """Run ``write`` (a file write) on process 0 only; with several processes all then wait.

    Every process computes what is written (gathering split arrays is a collective), process 0
    writes it, and a barrier keeps the others from reading the file before it exists.
    """
    if jax.process_count() == 1:
        write()
        return
    try:
        if jax.process_index() == 0:
            write()
    finally:
        multihost_utils.sync_global_devices("unrolled: process 0 wrote a file")


def to_numpy(array: jax.Array) -> np.ndarray:
    """Return a global array as NumPy on every process (gathered when split over processes)."""
    if array.is_fully_addressable or array.is_fully_replicated:
        return np.asarray(array.addressable_data(0) if array.is_fully_replicated else array)
    return np.asarray(multihost_utils.process_allgather(array, tiled=True))
