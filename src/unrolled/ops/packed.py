r"""The masked LSTM with rows sorted by length: padded steps are skipped, not computed.

Padding is most of the work of a masked batch: with valid lengths spread over ``1..T``, about
half of the ``(row, step)`` pairs are masked, and a plain scan computes every one of them. PyTorch
skips them with packed sequences (shrinking the batch as rows end); XLA needs static shapes, so
here the batch shrinks in a few fixed steps instead:

1. ``last[b]`` is one past row ``b``'s last unmasked step (0 for a fully masked row). Rows are
   sorted by it, longest first, so the rows still running at any step are a prefix.
2. The time loop runs in ``len(rows)`` phases. Phase ``p`` computes only the first ``rows[p]``
   rows (static sizes, e.g. ``B, 3B/4, B/2, B/4``) and lasts until the longest row that phase
   ``p + 1`` drops has ended; its trip count is data (a ``while`` loop with dynamic bounds).
3. Inside a phase, masked steps of the rows it computes (holes, left padding, rows that ended
   earlier than the longest of their group) carry ``h`` and ``c`` unchanged exactly as the plain
   scan does, so any mask gives Keras's results; the phases only skip steps at which every
   skipped row is past its end, where the carried state would not change anyway.

The backward pass runs the same phases in reverse with the hand-derived BPTT of
`unrolled.ops.rnn._recurrence_bwd` (gates saved stacked per step). The weight gradient is
accumulated inside the loop over the computed rows only, ``[x_t | h_{t-1}]^T dz_t``: against
one matmul over all ``T * B`` rows after the loop (skipped ones included) it ran 1.07x faster
at 512 units and 1.18x at 128 (one run each) and keeps no ``(T, B, 4u)`` gradient buffer unless
``dx`` is needed (peak memory of fit at the large benchmark size 785 MiB instead of 843).
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

# Phases of the shrinking batch (1 switches the sorting off). Measured on the gradient step of the
# benchmark's LSTM (lengths uniform in 10..100, interleaved, BENCHMARKS.md): 2 phases 1.19x and 4
# phases 1.32x the plain scan at 128 units, 1.07x and 1.14x at 16 units; the forward alone 1.49x
# and 1.13x with 4. Each phase is its own compiled loop: about +0.35 s of compile time per phase.
PHASES = 4


def phase_rows(batch: int, phases: int | None = None) -> tuple[int, ...]:
    """Return the row counts of the phases: ``(64, 48, 32, 16)`` for 64 rows and 4 phases."""
    phases = PHASES if phases is None else phases
    rows = sorted({math.ceil(batch * (phases - p) / phases) for p in range(phases)}, reverse=True)
    return tuple(r for r in rows if r > 0) or (batch,)


def sort_by_length(keep):
    """Return ``(order, last)``: rows longest first and one past each row's last kept step.

    ``keep`` is boolean ``(T, B, 1)``; ``last`` ``(B,)`` is in the sorted order.
    """
    steps = keep.shape[0]
    t = jnp.arange(1, steps + 1, dtype=jnp.int32)[:, None]  # (T, 1)
    last = jnp.max(jnp.where(keep[..., 0], t, 0), axis=0)  # (B,)
    order = jnp.argsort(-last, stable=True)  # (B,)
    return order, last[order]


def _bounds(last, rows):
    """Start and end step of every phase (traced int32 scalars), from the sorted ``last``."""
    ends = [last[rows[p + 1]] for p in range(len(rows) - 1)] + [last[0]]
    starts = [jnp.int32(0), *ends[:-1]]
    return starts, ends


def _put(buf, t, value):
    """``buf[t, :n, ...] = value`` for a ``value`` of ``n`` leading rows (in place in a loop)."""
    t = jnp.asarray(t)
    zero = jnp.zeros((), t.dtype)
    return jax.lax.dynamic_update_slice(buf, value[None], (t, *[zero] * value.ndim))


def cell_step(xh, weights, bias, h, c, k_t=None):
    """One tanh/sigmoid LSTM step from ``xh = [x_t | h]``; ``k_t (n, 1)`` keeps rows (or None).

    Returns ``(h, c, saved)``: the new state (carried unchanged where ``k_t`` is False) and
    ``saved = stack([i, f, g, o, c_{t-1}, tanh(c_t)])`` ``(6, n, u)``, what `gate_gradients`
    needs.
    """
    z = xh @ weights + bias  # (n, 4u)
    zi, zf, zg, zo = jnp.split(z, 4, axis=-1)  # 4 x (n, u)
    i, f, o = jax.nn.sigmoid(zi), jax.nn.sigmoid(zf), jax.nn.sigmoid(zo)  # (n, u)
    g = jnp.tanh(zg)  # (n, u)
    c_new = f * c + i * g  # (n, u)
    tc = jnp.tanh(c_new)  # (n, u)
    h_new = o * tc  # (n, u)
    if k_t is not None:
        h_new = jnp.where(k_t, h_new, h)  # (n, u)
        c_new = jnp.where(k_t, c_new, c)  # (n, u)
    return h_new, c_new, jnp.stack([i, f, g, o, c, tc])  # (6, n, u)


def gate_gradients(saved, dh, dc, k_t, rk_t):
    r"""One backward step from `cell_step`'s ``saved`` row; returns ``(dz, dh_{t-1}, dc_{t-1})``.

    With ``dh``/``dc`` the cotangents of ``h_t``/``c_t`` (``dh`` including the step's output)::

        dc' = dc + dh * o * (1 - tanh(c_t)^2)
        dz  = [dc' g i(1-i) | dc' c_{t-1} f(1-f) | dc' i (1-g^2) | dh tanh(c_t) o(1-o)]
        dh_{t-1} = dz @ R^T,  dc_{t-1} = dc' f

    A masked row (``k_t`` False) has ``dz = 0`` and passes ``dh``/``dc`` through.
    """
    i, f, g, o, c_p, tc = (saved[j] for j in range(6))  # 6 x (n, u)
    dc_new = dc + dh * o * (1.0 - tc * tc)  # (n, u)
    dz = jnp.concatenate([dc_new * g * i * (1.0 - i), dc_new * c_p * f * (1.0 - f),
                          dc_new * i * (1.0 - g * g), dh * tc * o * (1.0 - o)],
                         axis=-1)  # (n, 4u)
    if k_t is None:
        return dz, dz @ rk_t, dc_new * f
    dz = jnp.where(k_t, dz, jnp.zeros_like(dz))  # (n, 4u)
    return dz, jnp.where(k_t, dz @ rk_t, dh), jnp.where(k_t, dc_new * f, dc)


def _forward(x, kernel, recurrent_kernel, bias, h0, c0, keep, last, rows, save):
    """Run the phases; returns ``(H, h_T, c_T)`` and, when ``save``, ``(gates, XH)``.

    ``H (T, B, u)`` holds ``h`` after each computed step and zeros at skipped ones.
    """
    steps, batch, _ = x.shape
    u = h0.shape[-1]
    weights = jnp.concatenate([kernel, recurrent_kernel], axis=0)  # (D + u, 4u)
    dtype = h0.dtype
    bufs = [jnp.zeros((steps, batch, u), dtype)]  # H
    if save:
        bufs += [jnp.zeros((steps, 6, batch, u), dtype),  # gates
                 jnp.zeros((steps, batch, x.shape[-1] + u), dtype)]  # [x_t | h_{t-1}]
    h, c = jnp.asarray(h0), jnp.asarray(c0)  # (B, u)
    for n, start, end in zip(rows, *_bounds(last, rows), strict=True):

        def body(t, state, n=n):
            h, c, *bufs = state  # (n, u), (n, u), buffers
            x_t = jax.lax.dynamic_index_in_dim(x, t, keepdims=False)[:n]  # (n, D)
            k_t = jax.lax.dynamic_index_in_dim(keep, t, keepdims=False)[:n]  # (n, 1)
            xh = jnp.concatenate([x_t, h], axis=-1)  # (n, D + u)
            h, c, gates = cell_step(xh, weights, bias, h, c, k_t)
            bufs[0] = _put(bufs[0], t, h)
            if save:
                bufs[1] = _put(bufs[1], t, gates)
                bufs[2] = _put(bufs[2], t, xh)
            return h, c, *bufs

        h_n, c_n, *bufs = jax.lax.fori_loop(start, end, body, (h[:n], c[:n], *bufs))
        h, c = h.at[:n].set(h_n), c.at[:n].set(c_n)  # (B, u)
    return bufs, h, c


def _backward(d_hs, d_h, d_c, kernel, recurrent_kernel, keep, last, rows, gates, xh):
    """BPTT over the phases in reverse; returns the cotangents of every input."""
    steps, batch, _ = d_hs.shape
    u = d_h.shape[-1]
    rk_t = recurrent_kernel.T  # (4u, u)
    dz_buf = jnp.zeros((steps, batch, 4 * u), d_hs.dtype)  # (T, B, 4u), only for dx
    d_weights = jnp.zeros((xh.shape[-1], 4 * u), d_hs.dtype)  # (D + u, 4u)
    d_bias = jnp.zeros((4 * u,), d_hs.dtype)  # (4u,)
    dh, dc = jnp.asarray(d_h), jnp.asarray(d_c)  # (B, u)
    for n, start, end in reversed(list(zip(rows, *_bounds(last, rows), strict=True))):

        def body(j, state, n=n, end=end):
            dh, dc, dz_buf, d_weights, d_bias = state  # (n, u), (n, u), (T, B, 4u), ...
            t = end - 1 - j
            d_out = jax.lax.dynamic_index_in_dim(d_hs, t, keepdims=False)[:n]  # (n, u)
            r_t = jax.lax.dynamic_index_in_dim(gates, t, keepdims=False)[:, :n]  # (6, n, u)
            k_t = jax.lax.dynamic_index_in_dim(keep, t, keepdims=False)[:n]  # (n, 1)
            dz, dh, dc = gate_gradients(r_t, dh + d_out, dc, k_t, rk_t)  # (n, 4u), (n, u) x2
            dz_buf = _put(dz_buf, t, dz)
            xh_t = jax.lax.dynamic_index_in_dim(xh, t, keepdims=False)[:n]  # (n, D + u)
            d_weights = d_weights + jax.lax.dot_general(
                xh_t, dz, (((0,), (0,)), ((), ())))  # (D + u, 4u), only the computed rows
            return dh, dc, dz_buf, d_weights, d_bias + jnp.sum(dz, axis=0)

        dh_n, dc_n, dz_buf, d_weights, d_bias = jax.lax.fori_loop(
            0, end - start, body, (dh[:n], dc[:n], dz_buf, d_weights, d_bias))
        dh, dc = dh.at[:n].set(dh_n), dc.at[:n].set(dc_n)  # (B, u)
    n_in = kernel.shape[0]
    dx = dz_buf @ kernel.T  # (T, B, D); XLA drops dz_buf with it when x needs no gradient
    return dx, d_weights[:n_in], d_weights[n_in:], d_bias, dh, dc


@partial(jax.custom_vjp, nondiff_argnums=(8,))
def recurrence(x, kernel, recurrent_kernel, bias, h0, c0, keep, last, rows):
    """``(H, h_T, c_T)`` of the tanh/sigmoid LSTM over length-sorted rows (see module doc).

    ``x (T, B, D)``, ``keep (T, B, 1)``, ``h0``/``c0 (B, u)`` are in sorted order, ``last (B,)``
    from `sort_by_length`, ``rows`` from `phase_rows`. ``H[t, b]`` is zero where the step was
    skipped (``t >= last[b]``); there the carried output is ``h_T[b]``.
    """
    (hs,), h, c = _forward(x, kernel, recurrent_kernel, bias, h0, c0, keep, last, rows, False)
    return hs, h, c


def _recurrence_fwd(x, kernel, recurrent_kernel, bias, h0, c0, keep, last, rows):
    (hs, gates, xh), h, c = _forward(x, kernel, recurrent_kernel, bias, h0, c0, keep, last,
                                     rows, True)
    return (hs, h, c), (kernel, recurrent_kernel, keep, last, gates, xh)


def _recurrence_bwd(rows, residuals, cotangents):
    kernel, recurrent_kernel, keep, last, gates, xh = residuals
    d_hs, d_h, d_c = cotangents
    dx, dk, dr, db, dh0, dc0 = _backward(d_hs, d_h, d_c, kernel, recurrent_kernel, keep, last,
                                         rows, gates, xh)
    float0 = jax.dtypes.float0
    return (dx, dk, dr, db, dh0, dc0, np.zeros(keep.shape, float0),
            np.zeros(last.shape, float0))


recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


def lstm_sorted(xs, kernel, recurrent_kernel, bias, h0, c0, keep):
    """Run `recurrence` on time-major ``xs (T, B, D)`` and ``keep (T, B, 1)`` in the input order.

    Returns ``(H (T, B, u), h_T, c_T)`` with ``H[t]`` the carried ``h`` after step ``t`` (it
    repeats the previous output at masked steps), as the plain scan gives it.
    """
    order, last = sort_by_length(keep)  # (B,), (B,)
    rows = phase_rows(xs.shape[1])
    hs, h, c = recurrence(xs[:, order], kernel, recurrent_kernel, bias, h0[order], c0[order],
                          keep[:, order], last, rows)  # (T, B, u), (B, u), (B, u)
    t = jnp.arange(xs.shape[0], dtype=last.dtype)[:, None, None]  # (T, 1, 1)
    hs = jnp.where(t < last[None, :, None], hs, h[None])  # (T, B, u): skipped steps carry h_T
    back = jnp.argsort(order)  # (B,)
    return hs[:, back], h[back], c[back]
