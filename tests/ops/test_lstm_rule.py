"""The one LSTM rule of ops.rnn: which path runs, and what every path can also return.

Oracles (DESIGN.md): 4. invariants: asking for the state sequences changes no output bit; the
states of every path agree with the generic scan's (float32, atol 1e-6); the gate-returning
step applied to every step at once from the carried states equals the scan (step-by-step
equals scan, atol 1e-6).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from unrolled.ops import gru, rnn, simple_rnn

MASK = np.array([[True, True, True, True, True, True],
                 [True, False, True, False, False, True],
                 [False, False, True, True, True, True],
                 [False, False, False, False, False, False]])
B, T = MASK.shape
D, U = 3, 4


@pytest.mark.parametrize("act, rec_act, kwargs, path", [
    (jnp.tanh, jax.nn.sigmoid, {"masked": False, "batch": 4}, "recurrence"),
    (jnp.tanh, jax.nn.sigmoid, {"masked": True, "batch": 4}, "sorted"),
    (jnp.tanh, jax.nn.sigmoid, {"masked": True, "batch": 0}, "recurrence"),
    (jax.nn.relu, jax.nn.sigmoid, {"masked": True, "batch": 4}, "scan"),
    (jnp.tanh, jax.nn.hard_sigmoid, {"masked": False, "batch": 4}, "scan"),
    (jnp.tanh, jax.nn.sigmoid, {"masked": True, "batch": 4, "dropout": True}, "scan"),
    (jnp.tanh, jax.nn.sigmoid, {"masked": False, "batch": 4, "offsets": True}, "scan"),
])
def test_lstm_path(act, rec_act, kwargs, path):
    assert rnn.lstm_path(act, rec_act, **kwargs) == path


def weights(rng):
    return [rng.normal(0.0, 0.7, s).astype("float32") for s in [(D, 4 * U), (U, 4 * U), (4 * U,)]]


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_return_states_on_every_path(rng, masked, go_backwards, activation):
    x = rng.normal(size=(B, T, D)).astype("float32")
    w = weights(rng)
    kw = {"mask": jnp.asarray(MASK) if masked else None, "go_backwards": go_backwards,
          "activation": activation}
    plain = rnn.lstm(x, *w, **kw)
    last, outputs, (h, c), (hs, cs) = rnn.lstm(x, *w, **kw, return_states=True)
    for a, b in zip([plain[0], plain[1], *plain[2]], [last, outputs, h, c], strict=True):
        np.testing.assert_array_equal(a, b)  # the same path, the same bits
    np.testing.assert_array_equal(hs, outputs)  # carried h = emitted output
    np.testing.assert_array_equal(cs[:, -1], c)  # processing order: the last is c_T
    zeros = [jnp.zeros((B, T, U))] * 2  # offsets of zero force the generic scan
    *_, (ref_h, ref_c) = rnn.lstm(x, *w, **kw, state_offsets=zeros, return_states=True)
    np.testing.assert_allclose(hs, ref_h, atol=1e-6)
    np.testing.assert_allclose(cs, ref_c, atol=1e-6)


def test_lstm_step_on_every_step_at_once_equals_the_scan(rng):
    """Gates from (x_t, h_{t-1}, c_{t-1}) over the whole (B, T) grid rebuild the states."""
    x = rng.normal(size=(B, T, D)).astype("float32")
    kernel, rec, bias = weights(rng)
    *_, (hs, cs) = rnn.lstm(x, kernel, rec, bias, mask=jnp.asarray(MASK), return_states=True)
    zero = jnp.zeros((B, 1, U))
    h_prev = jnp.concatenate([zero, hs[:, :-1]], axis=1)  # (B, T, u)
    c_prev = jnp.concatenate([zero, cs[:, :-1]], axis=1)  # (B, T, u)
    h, c, gates = rnn.lstm_step(x @ kernel + bias, h_prev, c_prev, rec, return_gates=True)
    np.testing.assert_allclose(np.asarray(h)[MASK], np.asarray(hs)[MASK], atol=1e-6)
    np.testing.assert_allclose(np.asarray(c)[MASK], np.asarray(cs)[MASK], atol=1e-6)
    i, f, g, o = gates.activations
    np.testing.assert_allclose(c, f * c_prev + i * g, atol=1e-6)
    for pre, act, fn in zip(gates.pre_activations, gates.activations,
                            [jax.nn.sigmoid, jax.nn.sigmoid, jnp.tanh, jax.nn.sigmoid],
                            strict=True):
        np.testing.assert_array_equal(act, fn(pre))
    recurrent = np.concatenate(gates.recurrent, axis=-1)
    np.testing.assert_allclose(recurrent, h_prev @ rec, atol=1e-6)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_and_simple_rnn_steps_return_what_they_compute(rng, reset_after):
    """return_gates changes nothing in h; h = z h_prev + (1 - z) hh; SimpleRNN's block is h."""
    h = rng.normal(size=(B, U)).astype("float32")
    x = rng.normal(size=(B, 3 * U)).astype("float32")
    rk = rng.normal(size=(U, 3 * U)).astype("float32")
    rb = rng.normal(size=(3 * U,)).astype("float32") if reset_after else None
    plain = gru.gru_step(x, h, rk, rb, reset_after=reset_after)
    h_new, gates = gru.gru_step(x, h, rk, rb, reset_after=reset_after, return_gates=True)
    np.testing.assert_array_equal(plain, h_new)
    z, _, hh = gates.activations
    np.testing.assert_allclose(h_new, z * h + (1 - z) * hh, atol=1e-6)
    np.testing.assert_array_equal(hh, jnp.tanh(gates.pre_activations[2]))
    srk = rk[:, :U]
    h_s, s_gates = simple_rnn.simple_rnn_step(x[:, :U], h, srk, return_gates=True)
    np.testing.assert_array_equal(h_s, simple_rnn.simple_rnn_step(x[:, :U], h, srk))
    np.testing.assert_array_equal(s_gates.activations[0], h_s)
    np.testing.assert_array_equal(s_gates.recurrent[0], h @ srk)


def test_time_major_mask():
    keep = rnn.time_major_mask(MASK, reverse=True)
    assert keep.shape == (T, B, 1) and keep.dtype == jnp.bool_
    np.testing.assert_array_equal(keep[..., 0], MASK.T[::-1])
    assert rnn.time_major_mask(None) is None
