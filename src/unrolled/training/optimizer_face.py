"""Keras's stateless optimizer API on unrolled's optimizers (`StatelessOptimizerMixin`).

Keras's JAX guides drive an optimizer as a pure function of its variables::

    optimizer.build(model.trainable_variables)
    opt_vars = optimizer.variables
    new_tv, opt_vars = optimizer.stateless_apply(opt_vars, grads, tv)

Here an optimizer's state is its `OptState` pytree (`training.optimizers`); its leaves are
the optimizer's ``variables`` (``iterations``, ``learning_rate``, then the slots, each slot
kind for all weights in turn) and `stateless_apply` unflattens them, runs the optax update,
and flattens the new state again. A compiled model's `fit` with a custom ``train_step``
adopts the trainer's state the same way (`adopt`), so both views stay one state.
"""

from __future__ import annotations

import jax
import optax

from unrolled.layers.variables import Variable


class StatelessOptimizerMixin:
    """`build`, `variables` and `stateless_apply`, as Keras's optimizers have them."""

    _face_variables: list | None = None
    _face_treedef = None
    _face_tx = None

    def build(self, var_list) -> None:
        """Create the state for the weights ``var_list`` (Keras's ``optimizer.build``)."""
        tx = self.transformation()
        self.adopt(tx, tx.init([_value_of(v) for v in var_list]))

    def adopt(self, tx, state) -> None:
        """Make ``state`` (of transformation ``tx``) the optimizer's `variables`."""
        leaves, treedef = jax.tree.flatten(state)
        if self._face_variables is not None and treedef == self._face_treedef:
            for var, leaf in zip(self._face_variables, leaves, strict=True):
                var._value = leaf
        else:
            paths = [jax.tree_util.keystr(p, simple=True, separator="_")
                     for p, _ in jax.tree_util.tree_flatten_with_path(state)[0]]
            self._face_variables = [
                Variable(leaf, name=path or "state", path=f"{self.name}/{path or 'state'}",
                         trainable=False) for path, leaf in zip(paths, leaves, strict=True)]
        self._face_tx, self._face_treedef = tx, treedef

    def state_of(self, optimizer_variables):
        """Return the `OptState` behind a list of values of `variables`."""
        return self._face_treedef.unflatten([_value_of(v) for v in optimizer_variables])

    @property
    def built(self) -> bool:
        """Whether `build` (or a `fit`) has created the optimizer's variables."""
        return self._face_variables is not None

    @property
    def variables(self) -> list:
        """The optimizer's state as variables (empty until `build`)."""
        return list(self._face_variables or [])

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """One update as a pure function: returns ``(new_trainable, new_optimizer_values)``.

        Works under ``jax.jit``; the optimizer object is left unchanged.

        Raises:
            ValueError: before `build`, or for a list of the wrong length.

        """
        if self._face_treedef is None:
            raise ValueError(f"{type(self).__name__}.stateless_apply needs the optimizer's "
                             "variables: call optimizer.build(model.trainable_variables) first.")
        if len(optimizer_variables) != self._face_treedef.num_leaves:
            raise ValueError(f"stateless_apply expected {self._face_treedef.num_leaves} optimizer "
                             f"variables (optimizer.variables); received "
                             f"{len(optimizer_variables)}.")
        params = [_value_of(v) for v in trainable_variables]
        grads = [_value_of(g) for g in grads]
        updates, new_state = self._face_tx.update(grads, self.state_of(optimizer_variables),
                                                  params)
        return list(optax.apply_updates(params, updates)), jax.tree.leaves(new_state)


def _value_of(value):
    return value.value if getattr(value, "_unrolled_variable", False) else value
