"""Keras's JAX face of a layer: its variables as lists, and `stateless_call`.

``layer.trainable_variables`` is ``layer.trainable_weights`` (the same objects, in the same
order); ``layer.non_trainable_variables`` is every other variable of ``layer.variables``: the
non-trainable weights and the layers' `SeedGenerator` states, each layer's own weights first,
then its seed generators, then its sublayers', as Keras lists them. Stateful RNN states are
not listed (Keras does not track them either).

`stateless_call` runs ``layer.call`` inside a `StatelessScope` mapping those variables to the
given values, so it is a pure function of its arguments (``jax.jit`` and ``jax.grad`` apply):
``(outputs, new_non_trainable_values)``. Seed states advance inside it, so a jitted step that
feeds the returned values back draws fresh dropout masks at every call.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from unrolled.layers.variables import StatelessScope


def dedupe(variables) -> list:
    """Return ``variables`` in order, each object once."""
    out, seen = [], set()
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def seed_states(layer) -> list:
    """Return the state variables of the `SeedGenerator`s a layer holds as attributes."""
    return [value.state for value in vars(layer).values()
            if getattr(value, "_unrolled_seed_generator", False)]


def layer_variables(layer, children) -> list:
    """Keras's ``variables``: own weights, own seed states, then each child's, once each."""
    out = [*layer._own_weights, *seed_states(layer)]
    for child in children:
        out.extend(child.variables)
    return dedupe(out)


def non_trainable_variables(layer) -> list:
    """Every variable of ``layer`` that is not in its ``trainable_variables``."""
    trainable = {id(v) for v in layer.trainable_variables}
    return [v for v in layer.variables if id(v) not in trainable]


def stateless_call(layer, call, trainable_variables, non_trainable_variables, args, kwargs,
                   return_losses: bool = False):
    """Run ``call(*args, **kwargs)`` with ``layer``'s variables mapped to the given values."""
    name = type(layer).__name__
    if not layer.built:
        raise ValueError(f"To call stateless_call, {name} must be built (i.e. its variables "
                         "must have been already created). You can build it by calling it on "
                         "some data.")
    own_trainable, own_non_trainable = layer.trainable_variables, layer.non_trainable_variables
    for what, given, own in (("trainable_variables", trainable_variables, own_trainable),
                             ("non_trainable_variables", non_trainable_variables,
                              own_non_trainable)):
        if len(given) != len(own):
            raise ValueError(f"Argument `{what}` must be a list of tensors corresponding 1:1 "
                             f"to {name}().{what}. Received list with length {len(given)}, "
                             f"but expected {len(own)} variables.")
    values = [_value_of(v) for v in [*trainable_variables, *non_trainable_variables]]
    mapping = list(zip([*own_trainable, *own_non_trainable], values, strict=True))
    if args:
        args = (jax.tree.map(jnp.asarray, args[0]), *args[1:])
    with StatelessScope(mapping) as scope:
        outputs = call(*args, **kwargs)
    new_values = [scope.get(v) for v in own_non_trainable]
    if return_losses:
        return outputs, new_values, []
    return outputs, new_values


def _value_of(value):
    """Return a variable's current value; any other value unchanged."""
    return value.value if getattr(value, "_unrolled_variable", False) else value
