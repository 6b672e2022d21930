"""The LSTM op's fast path (hand-derived BPTT as a jax.custom_vjp) against the reference path.

Oracles (DESIGN.md): 4. invariant: `rnn.lstm` (fast path) equals `rnn.lstm_reference` (the
generic scan differentiated by JAX, itself checked against Keras and finite differences in
tests/test_gradients.py and tests/test_keras_lstm_oracle.py) in outputs and in the gradients of
every input, both in float64 so that the comparison sees the algorithms, not the CPU's rounding
(tolerance: conftest's `rounding_bound` for B*T batch-and-time terms plus T steps of
(D + 5U)-term contractions, about 1e-10 here); 3. central finite differences in float64
(jax.test_util.check_grads, rtol/atol 1e-6) on the fast path itself.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from unrolled.ops import rnn

B, T, D, U = 4, 6, 3, 5


# holes inside a row, left padding, right padding, and a fully masked row
HOLES = np.array([
    [1, 0, 1, 1, 0, 1],
    [0, 0, 1, 1, 1, 1],
    [1, 1, 1, 0, 0, 0],
    [0, 0, 0, 0, 0, 0],
], bool)

CASES = {
    "no_mask": {"mask": None},
    "holes": {"mask": HOLES},
    "holes_backwards": {"mask": HOLES, "go_backwards": True},
    "backwards_no_mask": {"mask": None, "go_backwards": True},
    "holes_zero_output": {"mask": HOLES, "zero_output_for_mask": True},
    "holes_initial_state": {"mask": HOLES, "initial_state": True},
    "initial_state_backwards_zero": {"mask": HOLES, "initial_state": True,
                                     "go_backwards": True, "zero_output_for_mask": True},
    "unroll_3": {"mask": HOLES, "unroll": 3},
    "unroll_full": {"mask": HOLES, "unroll": T, "initial_state": True},
}


def make_params(seed, dtype):
    rng = np.random.default_rng(seed)
    shapes = {"x": (B, T, D), "kernel": (D, 4 * U), "recurrent_kernel": (U, 4 * U),
              "bias": (4 * U,), "h0": (B, U), "c0": (B, U)}
    return {k: jnp.asarray(rng.normal(0.0, 0.8, s).astype(dtype)) for k, s in shapes.items()}


def make_probe(seed, dtype):
    """Fixed random read-out weights so the scalar touches every output of the op."""
    rng = np.random.default_rng(seed + 1)
    shapes = [(B, U), (B, T, U), (B, U), (B, U)]
    return [jnp.asarray(rng.normal(0.0, 1.0, s).astype(dtype)) for s in shapes]


def scalar_of(op, case, probe):
    options = {k: v for k, v in case.items() if k not in ("mask", "initial_state")}
    mask = None if case["mask"] is None else jnp.asarray(case["mask"])

    def f(p):
        state = [p["h0"], p["c0"]] if case.get("initial_state") else None
        last, seq, (h, c) = op(p["x"], p["kernel"], p["recurrent_kernel"], p["bias"], mask=mask,
                               initial_state=state, **options)
        return sum(jnp.sum(w * jnp.tanh(a)) for w, a in zip(probe, (last, seq, h, c),
                                                           strict=True))

    return f


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_fast_path_matches_reference_outputs_and_gradients(x64, assert_rounding_close, case):
    params, probe = make_params(0, np.float64), make_probe(0, np.float64)
    options = {k: v for k, v in case.items() if k not in ("mask", "initial_state")}
    mask = None if case["mask"] is None else jnp.asarray(case["mask"])
    state = [params["h0"], params["c0"]] if case.get("initial_state") else None
    args = (params["x"], params["kernel"], params["recurrent_kernel"], params["bias"])
    n_terms, factors = B * T + T * (D + 5 * U), [*params.values(), *probe]
    fast = rnn.lstm(*args, mask=mask, initial_state=state, **options)
    ref = rnn.lstm_reference(*args, mask=mask, initial_state=state, **options)
    for got, want in zip(jax.tree.leaves(fast), jax.tree.leaves(ref), strict=True):
        assert_rounding_close(got, want, n_terms, factors)

    g_fast = jax.grad(scalar_of(rnn.lstm, case, probe))(params)
    g_ref = jax.grad(scalar_of(rnn.lstm_reference, case, probe))(params)
    for name in params:
        if not case.get("initial_state") and name in ("h0", "c0"):
            continue
        assert_rounding_close(g_fast[name], g_ref[name], n_terms, factors,
                              err_msg=f"gradient of {name}")


def test_fast_path_is_the_custom_vjp():
    """Guard: the default tanh/sigmoid LSTM differentiates through the hand-written backward."""
    params, probe = make_params(0, np.float32), make_probe(0, np.float32)
    fast = str(jax.make_jaxpr(scalar_of(rnn.lstm, CASES["holes"], probe))(params))
    ref = str(jax.make_jaxpr(scalar_of(rnn.lstm_reference, CASES["holes"], probe))(params))
    assert "custom_vjp" in fast
    assert "custom_vjp" not in ref


@pytest.mark.parametrize("case", ["holes_backwards", "initial_state_backwards_zero", "no_mask"])
def test_fast_path_gradients_match_finite_differences_float64(x64, case):
    params, probe = make_params(1, np.float64), make_probe(1, np.float64)
    f = scalar_of(rnn.lstm, CASES[case], probe)
    check_grads(f, (params,), order=1, modes=("rev",), eps=1e-6, atol=1e-6, rtol=1e-6)


def test_fast_path_keeps_float64(x64):
    params = make_params(2, np.float64)
    last, seq, (h, c) = rnn.lstm(params["x"], params["kernel"], params["recurrent_kernel"],
                                 params["bias"], mask=jnp.asarray(HOLES))
    assert {a.dtype for a in (last, seq, h, c)} == {jnp.dtype("float64")}


@pytest.mark.parametrize("activation", ["relu", "hard_sigmoid"])
def test_other_activations_take_the_reference_path(activation):
    """Only tanh/sigmoid has a hand-derived backward; others must equal the reference exactly."""
    params = make_params(3, np.float32)
    args = (params["x"], params["kernel"], params["recurrent_kernel"], params["bias"])
    kw = {"mask": jnp.asarray(HOLES), "recurrent_activation": activation}
    for got, want in zip(jax.tree.leaves(rnn.lstm(*args, **kw)),
                         jax.tree.leaves(rnn.lstm_reference(*args, **kw)), strict=True):
        np.testing.assert_array_equal(got, want)
