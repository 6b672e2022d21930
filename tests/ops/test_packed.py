"""The length-sorted LSTM (unrolled.ops.packed) against the plain scan and JAX's autodiff.

Oracles (DESIGN.md): 4. invariant: with the sorting on (`packed.PHASES` phases) `rnn.lstm`
equals `rnn.lstm_reference` (the generic scan differentiated by JAX, itself checked against
Keras and finite differences elsewhere) in every output and every gradient, on batches of
right-padded random lengths (the case it speeds up) including rows of length 0 and T, ties, and
on holes / left padding (where it must not change anything). Both sides run in float64, so the
comparison sees the algorithms and not the CPU's rounding: the tolerance is conftest's
`rounding_bound` for `n_terms` (a weight gradient sums B*T terms, each built through T steps of
(D + 5U)-term contractions) of size `term_size` (about 1e-9 here; a wrong gate or a missed step
is off by 1e-3 or more). In float32 the two paths sum over batch and time in different orders,
so they differ by a few ulps of the largest term, which varies between CPUs.
3. float64 central finite differences on the sorted path itself.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from unrolled.ops import packed, rnn

T, D, U = 9, 3, 5


def right_padded(batch, seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, T + 1, size=batch)
    lengths[:2] = [0, T][:batch]  # a fully masked row and a full-length row in every batch
    return np.arange(T)[None, :] < lengths[:, None]  # (B, T)


def holes(batch, seed):
    return np.random.default_rng(seed).random((batch, T)) < 0.6


def params(batch, seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    shapes = {"x": (batch, T, D), "kernel": (D, 4 * U), "recurrent_kernel": (U, 4 * U),
              "bias": (4 * U,), "h0": (batch, U), "c0": (batch, U)}
    return {k: jnp.asarray(rng.normal(0.0, 0.7, s).astype(dtype)) for k, s in shapes.items()}


def scalar(op, mask, probe, **options):
    def f(p):
        last, seq, (h, c) = op(p["x"], p["kernel"], p["recurrent_kernel"], p["bias"],
                               mask=mask, initial_state=[p["h0"], p["c0"]], **options)
        return sum(jnp.sum(w * jnp.tanh(a)) for w, a in zip(probe, (last, seq, h, c),
                                                           strict=True))
    return f


def probe_for(batch, seed, dtype=np.float32):
    rng = np.random.default_rng(seed + 7)
    return [jnp.asarray(rng.normal(size=s).astype(dtype))
            for s in [(batch, U), (batch, T, U), (batch, U), (batch, U)]]


def n_terms(batch):
    return batch * T + T * (D + 5 * U)


def assert_equal_paths(check, mask, p, probe, options, params_used=None):
    """`rnn.lstm` == `rnn.lstm_reference` in every output and gradient, float64 (see above)."""
    args = (p["x"], p["kernel"], p["recurrent_kernel"], p["bias"])
    kw = {"mask": mask, "initial_state": [p["h0"], p["c0"]], **options}
    n, size = n_terms(len(p["x"])), [*p.values(), *probe]
    for got, want in zip(jax.tree.leaves(rnn.lstm(*args, **kw)),
                         jax.tree.leaves(rnn.lstm_reference(*args, **kw)), strict=True):
        check(got, want, n, size)
    g_fast = jax.grad(scalar(rnn.lstm, mask, probe, **options))(p)
    g_ref = jax.grad(scalar(rnn.lstm_reference, mask, probe, **options))(p)
    for name in p:
        check(g_fast[name], g_ref[name], n, size, err_msg=f"gradient of {name}")


@pytest.mark.parametrize(("phases", "batch"), [(2, 6), (4, 13), (7, 13), (4, 1)])
@pytest.mark.parametrize("make_mask", [right_padded, holes], ids=["right_padded", "holes"])
@pytest.mark.parametrize("options", [{}, {"go_backwards": True},
                                     {"zero_output_for_mask": True}], ids=["fwd", "back", "zero"])
def test_sorted_path_equals_reference(monkeypatch, x64, assert_rounding_close, phases, batch,
                                      make_mask, options):
    monkeypatch.setattr(packed, "PHASES", phases)
    p, mask = params(batch, batch, np.float64), jnp.asarray(make_mask(batch, phases))
    assert_equal_paths(assert_rounding_close, mask, p, probe_for(batch, batch, np.float64),
                       options)


@pytest.mark.parametrize("sizes", [(None, None, None), (None, 1, 1), (None, 2, 3), (2, 1, None)],
                         ids=["own", "all-rows", "rounded", "rounded-inference"])
@pytest.mark.parametrize("options", [{}, {"go_backwards": True}], ids=["fwd", "back"])
def test_every_phase_plan_equals_reference(monkeypatch, x64, assert_rounding_close, sizes,
                                           options):
    # plans_for picks one plan per direction; any (e >= n rows elementwise, n by the matmul)
    # must give the same numbers: rows past n have ended and are masked
    def plans_for(batch):
        rows = packed.phase_rows(batch)
        return tuple(packed.plan(rows, s) for s in sizes)

    monkeypatch.setattr(packed, "plans_for", plans_for)
    batch = 13
    p, mask = params(batch, 5, np.float64), jnp.asarray(right_padded(batch, 5))
    assert_equal_paths(assert_rounding_close, mask, p, probe_for(batch, 5, np.float64), options)


@pytest.mark.parametrize("output", ["last", "h", "c"])
def test_unused_outputs_and_inputs_skip_their_gradients_with_the_same_result(
        x64, assert_rounding_close, output):
    # the layer's usual case: only the last output (or one state) is used and the input x is
    # data, so the backward gets symbolic zeros for H and skips dx; the weight gradients must
    # still equal the reference
    batch = 11
    p, mask = params(batch, 9, np.float64), jnp.asarray(right_padded(batch, 9))
    probe = jnp.asarray(np.random.default_rng(1).normal(size=(batch, U)))

    def loss(op):
        def f(w):
            last, _, (h, c) = op(p["x"], w["kernel"], w["recurrent_kernel"], w["bias"],
                                 mask=mask, initial_state=[w["h0"], w["c0"]])
            return jnp.sum(probe * jnp.tanh({"last": last, "h": h, "c": c}[output]))
        return f

    w = {k: p[k] for k in ("kernel", "recurrent_kernel", "bias", "h0", "c0")}
    g_fast, g_ref = jax.grad(loss(rnn.lstm))(w), jax.grad(loss(rnn.lstm_reference))(w)
    n, size = n_terms(batch), [*p.values(), probe]
    for name in w:
        assert_rounding_close(g_fast[name], g_ref[name], n, size, err_msg=f"gradient of {name}")


def test_an_empty_masked_batch_gives_empty_outputs():
    p = params(1, 0)
    x = jnp.zeros((0, T, D), jnp.float32)
    last, seq, (h, c) = rnn.lstm(x, p["kernel"], p["recurrent_kernel"], p["bias"],
                                 mask=jnp.zeros((0, T), bool))
    assert last.shape == h.shape == c.shape == (0, U) and seq.shape == (0, T, U)


def test_plan_rounds_rows_up_to_the_given_number_of_sizes():
    rows = packed.phase_rows(32, 4)  # (32, 24, 16, 8)
    assert packed.plan(rows) == ((32, 32), (24, 24), (16, 16), (8, 8))
    assert packed.plan(rows, 2) == ((32, 32), (32, 24), (16, 16), (16, 8))
    assert packed.plan(rows, 1) == ((32, 32), (32, 24), (32, 16), (32, 8))
    assert packed.plan(packed.phase_rows(13, 4), 2) == ((13, 13), (13, 10), (13, 7), (7, 4))
    inference, training, backward = packed.plans_for(32)
    assert training == packed.plan(rows, packed.FORWARD_SIZES)
    assert inference == backward == packed.plan(rows)


def test_sorted_path_is_taken_for_masks_only(monkeypatch):
    p, mask = params(4, 0), jnp.asarray(right_padded(4, 0))

    def jaxpr(m):
        return str(jax.make_jaxpr(lambda x: rnn.lstm(x, p["kernel"], p["recurrent_kernel"],
                                                     p["bias"], mask=m))(p["x"]))

    assert "while" in jaxpr(mask) and "argsort" not in jaxpr(None)
    assert "sort" in jaxpr(mask)
    monkeypatch.setattr(packed, "PHASES", 1)  # switched off: the plain scan
    assert "sort" not in jaxpr(mask)


def test_sorted_path_gradients_match_finite_differences_float64(x64):
    batch = 5
    p, mask = params(batch, 3, np.float64), jnp.asarray(right_padded(batch, 3))
    check_grads(scalar(rnn.lstm, mask, probe_for(batch, 3, np.float64)), (p,), order=1,
                modes=("rev",), eps=1e-6, atol=1e-6, rtol=1e-6)


def test_phase_rows():
    assert packed.phase_rows(64, 4) == (64, 48, 32, 16)
    assert packed.phase_rows(3, 4) == (3, 2, 1)
    assert packed.phase_rows(1, 4) == (1,)
    assert packed.phase_rows(10, 1) == (10,)


def test_sort_by_length_counts_to_the_last_kept_step():
    keep = np.array([[1, 1, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]], bool)  # (B, T)
    order, last = packed.sort_by_length(jnp.asarray(keep.T[..., None]))
    np.testing.assert_array_equal(order, [1, 3, 0, 2])
    np.testing.assert_array_equal(last, [4, 4, 2, 0])
