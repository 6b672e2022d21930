"""Instrumented recurrent steps: the layer's own arithmetic, with every gate kept.

Each ``*_step`` builder returns ``(step, input_bias)`` where ``step(zx, states, ez)`` takes the
input part of the pre-activations ``zx = x_t @ kernel + input_bias`` ``(B, G*u)``, the previous
states and an additive offset ``ez`` on ``zx`` (zero for a trace; differentiated for gradients)
and returns ``(new_states, gate_activations, recurrent_parts)``, lists of ``(B, u)`` arrays in
the kernel's gate-block order. The arithmetic is the layer's, operation for operation, so a
trace reproduces the layer's outputs to float rounding.
"""

from __future__ import annotations

import jax.numpy as jnp

from unrolled.ops import rnn


def _value(var):
    return None if var is None else var.value


def lstm_step(cell):
    """LSTM (Keras ``[i | f | c | o]``) through `unrolled.ops.rnn.lstm_step`."""
    rk = cell.recurrent_kernel.value  # (u, 4u)
    act, rec_act = cell.activation, cell.recurrent_activation

    def step(zx, states, ez):
        h, c = states
        z_rec = h @ rk  # (B, 4u)
        h_new, c_new, gates = rnn.lstm_step(zx + ez, h, c, rk, act, rec_act)
        return [h_new, c_new], list(gates), jnp.split(z_rec, 4, axis=-1)

    return step, _value(cell.bias)


def gru_step(cell):
    """GRU (Keras ``[z | r | h~]``), with ``reset_after`` either way."""
    u = cell.units
    rk = cell.recurrent_kernel.value  # (u, 3u)
    act, rec_act = cell.activation, cell.recurrent_activation
    bias = _value(cell.bias)
    reset_after = getattr(cell, "reset_after", True)
    if bias is not None and reset_after:
        in_bias, rec_bias = bias[0], bias[1]  # (3u,), (3u,)
    else:
        in_bias, rec_bias = bias, None

    def step(zx, states, ez):
        (h,) = states
        xz, xr, xh = jnp.split(zx + ez, 3, axis=-1)  # 3 x (B, u)
        if reset_after:
            inner = h @ rk  # (B, 3u)
            if rec_bias is not None:
                inner = inner + rec_bias  # (B, 3u)
            rz, rr, rh = jnp.split(inner, 3, axis=-1)  # 3 x (B, u)
            z = rec_act(xz + rz)  # (B, u)
            r = rec_act(xr + rr)  # (B, u)
            rh = r * rh  # (B, u)
        else:
            rz = h @ rk[:, :u]  # (B, u)
            rr = h @ rk[:, u:2 * u]  # (B, u)
            z = rec_act(xz + rz)  # (B, u)
            r = rec_act(xr + rr)  # (B, u)
            rh = (r * h) @ rk[:, 2 * u:]  # (B, u)
        hh = act(xh + rh)  # (B, u)
        h_new = z * h + (1.0 - z) * hh  # (B, u)
        return [h_new], [z, r, hh], [rz, rr, rh]

    return step, in_bias


def simple_rnn_step(cell):
    """SimpleRNN: ``h_t = activation(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)``."""
    rk = cell.recurrent_kernel.value  # (u, u)
    act = cell.activation

    def step(zx, states, ez):
        (h,) = states
        z_rec = h @ rk  # (B, u)
        h_new = act(zx + ez + z_rec)  # (B, u)
        return [h_new], [h_new], [z_rec]

    return step, _value(cell.bias)


STEPS = {"LSTM": lstm_step, "GRU": gru_step, "SimpleRNN": simple_rnn_step}
