r"""The fully connected recurrence of Keras's ``SimpleRNN``.

Each step computes::

    h_t = activation(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)      # (B, u)

``x @ kernel + bias`` is one matmul over all time steps; the scan carries ``h @ recurrent_kernel``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from unrolled.ops import activations
from unrolled.ops.rnn import Gates, scan


def simple_rnn_step(
    x_proj: jax.Array,
    h: jax.Array,
    recurrent_kernel: jax.Array,
    activation: Callable = jnp.tanh,
    return_gates: bool = False,
):
    """One step from ``x_proj = x_t @ kernel + bias (B, u)`` and ``h (B, u)``: the new ``h``.

    With ``return_gates`` also the `unrolled.ops.rnn.Gates` of the one block (the new ``h``).
    """
    z_rec = h @ recurrent_kernel  # (B, u)
    z = x_proj + z_rec  # (B, u)
    h_new = activation(z)  # (B, u)
    if not return_gates:
        return h_new
    return h_new, Gates((z,), (h_new,), (z_rec,))


def simple_rnn(
    x: jax.Array,
    kernel: jax.Array,
    recurrent_kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    mask: jax.Array | None = None,
    initial_state: Sequence[jax.Array] | None = None,
    activation: str | Callable = "tanh",
    go_backwards: bool = False,
    zero_output_for_mask: bool = False,
    unroll: int | bool = 1,
) -> tuple[jax.Array, jax.Array, list[jax.Array]]:
    """Run a Keras SimpleRNN over a batch of sequences.

    Args:
        x: inputs ``(B, T, D)``.
        kernel: ``(D, u)``.
        recurrent_kernel: ``(u, u)``.
        bias: ``(u,)`` or ``None``.
        mask: optional boolean ``(B, T)``.
        initial_state: optional ``[h0 (B, u)]``; zeros otherwise.
        activation: Keras name or callable (default ``"tanh"``).
        go_backwards: process the sequence in reverse.
        zero_output_for_mask: zeros instead of the carried output at masked steps.
        unroll: ``lax.scan`` unroll factor.

    Returns:
        ``(last_output (B, u), outputs (B, T, u), [h (B, u)])``.

    Example:
        >>> import numpy as np
        >>> from unrolled.ops.simple_rnn import simple_rnn
        >>> x = np.ones((2, 5, 3), "float32")
        >>> simple_rnn(x, np.zeros((3, 4), "float32"), np.eye(4, dtype="float32"))[0].shape
        (2, 4)

    """
    act = activations.get(activation)
    x_proj = x @ kernel  # (B, T, u)
    if bias is not None:
        x_proj = x_proj + bias  # (B, T, u)
    if initial_state is None:
        initial_state = [jnp.zeros((x.shape[0], kernel.shape[-1]), x_proj.dtype)]  # (B, u)

    def step(x_t, states):
        h_new = simple_rnn_step(x_t, states[0], recurrent_kernel, act)  # (B, u)
        return h_new, [h_new]

    return scan(step, x_proj, list(initial_state), mask=mask, go_backwards=go_backwards,
                zero_output_for_mask=zero_output_for_mask, unroll=unroll)
