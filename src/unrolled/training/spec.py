"""`ModelSpec`: all that training knows of a model, a pure forward and plain data.

The forward is pure::

    forward(trainable, non_trainable, x, training, rng) -> (y, out_mask, non_trainable)

``trainable`` and ``non_trainable`` are lists of arrays in the order of `ModelSpec.trainable`
and `ModelSpec.non_trainable`; ``x`` is an array (or `training.data.Arrays` for several
inputs); ``training`` is a Python bool; ``rng`` a PRNG key or None. It returns the outputs ``y``
(an array, or a list for several outputs), their masks ``out_mask`` in the same structure
(None where an output has none; masked losses use them) and the new non-trainable values in
the order they came in. Stateful RNN states are the last ``n_states`` non-trainable values:
they are not weights (as in Keras), but travel through every step as non-trainable values do.

Added losses (Keras's ``model.losses``: `Layer.add_loss`, activity and weight regularizers)
come from ``loss_forward``, the same forward with a fourth result: a list of scalars, empty when
the model has none (known at trace time, so a model without them compiles the very same step).
``constraints`` pairs positions in ``trainable`` with the projection applied after each update.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What a model tells training: its pure forward and plain data about itself.

    Attributes:
        forward: the pure forward (see the module docstring).
        name: the model's name, for errors.
        trainable: the variables whose values make the forward's ``trainable`` list.
        non_trainable: the variables whose values make ``non_trainable``: the non-trainable
            weights, then the stateful RNN states.
        n_states: how many of ``non_trainable`` (at its end) are RNN states, not weights.
        inputs: ``(name, batch shape)`` of each input; empty while unknown (an unbuilt model).
        multi_input: whether ``x`` is a list of inputs.
        output_names: each output's name (Keras's: the layer producing it).
        output_shapes: each output's shape, ``None`` where unknown before seeing data.
        multi_output: whether ``y`` is a list of outputs.
        rows_independent: whether inference treats every row on its own, so `predict` may
            run several batches per call.
        mask_value: the value a leading ``Masking`` layer treats as padding, or None: a stream
            of varying lengths may then be padded with it (`training.streaming`).
        input_checks: ``(input index, check(array, what))`` pairs that `training.data` runs on
            the host on every input before it reaches a step (e.g. an `Embedding`'s id range,
            which cannot be checked inside ``jax.jit``).
        loss_forward: ``forward`` returning ``(y, out_mask, non_trainable, added)`` where
            ``added`` lists the model's added losses as scalars (Keras's ``model.losses``).
        constraints: ``(index into trainable, constraint)`` pairs, applied after each update.
        row_losses: ``() -> bool``: whether added losses depend on a batch's rows (activity
            regularizers, losses added in ``call``), so a partial last batch must not be padded.

    """

    forward: Callable
    name: str
    trainable: list
    non_trainable: list
    n_states: int
    inputs: list
    multi_input: bool
    output_names: list
    output_shapes: list
    multi_output: bool
    rows_independent: bool
    input_checks: tuple = ()
    mask_value: float | None = None
    loss_forward: Callable | None = None
    constraints: tuple = ()
    row_losses: Callable | None = None
