"""`Capture`: record what chosen layers compute inside the model's own forward pass.

`unrolled.inspect` runs a model's forward (the code `predict` runs) inside
``with Capture([layer]) as cap:``. A recurrent layer named there asks its loop for the states
after every step as well (`unrolled.ops.rnn.scan`'s ``return_states``; the same path and
arithmetic as without, so its outputs do not change) and records its inputs, mask, initial
states, state sequences and output; ``cap[layer]`` returns that record. Gates are then read
from those states by the cell's own step function (``step(..., return_gates=True)``).

``offsets`` (`unrolled.inspect.gradient_flow`) add zero-valued arrays to a layer's states and
pre-activations so that their gradients can be taken; they take the generic scan.

Outside a `Capture` (fit, predict, evaluate) `requested` returns ``None`` while JAX traces the
step, so the compiled programs are the ones they were: nothing is recorded or returned.
"""

from __future__ import annotations

from unrolled.layers.variables import _stack


class Request:
    """One layer's entry in a `Capture`: its ``offsets`` (or ``None``) and where to record."""

    def __init__(self, capture: Capture, layer, offsets=None):
        self.capture = capture
        self.layer = layer
        self.offsets = offsets

    def record(self, **arrays) -> None:
        """Keep the arrays of one call of the layer (a shared layer records each call)."""
        self.capture._records.setdefault(id(self.layer), []).append(arrays)


class Capture:
    """Record the listed layers' intermediates while the block runs.

    Args:
        layers: the layers to record (recurrent layers: `unrolled.layers.RNN` and subclasses).
        offsets: optional ``{layer: {"states": [...], "gates": array}}`` (see
            `unrolled.ops.rnn.lstm`'s ``state_offsets`` and ``gate_offsets``).

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> lstm = layers.LSTM(2)
        >>> with Capture([lstm]) as cap:
        ...     out = lstm(np.ones((1, 3, 1), "float32"))
        >>> [s.shape for s in cap[lstm]["states"]]
        [(1, 3, 2), (1, 3, 2)]

    """

    def __init__(self, layers, offsets: dict | None = None):
        offsets = {id(k): v for k, v in (offsets or {}).items()}
        self._requests = {id(lay): Request(self, lay, offsets.get(id(lay))) for lay in layers}
        self._records: dict[int, list[dict]] = {}

    def __enter__(self) -> Capture:
        _stack("captures").append(self)
        return self

    def __exit__(self, *exc) -> None:
        _stack("captures").pop()

    def records(self, layer) -> list[dict]:
        """Every recorded call of ``layer``, in call order."""
        return self._records.get(id(layer), [])

    def __getitem__(self, layer) -> dict:
        """Return the record of ``layer``'s first call.

        Raises:
            KeyError: if the layer did not run inside the block.

        """
        calls = self.records(layer)
        if not calls:
            raise KeyError(
                f"Layer {getattr(layer, 'name', layer)!r} did not run in the captured forward "
                "pass; pass a layer of the model that is run (see model.layers)."
            )
        return calls[0]


def requested(layer) -> Request | None:
    """Return the innermost open `Capture`'s request for ``layer`` (``None`` when not wanted)."""
    for capture in reversed(_stack("captures")):
        request = capture._requests.get(id(layer))
        if request is not None:
            return request
    return None
