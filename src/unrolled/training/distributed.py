"""fit / evaluate / predict under a distribution (`unrolled.distribution.distribution()`).

With no distribution set nothing here runs: the trainer and predictor keep their one-device
steps exactly as they are. With one, a `Placement` (one per trainer or predictor and
distribution) does what docs/distribution.md "For the training loop" lists:

1. places the variables by `variable_shardings` (`distribute_variables`: process 0's values
   reach every process) and the optimizer state by `state_shardings` (a fresh state is created
   by `opt.init` jitted with those `out_shardings`; a loaded one is placed);
2. builds the train / eval / predict steps with `out_shardings` (variables, optimizer state,
   replicated totals; predictions split over the batch axis), so XLA inserts the collectives;
3. turns each batch into global arrays: from NumPy arrays every process takes its own rows of
   the same global batch (`local_rows`), from a stream each process reads its shard and the
   global batch is the processes' batches side by side (`make_global_batch`). The epoch's
   shuffled order and dropout key are process 0's, so every process feeds the same batches.

Arrays placed this way stay placed: after `fit` the variables are global `jax.Array`s.
"""

from __future__ import annotations

import math

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec

from unrolled.distribution import placement as dp
from unrolled.distribution.strategies import distribution
from unrolled.ops.compile import jit, to_host
from unrolled.training import data
from unrolled.training.steps import make_eval_step, make_predict_step, make_train_step


def current(owner) -> Placement | None:
    """Return ``owner``'s `Placement` for the current distribution (None when none is set).

    ``owner`` (a `Trainer` or `Predictor`) keeps the placement, and with it the steps built for
    that distribution, until another distribution is set.
    """
    dist = distribution()
    if dist is None:
        return None
    placed = owner.__dict__.get("_placement")
    if placed is None or placed.dist is not dist:
        placed = owner.__dict__["_placement"] = Placement(dist)
    return placed


def _is_placed(value, sharding) -> bool:
    return isinstance(value, jax.Array) and value.sharding == sharding


class Placement:
    """Where a model's arrays live under ``dist``, and its steps built for that."""

    def __init__(self, dist):
        self.dist = dist
        self.replicas = dist.num_model_replicas
        self.multi = jax.process_count() > 1
        self.rep = dp.replicated(dist)
        mesh = dist.device_mesh.backend_mesh
        self.rows_sharding = NamedSharding(mesh, PartitionSpec(dist.batch_dim_name))
        self.steps: dict[str, object] = {}
        self._shardings: dict[tuple, tuple] = {}
        self.opt_shardings = None

    # ---------------------------------------------------------------- variables and state
    def shardings(self, spec) -> tuple[list, list]:
        """Return the shardings of the spec's trainable and non-trainable variables."""
        key = tuple(id(w) for w in (*spec.trainable, *spec.non_trainable))
        if key not in self._shardings:
            self._shardings[key] = (dp.variable_shardings(self.dist, spec.trainable),
                                    dp.variable_shardings(self.dist, spec.non_trainable))
        return self._shardings[key]

    def place_variables(self, spec) -> None:
        """Place every variable not yet placed (fresh, loaded or set) by its sharding."""
        tv_sh, ntv_sh = self.shardings(spec)
        variables = [*spec.trainable, *spec.non_trainable]
        todo = [(w, s) for w, s in zip(variables, [*tv_sh, *ntv_sh], strict=True)
                if not _is_placed(w._value, s)]
        if todo:
            values = dp.distribute_variables(self.dist, [to_host(w._value) for w, _ in todo],
                                             [s for _, s in todo])
            for (w, _), v in zip(todo, values, strict=True):
                w._value = v

    def place_trainer(self, trainer, spec) -> None:
        """Place the variables and the optimizer state; build the train step (once)."""
        self.place_variables(spec)
        tv_sh, ntv_sh = self.shardings(spec)
        tv = [w.value for w in spec.trainable]
        tx = trainer._tx
        if self.opt_shardings is None:
            self.opt_shardings = dp.state_shardings(self.dist, jax.eval_shape(tx.init, tv), tv,
                                                    tv_sh)
        if trainer.opt_state is None:
            trainer.opt_state = jit(tx.init, out_shardings=self.opt_shardings)(tv)
        else:
            trainer.opt_state = self.place_tree(trainer.opt_state, self.opt_shardings)
        if "train" not in self.steps:
            self.steps["train"] = make_train_step(
                spec.forward, trainer.loss, trainer.metrics, tx, spec.loss_forward,
                spec.constraints, out_shardings=(tv_sh, ntv_sh, self.opt_shardings, self.rep))

    def place_tree(self, tree, shardings):
        """Return ``tree`` with every leaf not yet placed by ``shardings`` placed (process 0's)."""
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        shs = treedef.flatten_up_to(shardings)
        todo = [i for i, (a, s) in enumerate(zip(leaves, shs, strict=True))
                if not _is_placed(a, s)]
        if todo:
            placed = dp.distribute_variables(self.dist, [to_host(leaves[i]) for i in todo],
                                             [shs[i] for i in todo])
            for i, a in zip(todo, placed, strict=True):
                leaves[i] = a
        return jax.tree_util.tree_unflatten(treedef, leaves)

    def eval_step(self, trainer, spec):
        """Return the eval step with replicated totals (built once)."""
        self.place_variables(spec)
        if "eval" not in self.steps:
            self.steps["eval"] = make_eval_step(spec.forward, trainer.loss, trainer.metrics,
                                                spec.loss_forward, out_shardings=self.rep)
        return self.steps["eval"]

    def predict_step(self, spec, forward, n_weights: int):
        """Return the predict step: outputs split over the batch axis, states as variables."""
        self.place_variables(spec)
        if "predict" not in self.steps:
            _, ntv_sh = self.shardings(spec)
            self.steps["predict"] = make_predict_step(
                forward, out_shardings=(self.rows_sharding, ntv_sh[n_weights:]))
        return self.steps["predict"]

    # ---------------------------------------------------------------- batches
    def check_batch_size(self, batch_size: int, what: str) -> int:
        """Refuse a training batch size that does not divide over the replicas."""
        if batch_size % self.replicas:
            raise ValueError(
                f"{what}: the global batch size {batch_size} does not divide over the "
                f"{self.replicas} model replicas of {self.dist}; choose a batch_size that is a "
                f"multiple of {self.replicas}.")
        return batch_size

    def round_up(self, batch_size: int) -> int:
        """Return ``batch_size`` rounded up to a multiple of the replicas (extra rows padded)."""
        return math.ceil(batch_size / self.replicas) * self.replicas

    def agree(self, value):
        """Return process 0's ``value`` (a NumPy array) on every process."""
        if not self.multi:
            return value
        return np.asarray(multihost_utils.broadcast_one_to_all(np.asarray(value)))

    def agree_key(self, key):
        """Return process 0's PRNG key on every process (dropout must agree over replicas)."""
        if not self.multi:
            return key
        return jax.random.wrap_key_data(self.agree(np.asarray(jax.random.key_data(key))))

    def array_batches(self, arrays, order, batch_size: int):
        """Yield global ``(x, y, sw, valid)`` batches of ``arrays`` taken in ``order``.

        Every process holds the same full arrays and copies only its rows of each batch.
        """
        n = arrays[0].shape[0]
        idx, valid = data.batches(n, batch_size, order)
        rows = dp.local_rows(self.dist, batch_size)
        for b in range(idx.shape[0]):
            mine = idx[b][rows]
            local = tuple(None if a is None else a[mine] for a in arrays)
            yield self.global_batch((*local, valid[b][rows]), batch_size)

    def global_batch(self, local, global_batch_size: int):
        """Place this process's rows of a batch (a tuple holding None for missing parts)."""
        parts = [i for i, a in enumerate(local) if a is not None]
        placed = dp.make_global_batch(self.dist, [local[i] for i in parts], global_batch_size)
        out = [None] * len(local)
        for i, a in zip(parts, placed, strict=True):
            out[i] = a
        return tuple(out)

    def stream_batches(self, batches, count: int, pad_value, agree_length: bool):
        """Place the ``(x, y, sw, valid)`` rows each process read of a stream's steps.

        The global batch is the ``count`` processes' batches side by side. With several
        processes and bucketed lengths they first agree on the longest (a collective, so it
        runs here, on the thread that runs the steps, never on the prefetch thread).
        """
        for x, y, sw, valid in batches:
            if agree_length and isinstance(x, np.ndarray) and x.ndim >= 2:
                length = dp.global_max(x.shape[1])
                if length > x.shape[1]:
                    x = np.pad(x, [(0, 0), (0, length - x.shape[1])] + [(0, 0)] * (x.ndim - 2),
                               constant_values=pad_value)
            yield self.global_batch((x, y, sw, valid), x.shape[0] * count)

    def fetch(self, tree):
        """Return a pytree of (global) arrays as NumPy on every process."""
        return jax.tree_util.tree_map(to_host, tree)
