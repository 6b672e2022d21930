r"""Recurrent cells and the mask-aware scan over time.

The LSTM, as Keras 3 computes it (gate column blocks ``[i | f | c | o]``)::

    z_t  = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias          # (B, 4u)
    i_t  = recurrent_activation(z_t[:, 0u:1u])                         # input gate
    f_t  = recurrent_activation(z_t[:, 1u:2u])                         # forget gate
    g_t  = activation(z_t[:, 2u:3u])                                   # candidate c~
    o_t  = recurrent_activation(z_t[:, 3u:4u])                         # output gate
    c_t  = f_t * c_{t-1} + i_t * g_t
    h_t  = o_t * activation(c_t)

``x @ kernel + bias`` is one matmul over all time steps before the scan; the scan carries only
``h @ recurrent_kernel``. A masked step (``mask[b, t] == False``) carries ``h`` and ``c``
unchanged and emits the previous ``h`` (or zeros with ``zero_output_for_mask``), so any mask
pattern works: right or left padding, holes, fully masked rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from unrolled.ops import activations

StepFn = Callable[[jax.Array, list[jax.Array]], tuple[jax.Array, list[jax.Array]]]


def scan(
    step: StepFn,
    inputs: jax.Array,
    initial_states: Sequence[jax.Array],
    *,
    mask: jax.Array | None = None,
    go_backwards: bool = False,
    zero_output_for_mask: bool = False,
    unroll: int | bool = 1,
) -> tuple[jax.Array, jax.Array, list[jax.Array]]:
    """Run ``step`` over the time axis of batch-major ``inputs`` with Keras's masking rules.

    Args:
        step: ``step(x_t, states) -> (output_t, new_states)``; ``states[0]`` is the previous
            output (as in every Keras cell), used to repeat the output at masked steps.
        inputs: per-step inputs, batch-major ``(B, T, ...)``.
        initial_states: list of ``(B, n)`` arrays.
        mask: optional boolean ``(B, T)``; ``False`` marks a step to skip.
        go_backwards: process time in reverse; outputs come back in processing order, as Keras.
        zero_output_for_mask: emit zeros instead of the carried output at masked steps.
        unroll: passed to ``lax.scan`` (``True`` unrolls fully).

    Returns:
        ``(last_output (B, n), outputs (B, T, n), final_states)``.
    """
    xs = jnp.swapaxes(inputs, 0, 1)  # (T, B, ...)
    states = list(initial_states)
    if mask is None:

        def body(carry, x_t):
            out, new = step(x_t, carry)
            return new, out

        scan_xs = xs
    else:
        keep = jnp.swapaxes(mask.astype(bool), 0, 1)[..., None]  # (T, B, 1)

        def body(carry, xm):
            x_t, keep_t = xm
            out, new = step(x_t, carry)
            if zero_output_for_mask:
                out = jnp.where(keep_t, out, jnp.zeros_like(out))  # (B, n)
            else:
                out = jnp.where(keep_t, out, carry[0])  # (B, n)
            new = [jnp.where(keep_t, n, s) for n, s in zip(new, carry)]
            return new, out

        scan_xs = (xs, keep)
    final, outputs = jax.lax.scan(
        body, states, scan_xs, reverse=go_backwards, unroll=unroll
    )  # outputs (T, B, n)
    if go_backwards:
        outputs = jnp.flip(outputs, axis=0)
    return outputs[-1], jnp.swapaxes(outputs, 0, 1), list(final)


def lstm_step(
    z_x: jax.Array,
    h: jax.Array,
    c: jax.Array,
    recurrent_kernel: jax.Array,
    activation: Callable = jnp.tanh,
    recurrent_activation: Callable = jax.nn.sigmoid,
) -> tuple[jax.Array, jax.Array, tuple[jax.Array, ...]]:
    """One LSTM step from the precomputed input part ``z_x = x_t @ kernel + bias``.

    Returns:
        ``(h_t, c_t, (i, f, g, o))``, each ``(B, u)``.
    """
    z = z_x + h @ recurrent_kernel  # (B, 4u)
    zi, zf, zg, zo = jnp.split(z, 4, axis=-1)  # 4 x (B, u)
    i = recurrent_activation(zi)  # (B, u)
    f = recurrent_activation(zf)  # (B, u)
    g = activation(zg)  # (B, u)
    o = recurrent_activation(zo)  # (B, u)
    c_new = f * c + i * g  # (B, u)
    h_new = o * activation(c_new)  # (B, u)
    return h_new, c_new, (i, f, g, o)


def lstm(
    x: jax.Array,
    kernel: jax.Array,
    recurrent_kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    mask: jax.Array | None = None,
    initial_state: Sequence[jax.Array] | None = None,
    activation: str | Callable = "tanh",
    recurrent_activation: str | Callable = "sigmoid",
    go_backwards: bool = False,
    zero_output_for_mask: bool = False,
    unroll: int | bool = 1,
) -> tuple[jax.Array, jax.Array, list[jax.Array]]:
    """Run a Keras LSTM over a batch of sequences.

    Args:
        x: inputs ``(B, T, D)``.
        kernel: ``(D, 4u)``, gate blocks ``[i | f | c | o]``.
        recurrent_kernel: ``(u, 4u)``.
        bias: ``(4u,)`` or ``None``.
        mask: optional boolean ``(B, T)``.
        initial_state: optional ``[h0, c0]``, each ``(B, u)``; zeros otherwise.
        activation: cell and output activation (Keras name or callable).
        recurrent_activation: gate activation (Keras name or callable).
        go_backwards: process the sequence in reverse.
        zero_output_for_mask: zeros instead of the carried output at masked steps.
        unroll: ``lax.scan`` unroll factor.

    Returns:
        ``(last_output (B, u), outputs (B, T, u), [h (B, u), c (B, u)])``.
    """
    act = activations.get(activation)
    rec_act = activations.get(recurrent_activation)
    units = recurrent_kernel.shape[0]
    z_x = x @ kernel  # (B, T, 4u)
    if bias is not None:
        z_x = z_x + bias  # (B, T, 4u)
    if initial_state is None:
        zeros = jnp.zeros((x.shape[0], units), z_x.dtype)  # (B, u)
        initial_state = [zeros, zeros]

    def step(z_t, states):
        h, c = states
        h_new, c_new, _ = lstm_step(z_t, h, c, recurrent_kernel, act, rec_act)
        return h_new, [h_new, c_new]

    return scan(
        step,
        z_x,
        list(initial_state),
        mask=mask,
        go_backwards=go_backwards,
        zero_output_for_mask=zero_output_for_mask,
        unroll=unroll,
    )
