"""`StackedRNNCells`: several recurrent cells acting as one, each feeding the next."""

from __future__ import annotations

import inspect

import jax.numpy as jnp

from unrolled.layers.base import Layer
from unrolled.saving.serialization_lib import deserialize_layer, serialize_layer


class StackedRNNCells(Layer):
    """Wrap a list of cells so that `RNN` runs them as one cell (Keras's ``StackedRNNCells``).

    At every time step cell ``k`` reads the output of cell ``k - 1``; the states are one list per
    cell (``[[h1, c1], [h2]]`` for an LSTMCell under a GRUCell). ``RNN([cell_1, cell_2])`` builds
    one of these for you. Weight paths are ``rnn/stacked_rnn_cells/lstm_cell/kernel``, ...

    Args:
        cells: list of cell layers (``LSTMCell``, ``GRUCell``, ``SimpleRNNCell``, ...).

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> stack = layers.StackedRNNCells([layers.LSTMCell(4), layers.LSTMCell(2)])
        >>> layers.RNN(stack)(np.zeros((3, 5, 2), "float32")).shape
        (3, 2)

    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(cells, (list, tuple)) or not cells:
            raise ValueError(
                f"StackedRNNCells expects a non-empty list of cells; received {cells!r}."
            )
        for cell in cells:
            if not isinstance(cell, Layer) or not hasattr(cell, "state_size") or \
                    not callable(getattr(cell, "call", None)):
                raise ValueError(
                    "All cells must be layers with a `state_size` and a `call(inputs, states)` "
                    f"method (e.g. LSTMCell, GRUCell); received {cell!r}."
                )
        self.cells = list(cells)  # tracked as sub-layers (`layers.tracking`)

    @property
    def state_size(self) -> list:
        """One entry per cell (each an int or a list of ints)."""
        return [c.state_size for c in self.cells]

    @property
    def output_size(self) -> int:
        """The last cell's output size."""
        return output_size_of(self.cells[-1])

    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape``."""
        batch, dim = input_shape[0], input_shape[-1]
        for cell in self.cells:
            cell._maybe_build((batch, dim))
            dim = output_size_of(cell)
        self.built = True

    def get_initial_state(self, batch_size: int) -> list:
        """Zero states, one entry per cell.

        Each entry is a list, or one array for a cell like Keras's ``OneStateRNNCell``
        (integer ``state_size``, no ``get_initial_state``), as Keras nests them.
        """
        out = []
        for cell in self.cells:
            states = initial_state_of(cell, batch_size)
            out.append(states if state_is_list(cell) else states[0])
        return out

    def prepare_dropout(self, batch: int, input_dim: int, training: bool) -> None:
        """Draw each cell's dropout masks for this call (inputs of cell k are cell k-1's h)."""
        for cell in self.cells:
            if hasattr(cell, "prepare_dropout"):
                cell.prepare_dropout(batch, input_dim, training)
            input_dim = output_size_of(cell)

    def clear_dropout(self) -> None:
        """Forget every cell's masks."""
        for cell in self.cells:
            if hasattr(cell, "clear_dropout"):
                cell.clear_dropout()

    def call(self, inputs, states, training=False):
        """One step through every cell: ``(output of the last cell, [states per cell])``."""
        new_states = []
        for cell, cell_states in zip(self.cells, states, strict=True):
            was_list = isinstance(cell_states, (list, tuple))
            cell_states = list(cell_states) if was_list else [cell_states]
            inputs, new = call_cell(cell, inputs, cell_states, training)
            new = list(new) if isinstance(new, (list, tuple)) else [new]
            new_states.append(new if was_list or len(new) != 1 else new[0])
        return inputs, new_states

    def get_config(self):
        """Return the constructor arguments (Keras's keys)."""
        return {**super().get_config(), "cells": [serialize_layer(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        """Recreate the layer from `get_config`'s output (user cells: see `RNN.from_config`)."""
        config = dict(config)
        cells = [deserialize_layer(c, custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)


def output_size_of(cell) -> int:
    """Return the cell's ``output_size``, else the first entry of its ``state_size`` (Keras)."""
    size = getattr(cell, "output_size", None)
    if size is not None:
        return size
    state = cell.state_size
    return state[0] if isinstance(state, (list, tuple)) else state


def call_cell(cell, inputs, states, training: bool):
    """Call ``cell.call``, passing ``training`` only when its signature takes it (as Keras)."""
    try:
        takes = "training" in inspect.signature(cell.call).parameters
    except (TypeError, ValueError):
        takes = False
    if takes:
        return cell.call(inputs, states, training=training)
    return cell.call(inputs, states)


def state_is_list(cell) -> bool:
    """Whether a stack holds this cell's states as a list (Keras's rule) or as one array.

    A list when the cell's ``get_initial_state`` returns one (every built-in cell) or its
    ``state_size`` is a list; one array for an integer ``state_size`` without
    ``get_initial_state``.
    """
    fn = getattr(cell, "get_initial_state", None)
    if fn is not None:
        return isinstance(fn(1), (list, tuple))
    return isinstance(cell.state_size, (list, tuple))


def initial_state_of(cell, batch_size: int) -> list:
    """Return the cell's initial states as a list (zeros per ``state_size`` by default)."""
    fn = getattr(cell, "get_initial_state", None)
    if fn is not None:
        states = fn(batch_size)
        return list(states) if isinstance(states, (list, tuple)) else [states]
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    return [jnp.zeros((batch_size, s), jnp.float32) for s in sizes]
