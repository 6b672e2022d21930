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
`gate_gradients`. The weight gradient is accumulated inside the loop over the computed rows
only, ``[x_t | h_{t-1} | 1]^T dz_t`` (the ones column gives the bias gradient in the same
matmul): against one matmul over all ``T * B`` rows after the loop it ran 1.07x faster at 512
units and 1.18x at 128 and keeps no ``(T, B, 4u)`` gradient buffer.

What a step keeps for the backward pass, and what it compiles, is kept small because on XLA
CPU every fused kernel costs ~7 ms to compile and ~0.3 us to launch per step (measured,
BENCHMARKS.md): ``gates[t] = [i, f, g, o, c_t]`` (``c_{t-1}`` is the previous step's entry,
``tanh(c_t)`` is recomputed); the matmul operand ``[x_t | h_{t-1}]`` is rebuilt from ``x`` and
``H`` instead of being stored; through ``symbolic_zeros`` the backward skips the outputs nobody
uses (``H`` when the layer returns only its last output) and ``dx`` when ``x`` is data. For the
benchmark's seed model that took a backward step from 11 fused kernels to 8 and the kernels
compiled for its train step from ~180 to 92 (with `plans_for`, which lets phases of the
training forward share kernels), and made training ~10% faster.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

# Phases of the shrinking batch (1 switches the sorting off). Measured on the gradient step of the
# benchmark's LSTM (lengths uniform in 10..100, interleaved, BENCHMARKS.md): 2 phases 1.19x and 4
# phases 1.32x the plain scan at 128 units, 1.07x and 1.14x at 16 units; the forward alone 1.49x
# and 1.13x with 4. Each phase compiles its own loop body (8-13 kernels a direction).
PHASES = 4

# `plans_for`: the training forward computes FORWARD_SIZES row counts instead of one per phase.
FORWARD_SIZES = 2


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


def _ends(last, rows):
    """Last step + 1 of every phase, ``(len(rows),)`` int32, from the sorted ``last``.

    Phase ``p`` runs until the longest row that phase ``p + 1`` drops has ended; the last phase
    until the longest row has. Non-decreasing, so each phase starts where the previous ended.
    """
    return last[np.array([*rows[1:], 0])]  # (P,)


def _put(buf, t, value):
    """``buf[t, :n, ...] = value`` for a ``value`` of ``n`` leading rows (in place in a loop)."""
    t = jnp.asarray(t)
    zero = jnp.zeros((), t.dtype)
    return jax.lax.dynamic_update_slice(buf, value[None], (t, *[zero] * value.ndim))


def _at(buf, t):
    """``buf[t]`` for a traced ``t``."""
    return jax.lax.dynamic_index_in_dim(buf, t, keepdims=False)


def _live_product(pairs, live):
    """Return ``sum(a @ b for a, b in pairs)`` for the first ``live`` rows and zeros below.

    With `plan`'s ``e > n`` this is where a phase's row count enters the loop body: the
    elementwise work runs on ``e`` rows (those past ``n`` have ended and are masked), so its
    kernels are shared by every phase with the same ``e``; only the matmuls shrink (and one pad).
    """
    rows = pairs[0][0].shape[0]
    live = rows if live is None else live
    (a, b), *rest = pairs
    out = a[:live] @ b  # (live, k)
    for a, b in rest:
        out = out + a[:live] @ b  # (live, k)
    return out if live == rows else jnp.pad(out, ((0, rows - live), (0, 0)))


def cell_step(z, h, c, k_t=None):
    """One tanh/sigmoid LSTM step from the pre-activations ``z = x_t K + h R + b`` ``(n, 4u)``.

    ``k_t (n, 1)`` keeps rows (or None). Returns ``(h, c, saved)``: the new state (carried
    unchanged where ``k_t`` is False) and ``saved = stack([i, f, g, o, c_t])`` ``(5, n, u)``,
    what `gate_gradients` needs besides ``c_{t-1}`` (the previous step's ``c_t``).
    """
    zi, zf, zg, zo = jnp.split(z, 4, axis=-1)  # 4 x (n, u)
    i, f, o = jax.nn.sigmoid(zi), jax.nn.sigmoid(zf), jax.nn.sigmoid(zo)  # (n, u)
    g = jnp.tanh(zg)  # (n, u)
    c_new = f * c + i * g  # (n, u)
    if k_t is not None:
        c_new = jnp.where(k_t, c_new, c)  # (n, u)
    h_new = o * jnp.tanh(c_new)  # (n, u)
    if k_t is not None:
        h_new = jnp.where(k_t, h_new, h)  # (n, u)
    return h_new, c_new, jnp.stack([i, f, g, o, c_new])  # (5, n, u)


def gate_gradients(saved, c_prev, dh, dc, k_t, rk_t, live=None):
    r"""One backward step from `cell_step`'s ``saved`` row; returns ``(dz, dh_{t-1}, dc_{t-1})``.

    With ``dh``/``dc`` the cotangents of ``h_t``/``c_t`` (``dh`` including the step's output)::

        dc' = dc + dh * o * (1 - tanh(c_t)^2)
        dz  = [dc' g i(1-i) | dc' c_{t-1} f(1-f) | dc' i (1-g^2) | dh tanh(c_t) o(1-o)]
        dh_{t-1} = dz @ R^T,  dc_{t-1} = dc' f

    ``tanh(c_t)`` is recomputed (one transcendental per step, against a sixth saved row and a
    separate forward kernel). A masked row (``k_t`` False) has ``dz = 0`` and passes
    ``dh``/``dc`` through. ``live`` (static) as in `cell_step`.
    """
    i, f, g, o, c_t = (saved[j] for j in range(5))  # 5 x (n, u)
    tc = jnp.tanh(c_t)  # (n, u)
    dc_new = dc + dh * o * (1.0 - tc * tc)  # (n, u)
    # stacked on a middle axis, not concatenated: the same (n, 4u) row-major array, but XLA CPU
    # fuses this into one kernel at every size (a 4-way concatenate of (64, 128) blocks it split
    # into five: 4 producers and the copy)
    dz = jnp.stack([dc_new * g * i * (1.0 - i), dc_new * c_prev * f * (1.0 - f),
                    dc_new * i * (1.0 - g * g), dh * tc * o * (1.0 - o)],
                   axis=1).reshape(dc.shape[0], -1)  # (n, 4u)
    if k_t is None:
        return dz, dz @ rk_t, dc_new * f
    dz = jnp.where(k_t, dz, jnp.zeros_like(dz))  # (n, 4u)
    back = _live_product([(dz, rk_t)], live)  # (n, u)
    return dz, jnp.where(k_t, back, dh), jnp.where(k_t, dc_new * f, dc)


def plan(rows: tuple[int, ...], sizes: int | None = None):
    """Return ``((e, n), ...)`` per phase: ``e`` rows computed elementwise, ``n`` by the matmul.

    ``n`` is the phase's row count from `phase_rows` (the rows that can still be running).
    ``sizes=None`` computes just those (``e = n``); otherwise ``e >= n`` is ``n`` rounded up to
    one of ``sizes`` evenly spaced sizes (1: every phase all ``B`` rows). Rows between ``n`` and
    ``e`` have ended, so they are masked: computing them changes nothing but time. Each distinct
    ``e`` is a set of compiled elementwise kernels; only the matmul (and the padding of its
    result to ``e`` rows) is compiled per phase.
    """
    if sizes is None:
        return tuple((n, n) for n in rows)
    batch = rows[0]
    return tuple((min(batch, math.ceil(math.ceil(n * sizes / batch) * batch / sizes)), n)
                 for n in rows)


def _forward(x, kernel, recurrent_kernel, bias, h0, c0, keep, last, phases, save):
    """Run the phases; returns ``(H, gates or None, h_T, c_T, t_end)``.

    ``H (T, B, u)`` holds ``h`` after each computed step and zeros at skipped ones; ``gates``
    ``(T, 5, B, u)`` (only when ``save``) `cell_step`'s saved rows.
    """
    steps, batch, _ = x.shape
    u = h0.shape[-1]
    hs = jnp.zeros((steps, batch, u), h0.dtype)  # (T, B, u)
    gates = jnp.zeros((steps, 5, batch, u), h0.dtype) if save else None  # (T, 5, B, u)
    ends = _ends(last, tuple(n for _, n in phases))  # (P,)
    t, h, c = jnp.int32(0), jnp.asarray(h0), jnp.asarray(c0)  # (), (B, u), (B, u)
    done_h, done_c = [], []  # rows that ended, dropped from the carry at a phase change
    for p, (e, n) in enumerate(phases):
        if e < h.shape[0]:
            done_h.append(h[e:])
            done_c.append(c[e:])
            h, c = h[:e], c[:e]  # (e, u)

        def body(state, e=e, n=n):
            t, h, c, hs, gates = state  # (), (e, u), (e, u), buffers
            # two matmuls, not one on [x_t | h]: XLA CPU leaves that concatenate unfused
            z = _live_product([(_at(x, t)[:e], kernel), (h, recurrent_kernel)], n) + bias
            h, c, saved = cell_step(z, h, c, _at(keep, t)[:e])
            if save:
                gates = _put(gates, t, saved)  # (5, e, u) at step t
            return t + 1, h, c, _put(hs, t, h), gates

        t, h, c, hs, gates = jax.lax.while_loop(lambda s, p=p: s[0] < ends[p], body,
                                                (t, h, c, hs, gates))
    if done_h:
        h = jnp.concatenate([h, *reversed(done_h)])  # (B, u)
        c = jnp.concatenate([c, *reversed(done_c)])  # (B, u)
    return hs, gates, h, c, t


def _backward(d_hs, d_h, d_c, x, kernel, recurrent_kernel, h0, c0, keep, last, phases, hs,
              gates, t_end, need_dx):
    """BPTT over the phases in reverse; returns the cotangents of every input.

    ``d_hs`` is None when ``H`` is not used (symbolic zero). The step's matmul operand
    ``[x_t | h_{t-1} | 1]`` is rebuilt from ``x`` and ``H`` (nothing saved for it); its ones
    column makes the bias gradient a row of the weight gradient's matmul.
    """
    steps, batch, n_in = x.shape
    u = h0.shape[-1]
    rk_t = recurrent_kernel.T  # (4u, u)
    dtype = h0.dtype
    ends = _ends(last, tuple(n for _, n in phases))  # (P,)
    e_last = phases[-1][0]
    dz_buf = jnp.zeros((steps, batch, 4 * u), dtype) if need_dx else None  # (T, B, 4u)
    d_wb = jnp.zeros((n_in + u + 1, 4 * u), dtype)  # d[kernel; recurrent_kernel; bias]
    state = (t_end, d_h[:e_last], d_c[:e_last], dz_buf, d_wb)
    for p in reversed(range(len(phases))):
        e, n = phases[p]
        t, dh, dc, dz_buf, d_wb = state
        if dh.shape[0] < e:  # rows that end in this phase join with their final cotangents
            dh = jnp.concatenate([dh, d_h[dh.shape[0]:e]])  # (e, u)
            dc = jnp.concatenate([dc, d_c[dc.shape[0]:e]])  # (e, u)

        def body(state, e=e, n=n):
            t, dh, dc, dz_buf, d_wb = state  # (), (e, u), (e, u), ...
            t = t - 1
            first = t == 0
            prev = jnp.maximum(t - 1, 0)
            c_prev = jnp.where(first, c0[:e], _at(gates, prev)[4, :e])  # (e, u)
            h_prev = jnp.where(first, h0[:n], _at(hs, prev)[:n])  # (n, u)
            if d_hs is not None:
                dh = dh + _at(d_hs, t)[:e]  # (e, u)
            dz, dh, dc = gate_gradients(_at(gates, t)[:, :e], c_prev, dh, dc,
                                        _at(keep, t)[:e], rk_t, live=n)  # (e, 4u), ...
            if dz_buf is not None:
                dz_buf = _put(dz_buf, t, dz)
            xh1 = jnp.concatenate([_at(x, t)[:n], h_prev, jnp.ones((n, 1), dtype)],
                                  axis=-1)  # (n, D + u + 1)
            d_wb = d_wb + jax.lax.dot_general(
                xh1, dz[:n], (((0,), (0,)), ((), ())))  # (D + u + 1, 4u), the live rows only
            return t, dh, dc, dz_buf, d_wb

        start = ends[p - 1] if p > 0 else 0
        state = jax.lax.while_loop(lambda s, start=start: s[0] > start, body,
                                   (t, dh, dc, dz_buf, d_wb))
    _, dh, dc, dz_buf, d_wb = state
    dx = None if dz_buf is None else dz_buf @ kernel.T  # (T, B, D)
    return dx, d_wb[:n_in], d_wb[n_in:-1], d_wb[-1], dh, dc


@partial(jax.custom_vjp, nondiff_argnums=(8,))
def recurrence(x, kernel, recurrent_kernel, bias, h0, c0, keep, last, plans):
    """``(H, h_T, c_T)`` of the tanh/sigmoid LSTM over length-sorted rows (see module doc).

    ``x (T, B, D)``, ``keep (T, B, 1)``, ``h0``/``c0 (B, u)`` are in sorted order, ``last (B,)``
    from `sort_by_length`, ``plans`` from `plans_for`. ``H[t, b]`` is zero where the step was
    skipped (``t >= last[b]``); there the carried output is ``h_T[b]``.
    """
    hs, _, h, c, _ = _forward(x, kernel, recurrent_kernel, bias, h0, c0, keep, last, plans[0],
                              False)
    return hs, h, c


def _recurrence_fwd(x, kernel, recurrent_kernel, bias, h0, c0, keep, last, plans):
    # symbolic_zeros: each argument arrives as CustomVJPPrimal(value, perturbed)
    need_dx = x.perturbed
    x, kernel, recurrent_kernel, bias, h0, c0, keep, last = (
        a.value for a in (x, kernel, recurrent_kernel, bias, h0, c0, keep, last))
    hs, gates, h, c, t_end = _forward(x, kernel, recurrent_kernel, bias, h0, c0, keep, last,
                                      plans[1], True)
    residuals = (x, kernel, recurrent_kernel, h0, c0, keep, last, hs, gates, t_end)
    return (hs, h, c), (residuals, need_dx)


def _recurrence_bwd(plans, saved, cotangents):
    (x, kernel, recurrent_kernel, h0, c0, keep, last, hs, gates, t_end), need_dx = saved
    d_hs, d_h, d_c = (None if isinstance(ct, SymbolicZero) else ct for ct in cotangents)
    d_h = jnp.zeros_like(h0) if d_h is None else d_h  # (B, u)
    d_c = jnp.zeros_like(c0) if d_c is None else d_c  # (B, u)
    dx, dk, dr, db, dh0, dc0 = _backward(d_hs, d_h, d_c, x, kernel, recurrent_kernel, h0, c0,
                                         keep, last, plans[2], hs, gates, t_end, need_dx)
    return dx, dk, dr, db, dh0, dc0, None, None


recurrence.defvjp(_recurrence_fwd, _recurrence_bwd, symbolic_zeros=True)


def plans_for(batch: int):
    """Return the phase plans ``(inference forward, training forward, backward)`` (`plan`).

    Every phase computes its own rows (``e = n``) except in the training forward, which rounds
    them up to FORWARD_SIZES sizes: a set of forward kernels fewer to compile (the first trained
    batch: 0.94 -> 0.87 of Keras-JAX's at the medium size) for no measurable step time (1.75x /
    1.73x Keras-JAX at medium, 1.55x / 1.59x at large, interleaved; BENCHMARKS.md). Measured
    and not kept: one size for every phase (the elementwise work of all rows in every phase)
    fell to 1.29x Keras-JAX at medium; rounding the backward too, 0.94x the step speed at seed.
    """
    rows = phase_rows(batch)
    own = plan(rows)
    return own, plan(rows, FORWARD_SIZES), own


def lstm_sorted(xs, kernel, recurrent_kernel, bias, h0, c0, keep, return_states=False):
    """Run `recurrence` on time-major ``xs (T, B, D)`` and ``keep (T, B, 1)`` in the input order.

    Returns ``(H (T, B, u), h_T, c_T)`` with ``H[t]`` the carried ``h`` after step ``t`` (it
    repeats the previous output at masked steps), as the plain scan gives it; with
    ``return_states`` ``(H, C, h_T, c_T)``, ``C (T, B, u)`` the carried ``c`` alike (the same
    forward run with its gates kept, not differentiable).
    """
    order, last = sort_by_length(keep)  # (B,), (B,)
    plans = plans_for(xs.shape[1])
    args = (xs[:, order], kernel, recurrent_kernel, bias, h0[order], c0[order], keep[:, order],
            last)
    if return_states:
        hs, gates, h, c, _ = _forward(*args, plans[0], True)  # gates (T, 5, B, u)
        seqs = [hs, gates[:, 4]]  # (T, B, u) each
    else:
        hs, h, c = recurrence(*args, plans)  # (T, B, u), (B, u), (B, u)
        seqs = [hs]
    t = jnp.arange(xs.shape[0], dtype=last.dtype)[:, None, None]  # (T, 1, 1)
    ran = t < last[None, :, None]  # (T, B, 1): skipped steps carry the final state
    seqs = [jnp.where(ran, s, final[None])  # (T, B, u)
            for s, final in zip(seqs, (h, c), strict=False)]
    back = jnp.argsort(order)  # (B,)
    return (*(s[:, back] for s in seqs), h[back], c[back])
