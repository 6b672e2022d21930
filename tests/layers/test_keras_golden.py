"""Keras 3's own golden cases for the recurrent layers, computed live in Keras and in unrolled.

Oracle 1 (real Keras 3, JAX backend) plus the literal numbers that Keras's test files assert,
cited per case from ``keras/src/layers/rnn/<file>_test.py`` (Keras 3.15). Tolerance 1e-5.
"""

import numpy as np
import pytest

import unrolled

C = {"kernel_initializer": 0.01, "recurrent_initializer": 0.02, "bias_initializer": 0.03}
SEQ_72 = np.arange(72).reshape((3, 6, 4)).astype("float32")
SEQ_24 = np.arange(24).reshape((2, 3, 4)).astype("float32")
SEQ_24B = np.arange(24).reshape((2, 4, 3)).astype("float32")
INIT_2 = np.arange(4).reshape((2, 2)).astype("float32")
MASK = np.array([[True, True, False, True], [True, False, False, True]])

# (file::test, layer class, kwargs, sequence, call kwargs, calls before checking, expected)
CASES = [
    ("gru::test_correctness", "GRU", {"units": 3}, SEQ_72, {}, 1,
     [[0.5217289] * 3, [0.6371659] * 3, [0.39384964] * 3]),
    ("gru::test_correctness[impl1]", "GRU", {"units": 3, "implementation": 1}, SEQ_72, {}, 1,
     [[0.5217289] * 3, [0.6371659] * 3, [0.39384964] * 3]),
    ("gru::test_statefulness", "GRU", {"units": 4, "stateful": True}, SEQ_24, {}, 2,
     [[0.29542392] * 4, [0.5885018] * 4]),
    ("gru::test_pass_initial_state", "GRU", {"units": 2}, SEQ_24B,
     {"initial_state": INIT_2}, 1, [[0.23774096, 0.33508456], [0.83659905, 1.0227708]]),
    ("gru::test_pass_initial_state[backwards]", "GRU", {"units": 2, "go_backwards": True},
     SEQ_24B, {"initial_state": INIT_2}, 1,
     [[0.13486053, 0.23261218], [0.78257304, 0.9691353]]),
    ("gru::test_masking[unroll]", "GRU", {"units": 2, "unroll": True}, SEQ_24B,
     {"mask": MASK}, 1, [[0.19393763] * 2, [0.30818558] * 2]),
    ("lstm::test_correctness", "LSTM", {"units": 3}, SEQ_72, {}, 1,
     [[0.6288687] * 3, [0.86899155] * 3, [0.9460773] * 3]),
    ("lstm::test_correctness[backwards]", "LSTM", {"units": 3, "go_backwards": True}, SEQ_72,
     {}, 1, [[0.35622165] * 3, [0.74789524] * 3, [0.8872726] * 3]),
    ("lstm::test_correctness[unroll]", "LSTM", {"units": 3, "unroll": True}, SEQ_72, {}, 1,
     [[0.6288687] * 3, [0.86899155] * 3, [0.9460773] * 3]),
    ("lstm::test_correctness[no_forget_bias]", "LSTM", {"units": 3, "unit_forget_bias": False},
     SEQ_72, {}, 1, [[0.57019705] * 3, [0.8661914] * 3, [0.9459622] * 3]),
    ("lstm::test_correctness[no_bias]", "LSTM", {"units": 3, "use_bias": False}, SEQ_72, {}, 1,
     [[0.54986924] * 3, [0.86226785] * 3, [0.9443936] * 3]),
    ("lstm::test_statefulness", "LSTM", {"units": 4, "stateful": True}, SEQ_24, {}, 2,
     [[0.3124785] * 4, [0.6863672] * 4]),
    ("simple_rnn::test_correctness", "SimpleRNN", {"units": 4}, SEQ_24, {}, 1,
     [[0.405432] * 4, [0.73605347] * 4]),
    ("simple_rnn::test_correctness[unroll]", "SimpleRNN", {"units": 4, "unroll": True}, SEQ_24,
     {}, 1, [[0.405432] * 4, [0.73605347] * 4]),
    ("simple_rnn::test_correctness[backwards]", "SimpleRNN", {"units": 4, "go_backwards": True},
     SEQ_24, {}, 1, [[0.11144729] * 4, [0.5528889] * 4]),
    ("simple_rnn::test_correctness[backwards,unroll]", "SimpleRNN",
     {"units": 4, "go_backwards": True, "unroll": True}, SEQ_24, {}, 1,
     [[0.11144729] * 4, [0.5528889] * 4]),
]


def _make(lib, name, kwargs):
    inits = {k: lib.initializers.Constant(v) for k, v in C.items()}
    return getattr(lib.layers, name)(**kwargs, **inits)


def _run(layer, seq, call_kwargs, calls, reset):
    for _ in range(calls):
        out = layer(seq, **call_kwargs)
    if reset:
        layer.reset_state()
        for _ in range(calls):
            out = layer(seq, **call_kwargs)
    return np.asarray(out)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_golden_case(keras, case):
    _, name, kwargs, seq, call_kwargs, calls, expected = case
    reset = kwargs.get("stateful", False)
    got = _run(_make(unrolled, name, kwargs), seq, call_kwargs, calls, reset)
    oracle = _run(_make(keras, name, kwargs), seq, call_kwargs, calls, reset)
    np.testing.assert_allclose(oracle, expected, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(got, oracle, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("merge_mode, expected", [
    ("concat", [[0.39687276, 0.39687276, 0.10004295, 0.10004295],
                [0.7237238, 0.7237238, 0.53391594, 0.53391594]]),
    ("ave", [[0.24845785, 0.24845785], [0.6288199, 0.6288199]]),
    (None, [[[0.39687276, 0.39687276], [0.7237238, 0.7237238]],
            [[0.10004295, 0.10004295], [0.53391594, 0.53391594]]]),
])
def test_bidirectional_correctness(keras, merge_mode, expected):
    """bidirectional_test.py::test_correctness."""
    outs = []
    for lib in (unrolled, keras):
        inner = _make(lib, "SimpleRNN", {"units": 2})
        out = lib.layers.Bidirectional(inner, merge_mode=merge_mode)(SEQ_24)
        outs.append(np.asarray(out) if merge_mode else np.stack([np.asarray(o) for o in out]))
    np.testing.assert_allclose(outs[1], expected, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5, rtol=1e-5)


class OneStateCell(unrolled.layers.Layer):
    """rnn_test.py's OneStateRNNCell written against unrolled's Layer (a user-defined cell)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), "ones")
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, self.units),
                                                "ones")
        self.built = True

    def call(self, inputs, states):
        output = inputs @ self.kernel.value + states[0] @ self.recurrent_kernel.value
        return output, [output]


def test_stacked_single_state_cells():
    """stacked_rnn_cells_test.py::test_correctness_single_state_stack (literal numbers)."""
    seq = SEQ_24
    layer = unrolled.layers.RNN([OneStateCell(3), OneStateCell(2)], return_state=True)
    output, state_1, state_2 = layer(seq)
    np.testing.assert_allclose(output, [[786.0, 786.0], [4386.0, 4386.0]], rtol=1e-6)
    np.testing.assert_allclose(state_1[0], [[158.0] * 3, [782.0] * 3], rtol=1e-6)
    np.testing.assert_allclose(state_2[0], output, rtol=1e-6)
    seqs = unrolled.layers.RNN([OneStateCell(3), OneStateCell(2)], return_sequences=True)(seq)
    np.testing.assert_allclose(seqs, [[[18.0] * 2, [156.0] * 2, [786.0] * 2],
                                      [[162.0] * 2, [1020.0] * 2, [4386.0] * 2]], rtol=1e-6)
