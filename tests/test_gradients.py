"""The LSTM op's gradients and masking invariants.

Oracles (DESIGN.md): 3. central finite differences in float64 for gradients w.r.t. x, kernel,
recurrent_kernel, bias and the initial state [h0, c0]; 4. invariants: a masked step equals a
dropped step, a fully masked row keeps its initial state, zero_output_for_mask only zeroes the
masked outputs.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from unrolled.ops.rnn import lstm

B, T, D, U = 2, 4, 3, 2
# row 0: a hole inside the sequence; row 1: left padding, a valid middle, right padding
HOLE_MASK = np.array([[True, False, True, True], [False, True, True, False]])

OP_CONFIGS = {
    "forward": {},
    "go_backwards": {"go_backwards": True},
    "zero_output": {"zero_output_for_mask": True},
}


def random_params(rng, dtype):
    """x and every differentiable argument of lstm, as a dict of NumPy arrays."""
    shapes = {
        "x": (B, T, D),
        "kernel": (D, 4 * U),
        "recurrent_kernel": (U, 4 * U),
        "bias": (4 * U,),
        "h0": (B, U),
        "c0": (B, U),
    }
    return {name: rng.normal(0.0, 0.7, shape).astype(dtype) for name, shape in shapes.items()}


def run_lstm(params, mask, **config):
    return lstm(
        params["x"],
        params["kernel"],
        params["recurrent_kernel"],
        params["bias"],
        mask=mask,
        initial_state=[params["h0"], params["c0"]],
        **config,
    )


@pytest.mark.parametrize("config", OP_CONFIGS.values(), ids=OP_CONFIGS.keys())
def test_lstm_gradients_match_finite_differences(x64, rng, config):
    """Oracle: central differences, float64, step 1e-6; rtol 1e-6, atol 1e-8.

    The scalar reads every output of the op (last_output, the sequence, h and c) through fixed
    random weights, so every gradient path is exercised.
    """
    params = {k: jnp.asarray(v) for k, v in random_params(rng, "float64").items()}
    mask = jnp.asarray(HOLE_MASK)
    probes = [rng.normal(size=shape) for shape in [(B, U), (B, T, U), (B, U), (B, U)]]

    def scalar(p):
        last, outputs, (h, c) = run_lstm(p, mask, **config)
        return sum(jnp.sum(a * w) for a, w in zip((last, outputs, h, c), probes, strict=True))

    _, outputs, _ = run_lstm(params, mask, **config)
    assert outputs.dtype == jnp.float64  # the check below is only meaningful in float64
    grads = jax.grad(scalar)(params)
    value = jax.jit(scalar)
    eps = 1e-6
    for name, array in params.items():
        flat = np.asarray(array).ravel()
        numeric = np.empty_like(flat)
        for i in range(flat.size):
            plus, minus = flat.copy(), flat.copy()
            plus[i] += eps
            minus[i] -= eps
            f_plus = value({**params, name: jnp.asarray(plus.reshape(array.shape))})
            f_minus = value({**params, name: jnp.asarray(minus.reshape(array.shape))})
            numeric[i] = (f_plus - f_minus) / (2 * eps)
        np.testing.assert_allclose(
            np.asarray(grads[name]).ravel(), numeric, rtol=1e-6, atol=1e-8, err_msg=name
        )
    # masked steps do not touch the state: no gradient flows into their inputs
    np.testing.assert_array_equal(np.asarray(grads["x"])[~HOLE_MASK], 0.0)


INVARIANT_MASK = np.array(
    [
        [True, True, True, True, True, True],  # no padding
        [True, False, True, False, False, True],  # holes
        [False, False, True, True, True, True],  # left padding
        [True, True, True, False, False, False],  # right padding
        [False, False, False, False, False, False],  # fully masked
    ]
)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_masked_steps_equal_dropped_steps(rng, x64, assert_rounding_close, go_backwards):
    """Invariant: a row with masked steps ends in the state of the same row with them removed.

    Float64, tolerance conftest's `rounding_bound` for T steps of (D + 5U)-term sums: the batched
    and the one-row run may block their matmuls differently. A fully masked row keeps its
    initial state exactly. Forward, the emitted sequence at the valid steps equals the dropped
    run's sequence.
    """
    batch, steps = INVARIANT_MASK.shape
    x = rng.normal(size=(batch, steps, D))
    kernel = rng.normal(0.0, 0.7, (D, 4 * U))
    recurrent = rng.normal(0.0, 0.7, (U, 4 * U))
    bias = rng.normal(0.0, 0.7, (4 * U,))
    h0 = rng.normal(size=(batch, U))
    c0 = rng.normal(size=(batch, U))
    n_terms, factors = steps * (D + 5 * U), [x, kernel, recurrent, bias, h0, c0]
    last, outputs, (h, c) = lstm(
        jnp.asarray(x),
        kernel,
        recurrent,
        bias,
        mask=jnp.asarray(INVARIANT_MASK),
        initial_state=[h0, c0],
        go_backwards=go_backwards,
    )
    for row in range(batch):
        valid = INVARIANT_MASK[row]
        if not valid.any():
            np.testing.assert_array_equal(np.asarray(h[row]), h0[row])
            np.testing.assert_array_equal(np.asarray(c[row]), c0[row])
            np.testing.assert_array_equal(np.asarray(last[row]), h0[row])
            continue
        kept = x[row : row + 1, valid]
        d_last, d_outputs, (d_h, d_c) = lstm(
            jnp.asarray(kept),
            kernel,
            recurrent,
            bias,
            initial_state=[h0[row : row + 1], c0[row : row + 1]],
            go_backwards=go_backwards,
        )
        for got, expected, name in [(h, d_h, "h"), (c, d_c, "c"), (last, d_last, "last")]:
            assert_rounding_close(got[row], expected[0], n_terms, factors, err_msg=name)
        if not go_backwards:
            assert_rounding_close(outputs[row, valid], d_outputs[0], n_terms, factors)


def test_zero_output_for_mask_only_zeroes_masked_steps(rng, x64, assert_rounding_close):
    """Invariant: zero_output_for_mask=True gives zeros at masked steps (exact), and the same
    outputs at valid steps and the same final state as the default (float64, conftest's
    `rounding_bound` for T steps of (D + 5U)-term sums)."""
    x = rng.normal(size=(*INVARIANT_MASK.shape, D))
    weights = [rng.normal(0.0, 0.7, shape) for shape in [(D, 4 * U), (U, 4 * U), (4 * U,)]]
    n_terms, factors = INVARIANT_MASK.shape[1] * (D + 5 * U), [x, *weights]
    mask = jnp.asarray(INVARIANT_MASK)
    _, plain, plain_state = lstm(jnp.asarray(x), *weights, mask=mask)
    _, zeroed, zeroed_state = lstm(jnp.asarray(x), *weights, mask=mask, zero_output_for_mask=True)
    plain, zeroed = np.asarray(plain), np.asarray(zeroed)
    np.testing.assert_array_equal(zeroed[~INVARIANT_MASK], 0.0)
    assert_rounding_close(zeroed[INVARIANT_MASK], plain[INVARIANT_MASK], n_terms, factors)
    for a, b in zip(plain_state, zeroed_state, strict=True):
        assert_rounding_close(a, b, n_terms, factors)
