r"""Recurrent cells and the mask-aware scan over time.

The LSTM, as Keras 3 computes it (gate column blocks ``[i | f | c | o]``)::

    z_t  = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias          # (B, 4u)
    i_t  = recurrent_activation(z_t[:, 0u:1u])                         # input gate
    f_t  = recurrent_activation(z_t[:, 1u:2u])                         # forget gate
    g_t  = activation(z_t[:, 2u:3u])                                   # candidate c~
    o_t  = recurrent_activation(z_t[:, 3u:4u])                         # output gate
    c_t  = f_t * c_{t-1} + i_t * g_t
    h_t  = o_t * activation(c_t)

In the generic path (`lstm_reference`, other activations) ``x @ kernel + bias`` is one matmul
over all time steps before the scan, which carries only ``h @ recurrent_kernel``; the
tanh/sigmoid fast paths (`_recurrence_forward`, `unrolled.ops.packed` for masked inputs) measured
faster with one ``[x_t | h] @ [kernel; recurrent_kernel]`` per step (BENCHMARKS.md).

A masked step (``mask[b, t] == False``) carries ``h`` and ``c`` unchanged and emits the previous
``h`` (or zeros with ``zero_output_for_mask``), so any mask pattern works: right or left
padding, holes, fully masked rows.

`lstm_path` is the one place that chooses the path; `time_major_mask` the one conversion of
a ``(B, T)`` mask; every cell step can return its `Gates` (``return_gates=True``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from unrolled.ops import activations, packed

StepFn = Callable[[jax.Array, list[jax.Array]], tuple[jax.Array, list[jax.Array]]]


class Gates(NamedTuple):
    """What a cell step computed, each a tuple of ``(..., u)`` arrays in kernel-block order.

    ``pre_activations`` are the gates' arguments, ``activations`` their values and
    ``recurrent`` the part of each pre-activation that comes from ``h_{t-1}``.
    """

    pre_activations: tuple
    activations: tuple
    recurrent: tuple


def time_major_mask(mask: jax.Array | None, reverse: bool = False) -> jax.Array | None:
    """Convert a boolean ``(B, T)`` mask to what every path reads: ``keep (T, B, 1)`` or None.

    ``reverse`` flips time (processing order of a ``go_backwards`` layer).
    """
    if mask is None:
        return None
    keep = jnp.swapaxes(jnp.asarray(mask).astype(bool), 0, 1)[..., None]  # (T, B, 1)
    return jnp.flip(keep, axis=0) if reverse else keep  # (T, B, 1)


def scan(
    step: StepFn,
    inputs: jax.Array,
    initial_states: Sequence[jax.Array],
    *,
    mask: jax.Array | None = None,
    go_backwards: bool = False,
    zero_output_for_mask: bool = False,
    unroll: int | bool = 1,
    state_offsets: Sequence[jax.Array] | None = None,
    return_states: bool = False,
):
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
        state_offsets: optional ``(B, T, n)`` per state, in input order, added to the states
            after each step (and to the output, ``states[0]``); zeros change nothing, and the
            gradient with respect to them is the loss's gradient with respect to each state.
        return_states: also return the states after every step.

    Returns:
        ``(last_output (B, n), outputs (B, T, n), final_states)``, and with ``return_states``
        the list of state sequences ``(B, T, n)`` in processing order.

    """
    xs = jnp.swapaxes(inputs, 0, 1)  # (T, B, ...)
    states = list(initial_states)
    keep = time_major_mask(mask)  # (T, B, 1) or None
    offsets = None
    if state_offsets is not None:
        offsets = [jnp.swapaxes(e, 0, 1) for e in state_offsets]  # (T, B, n) each
        states = [s.astype(jnp.result_type(s, e)) for s, e in zip(states, offsets, strict=True)]

    def body(carry, xm):
        x_t, keep_t, off_t = xm
        out, new = step(x_t, carry)
        if keep_t is not None:
            if not zero_output_for_mask:
                out = jnp.where(keep_t, out, carry[0])  # (B, n)
            new = [jnp.where(keep_t, n, s) for n, s in zip(new, carry, strict=True)]
        if off_t is not None:
            new = [n + e for n, e in zip(new, off_t, strict=True)]
            out = out + off_t[0]  # (B, n)
        if keep_t is not None and zero_output_for_mask:
            out = jnp.where(keep_t, out, jnp.zeros_like(out))  # (B, n)
        return new, ((out, new) if return_states else out)

    final, ys = jax.lax.scan(
        body, states, (xs, keep, offsets), reverse=go_backwards, unroll=unroll
    )  # ys: outputs (T, B, n) [and states]
    outputs, seqs = ys if return_states else (ys, None)
    if go_backwards:
        outputs = jnp.flip(outputs, axis=0)  # (T, B, n)
        seqs = None if seqs is None else [jnp.flip(s, axis=0) for s in seqs]
    result = (outputs[-1], jnp.swapaxes(outputs, 0, 1), list(final))
    if return_states:
        return (*result, [jnp.swapaxes(s, 0, 1) for s in seqs])  # (B, T, n) each
    return result


def lstm_step(
    z_x: jax.Array,
    h: jax.Array,
    c: jax.Array,
    recurrent_kernel: jax.Array,
    activation: Callable = jnp.tanh,
    recurrent_activation: Callable = jax.nn.sigmoid,
    return_gates: bool = False,
):
    """One LSTM step from the precomputed input part ``z_x = x_t @ kernel + bias``.

    Any leading axes broadcast: ``(B, 4u)`` for one step, ``(B, T, 4u)`` for every step at once
    from the previous states ``(B, T, u)`` (how `unrolled.inspect` reads a layer's gates).

    Returns:
        ``(h_t, c_t)``, each ``(B, u)``, and with ``return_gates`` a `Gates` of ``[i, f, g, o]``.

    """
    z_rec = h @ recurrent_kernel  # (B, 4u)
    z = z_x + z_rec  # (B, 4u)
    zi, zf, zg, zo = jnp.split(z, 4, axis=-1)  # 4 x (B, u)
    i = recurrent_activation(zi)  # (B, u)
    f = recurrent_activation(zf)  # (B, u)
    g = activation(zg)  # (B, u)
    o = recurrent_activation(zo)  # (B, u)
    c_new = f * c + i * g  # (B, u)
    h_new = o * activation(c_new)  # (B, u)
    if not return_gates:
        return h_new, c_new
    recurrent = tuple(jnp.split(z_rec, 4, axis=-1))  # 4 x (B, u)
    return h_new, c_new, Gates((zi, zf, zg, zo), (i, f, g, o), recurrent)


def _recurrence_forward(x, kernel, recurrent_kernel, bias, h0, c0, keep, unroll, save):
    """Scan the tanh/sigmoid LSTM over time-major inputs ``x (T, B, D)``.

    Each step computes ``[x_t | h] @ [kernel; recurrent_kernel] + bias`` as ONE matmul inside
    the loop: on XLA CPU that beat projecting all steps before the scan (1.2-1.3x per training
    step at both benchmark sizes; BENCHMARKS.md), because the hoisted ``(T, B, 4u)`` array costs
    a slice per step and, at medium size, more memory traffic than the small matmul it saves.
    ``keep`` is ``None`` or a boolean ``(T, B, 1)``.

    Returns ``(c_T (B, u), H (T, B, u))``, ``H[t]`` the carried ``h`` after step ``t`` (unchanged
    at masked steps), or, when ``save``, ``(c_T, (H, G, XH))`` with what the backward pass needs:
    ``G[t] = stack([i, f, g, o, c_t])`` ``(T, 5, B, u)`` and the matmul's left
    operand ``XH[t] = [x_t | h_{t-1}]`` ``(T, B, D + u)``. Stacking the rows on their own axis
    keeps each one contiguous: reading column slices of one packed ``(B, 6u)`` row made the
    backward loop 3-4x slower on XLA CPU (BENCHMARKS.md).
    """
    weights = jnp.concatenate([kernel, recurrent_kernel], axis=0)  # (D + u, 4u)

    def body(carry, xs):
        h, c = carry  # (B, u), (B, u)
        x_t, k_t = xs if keep is not None else (xs, None)
        xh = jnp.concatenate([x_t, h], axis=-1)  # (B, D + u)
        h_new, c_new, saved = packed.cell_step(xh @ weights + bias, h, c, k_t)  # saved (5, B, u)
        if save:
            return (h_new, c_new), (h_new, saved, xh)
        return (h_new, c_new), h_new

    xs = x if keep is None else (x, keep)
    (_, c_last), outs = jax.lax.scan(body, (h0, c0), xs, unroll=unroll)
    return c_last, outs


# Scan unroll factors of the fast path (inference forward, training forward, backward), measured
# with benchmarks/levers.py; see BENCHMARKS.md.
FAST_UNROLL = (2, 1, 1)


@partial(jax.custom_vjp, nondiff_argnums=(7,))
def _recurrence(x, kernel, recurrent_kernel, bias, h0, c0, keep, unroll):
    """``(H (T, B, u), c_T (B, u))`` of the tanh/sigmoid LSTM; gradients by hand-derived BPTT."""
    c_last, hs = _recurrence_forward(x, kernel, recurrent_kernel, bias, h0, c0, keep, unroll[0],
                                     save=False)
    return hs, c_last  # (T, B, u), (B, u)


def _recurrence_fwd(x, kernel, recurrent_kernel, bias, h0, c0, keep, unroll):
    c_last, (hs, gates, xh) = _recurrence_forward(x, kernel, recurrent_kernel, bias, h0, c0,
                                                  keep, unroll[1], save=True)
    return (hs, c_last), (kernel, recurrent_kernel, c0, keep, gates, xh)


def _recurrence_bwd(unroll, residuals, cotangents):
    """Backpropagation through time from the saved gates; only ``dz @ R^T`` stays in the scan.

    Each step is `unrolled.ops.packed.gate_gradients` (the formulas are there). The weight
    gradient is ONE matmul over all steps afterwards, ``[x_t | h_{t-1}]^T dz`` summed over time
    and batch, split into ``dK`` and ``dR``; ``dx = dz @ K^T`` and ``db`` are single ops too.
    """
    kernel, recurrent_kernel, c0, keep, gates, xh = residuals
    d_hs, d_c_last = cotangents  # (T, B, u), (B, u)
    rk_t = recurrent_kernel.T  # (4u, u)
    c_prev = jnp.concatenate([c0[None], gates[:-1, 4]])  # (T, B, u): c_{t-1} per step

    def body(carry, xs):
        dh, dc = carry  # (B, u), (B, u)
        d_out, r_t, c_p, k_t = xs if keep is not None else (*xs, None)
        dz, dh_prev, dc_prev = packed.gate_gradients(r_t, c_p, dh + d_out, dc, k_t, rk_t)
        return (dh_prev, dc_prev), dz  # dz (B, 4u)

    xs = (d_hs, gates, c_prev) if keep is None else (d_hs, gates, c_prev, keep)
    zero = jnp.zeros_like(d_c_last)  # (B, u)
    (dh0, dc0), dz = jax.lax.scan(body, (zero, d_c_last), xs, reverse=True,
                                  unroll=unroll[2])  # dz (T, B, 4u)
    steps, batch, n_gates = dz.shape
    dz2 = dz.reshape(steps * batch, n_gates)  # (T*B, 4u)
    # dz^T @ XH, transposed: this operand order ran 1.1-1.2x faster than the einsum on XLA CPU
    d_weights = jax.lax.dot_general(dz2, xh.reshape(steps * batch, -1),
                                    (((0,), (0,)), ((), ()))).T  # (D + u, 4u)
    n_in = kernel.shape[0]
    dx = dz @ kernel.T  # (T, B, D)
    d_bias = jnp.sum(dz2, axis=0)  # (4u,)
    d_keep = None if keep is None else np.zeros(keep.shape, jax.dtypes.float0)
    return dx, d_weights[:n_in], d_weights[n_in:], d_bias, dh0, dc0, d_keep


_recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


def _lstm_fast(x, kernel, recurrent_kernel, bias, initial_state, keep, sort, go_backwards,
               zero_output_for_mask, unroll, return_states):
    """`lstm` for the tanh/sigmoid cell: `_recurrence`, or `packed` when ``sort``."""
    xs = jnp.swapaxes(x, 0, 1)  # (T, B, D)
    if go_backwards:
        xs = jnp.flip(xs, axis=0)  # (T, B, D), processing order
    if bias is None:
        bias = jnp.zeros((recurrent_kernel.shape[-1],), recurrent_kernel.dtype)  # (4u,)
    h0, c0 = initial_state
    cs = None
    if sort:  # masked: rows sorted by length, padded steps skipped (unrolled.ops.packed)
        out = packed.lstm_sorted(xs, kernel, recurrent_kernel, bias, h0, c0, keep,
                                 return_states)  # (T, B, u), [(T, B, u)], (B, u), (B, u)
        hs, h_last, c_last = out[0], out[-2], out[-1]
        cs = out[1] if return_states else None
    else:
        # unroll=1 (the default) takes the measured best factors; an explicit one applies to all
        factors = FAST_UNROLL if unroll is False or unroll == 1 else (unroll,) * 3
        if return_states:  # the same forward, keeping c_t (nothing here is differentiated)
            c_last, (hs, gates, _) = _recurrence_forward(
                xs, kernel, recurrent_kernel, bias, h0, c0, keep, factors[0], save=True)
            cs = gates[:, 4]  # (T, B, u)
        else:
            hs, c_last = _recurrence(xs, kernel, recurrent_kernel, bias, h0, c0, keep,
                                     factors)  # (T, B, u), (B, u)
        h_last = hs[-1]  # (B, u)
    outputs = hs  # (T, B, u): the carried h repeats the previous output at masked steps
    last_output = h_last  # = outputs[-1]; from h_T, a layer returning it leaves H unused
    if keep is not None and zero_output_for_mask:
        outputs = jnp.where(keep, hs, jnp.zeros_like(hs))  # (T, B, u)
        last_output = outputs[-1]  # (B, u)
    result = (last_output, jnp.swapaxes(outputs, 0, 1), [h_last, c_last])
    if return_states:
        return (*result, [jnp.swapaxes(hs, 0, 1), jnp.swapaxes(cs, 0, 1)])  # 2 x (B, T, u)
    return result


def lstm_path(activation: Callable, recurrent_activation: Callable, *, masked: bool,
              batch: int, dropout: bool = False, offsets: bool = False) -> str:
    """Choose how `lstm` runs; the one place that decides.

    Returns:
        ``"sorted"`` (`unrolled.ops.packed`: a masked tanh/sigmoid LSTM, rows sorted by
        length), ``"recurrence"`` (`_recurrence`: the unmasked tanh/sigmoid LSTM, hand-derived
        backward) or ``"scan"`` (the generic `scan` of `lstm_step`, differentiated by JAX: other
        activations, dropout masks, and offsets, whose gradients the fast paths do not give).

    """
    if dropout or offsets or activation is not jnp.tanh or \
            recurrent_activation is not jax.nn.sigmoid:
        return "scan"
    if masked and packed.PHASES > 1 and batch > 0:  # (an empty batch: the plain recurrence)
        return "sorted"
    return "recurrence"


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
    input_dropout: jax.Array | None = None,
    recurrent_dropout: jax.Array | None = None,
    state_offsets: Sequence[jax.Array] | None = None,
    gate_offsets: jax.Array | None = None,
    return_states: bool = False,
):
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
        unroll: ``lax.scan`` unroll factor (a speed knob only; the masked tanh/sigmoid path runs
            ``while`` loops with data-dependent trip counts and ignores it).
        input_dropout: optional ``(B, D)`` scale of the inputs (a dropout mask of this call).
        recurrent_dropout: optional ``(B, u)`` scale of ``h`` before its matmul.
        state_offsets: optional ``[(B, T, u), (B, T, u)]`` added to ``h`` and ``c`` after each
            step, in input order (see `scan`; `unrolled.inspect.gradient_flow`).
        gate_offsets: optional ``(B, T, 4u)`` added to the pre-activations, in input order.
        return_states: also return ``[H, C]``, each ``(B, T, u)`` in processing order: the
            states after every step (carried over masked steps).

    Returns:
        ``(last_output (B, u), outputs (B, T, u), [h (B, u), c (B, u)])`` (and ``[H, C]``).

    `lstm_path` chooses the computation: the default tanh/sigmoid cell runs through a scan with
    a hand-derived backward pass (`_recurrence`) that saves only the gates and states, or, with
    a mask, through `unrolled.ops.packed`; everything else, and `lstm_reference`, through the
    generic `scan`, differentiated by JAX. They give the same numbers.

    Example:
        >>> import numpy as np
        >>> x = np.ones((2, 5, 3), "float32")
        >>> k, r = np.full((3, 8), 0.1, "float32"), np.zeros((2, 8), "float32")
        >>> last, seq, (h, c) = lstm(x, k, r)
        >>> last.shape, seq.shape, bool((last == h).all())
        ((2, 2), (2, 5, 2), True)

    """
    act = activations.get(activation)
    rec_act = activations.get(recurrent_activation)
    path = lstm_path(act, rec_act, masked=mask is not None, batch=x.shape[0],
                     dropout=input_dropout is not None or recurrent_dropout is not None,
                     offsets=state_offsets is not None or gate_offsets is not None)
    return _lstm(x, kernel, recurrent_kernel, bias, mask, initial_state, act, rec_act,
                 go_backwards, zero_output_for_mask, unroll, path,
                 (input_dropout, recurrent_dropout), (state_offsets, gate_offsets),
                 return_states)


def lstm_reference(
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
    """`lstm` through the generic `scan` and `lstm_step`, differentiated by JAX.

    The reference the fast path of `lstm` is tested against; arguments and results as `lstm`.
    """
    return _lstm(x, kernel, recurrent_kernel, bias, mask, initial_state,
                 activations.get(activation), activations.get(recurrent_activation),
                 go_backwards, zero_output_for_mask, unroll, "scan", (None, None), (None, None),
                 False)


def _lstm(x, kernel, recurrent_kernel, bias, mask, initial_state, act, rec_act, go_backwards,
          zero_output_for_mask, unroll, path, dropout, offsets, return_states):
    units = recurrent_kernel.shape[0]
    if initial_state is None:
        zeros = jnp.zeros((x.shape[0], units), jnp.result_type(x, kernel))  # (B, u)
        initial_state = [zeros, zeros]
    if path != "scan":
        keep = time_major_mask(mask, reverse=go_backwards)  # (T, B, 1) or None
        return _lstm_fast(x, kernel, recurrent_kernel, bias, list(initial_state), keep,
                          path == "sorted", go_backwards, zero_output_for_mask, unroll,
                          return_states)
    input_dropout, recurrent_dropout = dropout
    state_offsets, gate_offsets = offsets
    if input_dropout is not None:
        x = x * input_dropout[:, None, :]  # (B, T, D)
    z_x = x @ kernel  # (B, T, 4u)
    if bias is not None:
        z_x = z_x + bias  # (B, T, 4u)
    if gate_offsets is not None:
        z_x = z_x + gate_offsets  # (B, T, 4u)

    def step(z_t, states):
        h, c = states
        if recurrent_dropout is not None:
            h = h * recurrent_dropout  # (B, u)
        h_new, c_new = lstm_step(z_t, h, c, recurrent_kernel, act, rec_act)
        return h_new, [h_new, c_new]

    return scan(
        step,
        z_x,
        list(initial_state),
        mask=mask,
        go_backwards=go_backwards,
        zero_output_for_mask=zero_output_for_mask,
        unroll=unroll,
        state_offsets=state_offsets,
        return_states=return_states,
    )
