r"""The GRU (Cho et al. 2014) as Keras 3 computes it, gate column blocks ``[z | r | h]``.

With ``reset_after=True`` (Keras's default, the cuDNN form) the bias is ``(2, 3u)``: row 0 is added
to the input projection, row 1 to the recurrent projection::

    x_z, x_r, x_h = split(x_t @ kernel + bias[0])                     # 3 x (B, u)
    i_z, i_r, i_h = split(h_{t-1} @ recurrent_kernel + bias[1])       # 3 x (B, u)
    z_t  = recurrent_activation(x_z + i_z)                            # update gate
    r_t  = recurrent_activation(x_r + i_r)                            # reset gate
    hh_t = activation(x_h + r_t * i_h)                                # candidate
    h_t  = z_t * h_{t-1} + (1 - z_t) * hh_t

With ``reset_after=False`` the bias is ``(3u,)`` (input side only) and the reset gate scales
``h`` before its matmul: ``hh_t = activation(x_h + (r_t * h_{t-1}) @ recurrent_kernel[:, 2u:])``.

``x @ kernel + bias[0]`` is one matmul over all time steps; the scan carries the recurrent part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from unrolled.ops import activations
from unrolled.ops.rnn import Gates, scan


def split_bias(bias: jax.Array | None, reset_after: bool
               ) -> tuple[jax.Array | None, jax.Array | None]:
    """Return ``(input_bias (3u,) or None, recurrent_bias (3u,) or None)`` from Keras's layout."""
    if bias is None:
        return None, None
    if reset_after:
        return bias[0], bias[1]  # (3u,), (3u,)
    return bias, None


def gru_step(
    x_proj: jax.Array,
    h: jax.Array,
    recurrent_kernel: jax.Array,
    recurrent_bias: jax.Array | None = None,
    activation: Callable = jnp.tanh,
    recurrent_activation: Callable = jax.nn.sigmoid,
    reset_after: bool = True,
    recurrent_masks: Sequence[jax.Array] | None = None,
    return_gates: bool = False,
):
    """One GRU step from the precomputed input part ``x_proj = x_t @ kernel + input_bias``.

    Args:
        x_proj: ``(B, 3u)``.
        h: previous state ``(B, u)``.
        recurrent_kernel: ``(u, 3u)``.
        recurrent_bias: ``(3u,)`` (only with ``reset_after``) or ``None``.
        activation: candidate activation.
        recurrent_activation: gate activation.
        reset_after: apply the reset gate after the recurrent matmul (Keras default).
        recurrent_masks: optional three ``(B, u)`` dropout masks applied to ``h`` for the
            z, r and h parts (Keras's implementation 1).
        return_gates: also return the step's `unrolled.ops.rnn.Gates` ``[z, r, hh]``.

    Any leading axes broadcast (``(B, T, ...)`` computes every step from the previous states).

    Returns:
        ``h_t (B, u)``, or ``(h_t, Gates)`` with ``return_gates``.

    """
    u = h.shape[-1]
    x_z, x_r, x_h = jnp.split(x_proj, 3, axis=-1)  # 3 x (B, u)
    if recurrent_masks is None:
        h_z = h_r = h_h = h  # (B, u)
    else:
        h_z, h_r, h_h = (h * m for m in recurrent_masks)  # 3 x (B, u)
    if recurrent_masks is None and reset_after:
        inner = h @ recurrent_kernel  # (B, 3u)
        if recurrent_bias is not None:
            inner = inner + recurrent_bias  # (B, 3u)
        i_z, i_r, i_h = jnp.split(inner, 3, axis=-1)  # 3 x (B, u)
    else:
        i_z = h_z @ recurrent_kernel[:, :u]  # (B, u)
        i_r = h_r @ recurrent_kernel[:, u:2 * u]  # (B, u)
        i_h = h_h @ recurrent_kernel[:, 2 * u:] if reset_after else None  # (B, u)
        if recurrent_bias is not None:
            i_z = i_z + recurrent_bias[:u]  # (B, u)
            i_r = i_r + recurrent_bias[u:2 * u]  # (B, u)
            if reset_after:
                i_h = i_h + recurrent_bias[2 * u:]  # (B, u)
    pre_z, pre_r = x_z + i_z, x_r + i_r  # (B, u), (B, u)
    z = recurrent_activation(pre_z)  # (B, u)
    r = recurrent_activation(pre_r)  # (B, u)
    if reset_after:
        rec_h = r * i_h  # (B, u)
    else:
        rec_h = (r * h_h) @ recurrent_kernel[:, 2 * u:]  # (B, u)
    pre_h = x_h + rec_h  # (B, u)
    hh = activation(pre_h)  # (B, u)
    h_new = z * h + (1.0 - z) * hh  # (B, u)
    if not return_gates:
        return h_new
    return h_new, Gates((pre_z, pre_r, pre_h), (z, r, hh), (i_z, i_r, rec_h))


def gru(
    x: jax.Array,
    kernel: jax.Array,
    recurrent_kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    reset_after: bool = True,
    mask: jax.Array | None = None,
    initial_state: Sequence[jax.Array] | None = None,
    activation: str | Callable = "tanh",
    recurrent_activation: str | Callable = "sigmoid",
    go_backwards: bool = False,
    zero_output_for_mask: bool = False,
    unroll: int | bool = 1,
) -> tuple[jax.Array, jax.Array, list[jax.Array]]:
    """Run a Keras GRU over a batch of sequences.

    Args:
        x: inputs ``(B, T, D)``.
        kernel: ``(D, 3u)``, gate blocks ``[z | r | h]``.
        recurrent_kernel: ``(u, 3u)``.
        bias: ``(2, 3u)`` with ``reset_after``, else ``(3u,)``; or ``None``.
        reset_after: Keras's GRU convention (default ``True``).
        mask: optional boolean ``(B, T)``.
        initial_state: optional ``[h0 (B, u)]``; zeros otherwise.
        activation: candidate activation (Keras name or callable).
        recurrent_activation: gate activation (Keras name or callable).
        go_backwards: process the sequence in reverse.
        zero_output_for_mask: zeros instead of the carried output at masked steps.
        unroll: ``lax.scan`` unroll factor.

    Returns:
        ``(last_output (B, u), outputs (B, T, u), [h (B, u)])``.

    Example:
        >>> import numpy as np
        >>> from unrolled.ops.gru import gru
        >>> x = np.ones((2, 5, 3), "float32")
        >>> k, rk = np.zeros((3, 12), "float32"), np.zeros((4, 12), "float32")
        >>> gru(x, k, rk)[1].shape
        (2, 5, 4)

    """
    act = activations.get(activation)
    rec_act = activations.get(recurrent_activation)
    units = recurrent_kernel.shape[0]
    in_bias, rec_bias = split_bias(bias, reset_after)
    x_proj = x @ kernel  # (B, T, 3u)
    if in_bias is not None:
        x_proj = x_proj + in_bias  # (B, T, 3u)
    if initial_state is None:
        initial_state = [jnp.zeros((x.shape[0], units), x_proj.dtype)]  # (B, u)

    def step(x_t, states):
        h_new = gru_step(x_t, states[0], recurrent_kernel, rec_bias, act, rec_act,
                            reset_after)
        return h_new, [h_new]

    return scan(step, x_proj, list(initial_state), mask=mask, go_backwards=go_backwards,
                zero_output_for_mask=zero_output_for_mask, unroll=unroll)
