"""Keras 3's own golden cases for the recurrent layers, ported to unrolled's API.

Every case cites ``keras/src/layers/rnn/<file>_test.py::<test>`` (Keras 3.15) and asserts the
literal numbers that Keras test asserts (oracle 1: the numbers are Keras's; tolerance 1e-5 as
there). The built-in layer and Bidirectional cases also run the same code in real Keras 3 (JAX
backend) and require unrolled to match it. The user-defined cells are Keras's ``OneStateRNNCell``
and ``TwoStatesRNNCell`` written against ``unrolled.layers.Layer``; their live oracle is the very
classes Keras's tests use (``keras.src.layers.rnn.rnn_test``).
"""

import numpy as np
import pytest

import unrolled
from unrolled import layers

SEQ_72 = np.arange(72).reshape((3, 6, 4)).astype("float32")
SEQ_24 = np.arange(24).reshape((2, 3, 4)).astype("float32")
SEQ_24B = np.arange(24).reshape((2, 4, 3)).astype("float32")
INIT_2 = np.arange(4).reshape((2, 2)).astype("float32")
INIT_4 = np.arange(8).reshape((2, 4)).astype("float32")
HOLES = np.array([[True, True, False, True], [True, False, False, True]])
RIGHT = np.array([[True, True, True, False], [True, True, False, False]])
LEFT = np.array([[False, True, True, True], [False, False, True, True]])
TOL = {"atol": 1e-5, "rtol": 1e-5}


def rows(*values, n):
    """Keras's constant-initializer outputs: every unit of a row holds the same value."""
    return [[v] * n for v in values]


def seqs(*per_sample, n):
    """``return_sequences`` outputs, one list of per-step values per sample."""
    return [rows(*steps, n=n) for steps in per_sample]


LSTM_MASK_SEQ = seqs([0.0158891, 0.05552048, 0.11755939, 0.11755939],
                     [0.14185596, 0.28556206, 0.28556206, 0.28556206], n=2)
GRU_MASK_SEQ = seqs([0.03606692, 0.09497581, 0.09497581, 0.19393763],
                    [0.16051409, 0.16051409, 0.16051409, 0.30818558], n=2)
RNN_MASK_SEQ = seqs([0.0599281, 0.15122814, 0.15122814, 0.32394567],
                    [0.3969304, 0.3969304, 0.3969304, 0.608085], n=2)
GRU_INIT_OUT = [[0.23774096, 0.33508456], [0.83659905, 1.0227708]]
GRU_INIT_BACK = [[0.13486053, 0.23261218], [0.78257304, 0.9691353]]


def _zeroed(sequence, mask):
    return (np.asarray(sequence) * np.asarray(mask)[..., None]).tolist()


# (id "file::test[variant]", class, layer kwargs, inputs, call kwargs, expected)
# A stateful case is called twice, checked, reset_state(), called twice and checked again.
CASES = [
    *[(f"lstm::test_correctness[impl{impl}]{tag}", "LSTM", {"units": 3, "implementation": impl,
                                                           **kw}, SEQ_72, {}, rows(*v, n=3))
      for impl in (1, 2) for tag, kw, v in [
          ("", {}, (0.6288687, 0.86899155, 0.9460773)),
          ("[go_backwards]", {"go_backwards": True}, (0.35622165, 0.74789524, 0.8872726)),
          ("[unroll]", {"unroll": True}, (0.6288687, 0.86899155, 0.9460773)),
          ("[unit_forget_bias=False]", {"unit_forget_bias": False},
           (0.57019705, 0.8661914, 0.9459622)),
          ("[use_bias=False]", {"use_bias": False}, (0.54986924, 0.86226785, 0.9443936)),
      ]],
    ("lstm::test_statefulness", "LSTM", {"units": 4, "stateful": True}, SEQ_24, {},
     rows(0.3124785, 0.6863672, n=4)),
    ("lstm::test_pass_initial_state", "LSTM", {"units": 2}, SEQ_24B,
     {"initial_state": [INIT_2, INIT_2]}, [[0.20574439, 0.3558822], [0.64930826, 0.66276]]),
    ("lstm::test_pass_initial_state[go_backwards]", "LSTM", {"units": 2, "go_backwards": True},
     SEQ_24B, {"initial_state": [INIT_2, INIT_2]},
     [[0.13281618, 0.2790356], [0.5839337, 0.5992567]]),
    ("lstm::test_masking[unroll]", "LSTM", {"units": 2, "unroll": True}, SEQ_24B,
     {"mask": RIGHT}, rows(0.11755939, 0.28556206, n=2)),
    ("lstm::test_masking[return_sequences]", "LSTM", {"units": 2, "return_sequences": True},
     SEQ_24B, {"mask": RIGHT}, LSTM_MASK_SEQ),
    ("lstm::test_masking[zero_output_for_mask]", "LSTM",
     {"units": 2, "return_sequences": True, "zero_output_for_mask": True}, SEQ_24B,
     {"mask": RIGHT}, _zeroed(LSTM_MASK_SEQ, RIGHT)),
    ("lstm::test_masking[go_backwards]", "LSTM", {"units": 2, "go_backwards": True}, SEQ_24B,
     {"mask": LEFT}, rows(0.15341201, 0.3844719, n=2)),
    *[(f"gru::test_correctness{tag}", "GRU", {"units": 3, **kw}, SEQ_72, {}, rows(*v, n=3))
      for tag, kw, v in [
          ("", {}, (0.5217289, 0.6371659, 0.39384964)),
          ("[implementation=1]", {"implementation": 1}, (0.5217289, 0.6371659, 0.39384964)),
          ("[go_backwards]", {"go_backwards": True}, (0.24406259, 0.611516, 0.3928808)),
          ("[unroll]", {"unroll": True}, (0.5217289, 0.6371659, 0.39384964)),
          ("[reset_after=False]", {"reset_after": False}, (0.51447755, 0.6426879, 0.40208298)),
          ("[use_bias=False]", {"use_bias": False}, (0.49988455, 0.64701194, 0.4103359)),
      ]],
    ("gru::test_statefulness", "GRU", {"units": 4, "stateful": True}, SEQ_24, {},
     rows(0.29542392, 0.5885018, n=4)),
    ("gru::test_pass_initial_state", "GRU", {"units": 2}, SEQ_24B, {"initial_state": INIT_2},
     GRU_INIT_OUT),
    ("gru::test_pass_initial_state[go_backwards]", "GRU", {"units": 2, "go_backwards": True},
     SEQ_24B, {"initial_state": INIT_2}, GRU_INIT_BACK),
    ("gru::test_pass_return_state", "GRU", {"units": 2, "return_state": True}, SEQ_24B,
     {"initial_state": INIT_2}, [GRU_INIT_OUT, GRU_INIT_OUT]),
    ("gru::test_pass_return_state[go_backwards]", "GRU",
     {"units": 2, "return_state": True, "go_backwards": True}, SEQ_24B,
     {"initial_state": INIT_2}, [GRU_INIT_BACK, GRU_INIT_BACK]),
    ("gru::test_masking[unroll]", "GRU", {"units": 2, "unroll": True}, SEQ_24B,
     {"mask": HOLES}, rows(0.19393763, 0.30818558, n=2)),
    ("gru::test_masking[return_sequences]", "GRU", {"units": 2, "return_sequences": True},
     SEQ_24B, {"mask": HOLES}, GRU_MASK_SEQ),
    ("gru::test_masking[zero_output_for_mask]", "GRU",
     {"units": 2, "return_sequences": True, "zero_output_for_mask": True}, SEQ_24B,
     {"mask": HOLES}, _zeroed(GRU_MASK_SEQ, HOLES)),
    ("gru::test_masking[go_backwards]", "GRU", {"units": 2, "go_backwards": True}, SEQ_24B,
     {"mask": HOLES}, rows(0.11669192, 0.28380975, n=2)),
    *[(f"simple_rnn::test_correctness{tag}", "SimpleRNN", {"units": 4, **kw}, SEQ_24, {},
       rows(*v, n=4)) for tag, kw, v in [
          ("", {}, (0.405432, 0.73605347)),
          ("[unroll]", {"unroll": True}, (0.405432, 0.73605347)),
          ("[go_backwards]", {"go_backwards": True}, (0.11144729, 0.5528889)),
          ("[go_backwards,unroll]", {"go_backwards": True, "unroll": True},
           (0.11144729, 0.5528889)),
      ]],
    ("simple_rnn::test_statefulness", "SimpleRNN", {"units": 4, "stateful": True}, SEQ_24, {},
     rows(0.40559256, 0.7361247, n=4)),
    ("simple_rnn::test_pass_initial_state", "SimpleRNN", {"units": 4}, SEQ_24B,
     {"initial_state": INIT_4}, rows(0.33621645, 0.6262637, n=4)),
    ("simple_rnn::test_pass_initial_state[go_backwards]", "SimpleRNN",
     {"units": 4, "go_backwards": True}, SEQ_24B, {"initial_state": INIT_4},
     rows(0.07344437, 0.43043602, n=4)),
    ("simple_rnn::test_masking[unroll]", "SimpleRNN", {"units": 4, "unroll": True}, SEQ_24B,
     {"mask": HOLES}, rows(0.32951632, 0.61799484, n=4)),
    ("simple_rnn::test_masking[return_sequences]", "SimpleRNN",
     {"units": 2, "return_sequences": True}, SEQ_24B, {"mask": HOLES}, RNN_MASK_SEQ),
    ("simple_rnn::test_masking[zero_output_for_mask]", "SimpleRNN",
     {"units": 2, "return_sequences": True, "zero_output_for_mask": True}, SEQ_24B,
     {"mask": HOLES}, _zeroed(RNN_MASK_SEQ, HOLES)),
    ("simple_rnn::test_masking[go_backwards]", "SimpleRNN", {"units": 4, "go_backwards": True},
     SEQ_24B, {"mask": HOLES}, rows(0.07376196, 0.43645123, n=4)),
]


def const(lib, kernel=0.01, recurrent=0.02, bias=0.03):
    """The constant initializers every Keras golden case uses."""
    return {"kernel_initializer": lib.initializers.Constant(kernel),
            "recurrent_initializer": lib.initializers.Constant(recurrent),
            "bias_initializer": lib.initializers.Constant(bias)}


def _numpy(out):
    if isinstance(out, (list, tuple)):
        return [_numpy(o) for o in out]
    return np.asarray(out)


def assert_close(got, expected):
    """Compare an array, or a list of them (``return_state``), with Keras's 1e-5 tolerance."""
    if isinstance(got, (list, tuple)):
        assert len(got) == len(expected), (len(got), len(expected))
        for g, e in zip(got, expected, strict=True):
            assert_close(g, e)
        return
    np.testing.assert_allclose(got, np.asarray(expected, "float32"), **TOL)


def _run(layer, seq, call_kwargs, stateful):
    out = layer(seq, **call_kwargs)
    if stateful:
        out = layer(seq, **call_kwargs)
        first = _numpy(out)
        layer.reset_state()
        layer(seq, **call_kwargs)
        return first, _numpy(layer(seq, **call_kwargs))
    return _numpy(out)


# Also recomputed live in Keras (one variant per Keras test; the literals cover the rest).
LIVE = {
    "lstm::test_correctness[impl2]", "lstm::test_statefulness",
    "lstm::test_pass_initial_state[go_backwards]", "lstm::test_masking[zero_output_for_mask]",
    "gru::test_correctness[reset_after=False]", "gru::test_pass_return_state",
    "gru::test_masking[return_sequences]", "simple_rnn::test_pass_initial_state",
    "simple_rnn::test_masking[go_backwards]",
}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_builtin_layer_case(keras, case):
    """lstm_test.py, gru_test.py, simple_rnn_test.py: the literal numbers (and live Keras)."""
    case_id, name, kwargs, seq, call_kwargs, expected = case
    stateful = kwargs.get("stateful", False)
    got = _run(getattr(layers, name)(**kwargs, **const(unrolled)), seq, call_kwargs, stateful)
    oracle = (None, None) if stateful else None
    if case_id in LIVE:
        oracle = _run(getattr(keras.layers, name)(**kwargs, **const(keras)), seq, call_kwargs,
                      stateful)
    for g, o in zip(*((got, oracle) if stateful else ([got], [oracle])), strict=True):
        assert_close(g, expected)
        if o is not None:
            assert_close(o, expected)


def _bidi(lib, name, kwargs, merge_mode="concat", backward=None):
    inner = getattr(lib.layers, name)(**kwargs, **const(lib))
    back = None
    if backward is not None:
        back = getattr(lib.layers, name)(**kwargs, go_backwards=True, **const(lib, *backward))
    return lib.layers.Bidirectional(inner, merge_mode=merge_mode, backward_layer=back)


# (id, inner class, inner kwargs, merge_mode, backward initializer constants, call kwargs, expected)
BIDI_CASES = [
    ("concat", "SimpleRNN", {"units": 2}, "concat", None, {},
     [[0.39687276, 0.39687276, 0.10004295, 0.10004295],
      [0.7237238, 0.7237238, 0.53391594, 0.53391594]]),
    ("ave", "SimpleRNN", {"units": 2}, "ave", None, {}, rows(0.24845785, 0.6288199, n=2)),
    ("none", "SimpleRNN", {"units": 2}, None, None, {},
     [rows(0.39687276, 0.7237238, n=2), rows(0.10004295, 0.53391594, n=2)]),
    ("mul_backward_layer", "SimpleRNN", {"units": 2}, "mul", (0.03, 0.02, 0.01), {},
     rows(0.08374989, 0.6740834, n=2)),
    ("gru_sum_sequences", "GRU", {"units": 2, "return_sequences": True}, "sum", None, {},
     seqs([0.20937867, 0.34462988, 0.40290534], [0.59829646, 0.6734641, 0.6479671], n=2)),
]


@pytest.mark.parametrize("case", BIDI_CASES, ids=[c[0] for c in BIDI_CASES])
def test_bidirectional_correctness(keras, case):
    """bidirectional_test.py::test_correctness (every merge mode it checks)."""
    _, name, kwargs, merge_mode, backward, call_kwargs, expected = case
    got = _numpy(_bidi(unrolled, name, kwargs, merge_mode, backward)(SEQ_24, **call_kwargs))
    oracle = _numpy(_bidi(keras, name, kwargs, merge_mode, backward)(SEQ_24, **call_kwargs))
    assert_close(oracle, expected)
    assert_close(got, oracle)


STATES_4 = [INIT_2 * k for k in (1, 2, 3, 4)]
BIDI_SEQ_CASES = [
    ("test_statefulness", "LSTM", {"stateful": True}, {},
     [[0.26234663, 0.26234663, 0.16959146, 0.16959146],
      [0.6137073, 0.6137073, 0.5381646, 0.5381646]]),
    ("test_pass_initial_state", "LSTM", {}, {"initial_state": STATES_4},
     [[0.20794602, 0.4577124, 0.14046375, 0.48191673],
      [0.6682636, 0.6711909, 0.60943645, 0.60950446]]),
    ("test_masking", "GRU", {}, {"mask": HOLES},
     [[0.19393763, 0.19393763, 0.11669192, 0.11669192],
      [0.30818558, 0.30818558, 0.28380975, 0.28380975]]),
    ("test_return_state", "LSTM", {"return_state": True}, {},
     [[[0.1990008, 0.1990008, 0.12659755, 0.12659755],
       [0.52335435, 0.52335435, 0.44717982, 0.44717982]],
      rows(0.1990008, 0.52335435, n=2), rows(0.35567185, 1.0492687, n=2),
      rows(0.12659755, 0.44717982, n=2), rows(0.2501858, 0.941473, n=2)]),
]


@pytest.mark.parametrize("case", BIDI_SEQ_CASES, ids=[c[0] for c in BIDI_SEQ_CASES])
def test_bidirectional_case(keras, case):
    """bidirectional_test.py: statefulness (with reset_state), initial state, masking, states."""
    _, name, kwargs, call_kwargs, expected = case
    stateful = kwargs.get("stateful", False)
    got = _run(_bidi(unrolled, name, {"units": 2, **kwargs}), SEQ_24B, call_kwargs, stateful)
    oracle = _run(_bidi(keras, name, {"units": 2, **kwargs}), SEQ_24B, call_kwargs, stateful)
    for g, o in zip(*((got, oracle) if stateful else ([got], [oracle])), strict=True):
        assert_close(o, expected)
        assert_close(g, o)


@pytest.mark.parametrize("merge_mode", ["ave", "concat", "mul", "sum", None])
@pytest.mark.parametrize("return_state", [True, False])
def test_bidirectional_output_shape(merge_mode, return_state):
    """bidirectional_test.py::test_output_shape: compute_output_shape agrees with the call."""
    x = np.array([[[101, 202], [303, 404]]])
    layer = layers.Bidirectional(layers.LSTM(2, return_state=return_state),
                                 merge_mode=merge_mode)
    output = layer(x)
    shape = layer.compute_output_shape(x.shape)
    if not return_state and merge_mode is not None:
        output, shape = [output], [shape]
    expected_len = 2 + (4 if return_state else 0) if merge_mode is None else (
        5 if return_state else 1)
    assert len(output) == len(shape) == expected_len
    for out, s in zip(output, shape, strict=True):
        assert out.shape == tuple(s)
        assert np.all(np.isfinite(out))


@pytest.mark.parametrize("name", ["GRU", "LSTM"])
@pytest.mark.parametrize("use_cudnn", [True, False, "auto"])
def test_bidirectional_keeps_use_cudnn(name, use_cudnn):
    """bidirectional_test.py::test_keeps_use_cudnn."""
    bidi = layers.Bidirectional(getattr(layers, name)(1, use_cudnn=use_cudnn))
    assert bidi.forward_layer.use_cudnn == use_cudnn
    assert bidi.backward_layer.use_cudnn == use_cudnn


def test_bidirectional_simple_rnn_has_no_use_cudnn():
    """bidirectional_test.py::test_keeps_use_cudnn (SimpleRNN part)."""
    bidi = layers.Bidirectional(layers.SimpleRNN(1))
    assert not hasattr(bidi.forward_layer, "use_cudnn")
    assert not hasattr(bidi.backward_layer, "use_cudnn")


class OneStateRNNCell(layers.Layer):
    """rnn_test.py's ``OneStateRNNCell`` written against unrolled's Layer (a user-defined cell)."""

    def __init__(self, units, state_size=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = state_size if state_size else units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones",
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                initializer="ones", name="recurrent_kernel")

    def call(self, inputs, states):
        output = inputs @ self.kernel.value + states[0] @ self.recurrent_kernel.value
        return output, [output]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "state_size": self.state_size}


class TwoStatesRNNCell(layers.Layer):
    """rnn_test.py's ``TwoStatesRNNCell`` (both outputs read ``states[0]``, as there)."""

    def __init__(self, units, state_size=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = state_size if state_size else [units, units]
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones",
                                      name="kernel")
        for name in ("recurrent_kernel_1", "recurrent_kernel_2"):
            setattr(self, name, self.add_weight(shape=(self.units, self.units),
                                                initializer="ones", name=name))

    def call(self, inputs, states):
        h = inputs @ self.kernel.value
        output_1 = h + states[0] @ self.recurrent_kernel_1.value
        output_2 = h + states[0] @ self.recurrent_kernel_2.value
        return output_1 + output_2, [output_1, output_2]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "state_size": self.state_size}


def _cells(lib, spec):
    """``("one", 3)`` -> one cell; a list of those -> a list of cells (a stack)."""
    if lib is unrolled:
        classes = {"one": OneStateRNNCell, "two": TwoStatesRNNCell}
    else:
        from keras.src.layers.rnn import rnn_test

        classes = {"one": rnn_test.OneStateRNNCell, "two": rnn_test.TwoStatesRNNCell}
    if isinstance(spec, list):
        return [_cells(lib, s) for s in spec]
    return classes[spec[0]](spec[1])


ONES_1 = np.ones((1, 2, 3), "float32")
ONES_2 = np.ones((2, 3, 2), "float32")
SINGLE_SEQ = seqs([18.0, 156.0, 786.0], [162.0, 1020.0, 4386.0], n=2)
SINGLE_LAST = rows(786.0, 4386.0, n=2)
SINGLE_STATE_1 = rows(158.0, 782.0, n=3)
MASKED_SEQ = seqs([3.0, 18.0, 57.0, 57.0], [39.0, 126.0, 126.0, 126.0], n=2)
ONE, TWO = ("one", 2), ("two", 2)
STACK_1, STACK_2 = [("one", 3), ("one", 2)], [("two", 3), ("two", 2)]
RS, RST = {"return_sequences": True}, {"return_state": True}
# (id, cells, RNN kwargs, inputs, call kwargs, calls, expected)
CELL_CASES = [
    ("rnn::test_forward_pass_single_state", ONE, {}, ONES_1, {}, 1, [[9.0, 9.0]]),
    ("rnn::test_forward_pass_single_state[seq]", ONE, RS, ONES_1, {}, 1, [[[3.0] * 2, [9.0] * 2]]),
    ("rnn::test_forward_pass_single_state[state]", ONE, RST, ONES_1, {}, 1,
     [[[9.0, 9.0]], [[9.0, 9.0]]]),
    ("rnn::test_forward_pass_single_state[seq,state]", ONE, {**RS, **RST}, ONES_1, {}, 1,
     [[[[3.0] * 2, [9.0] * 2]], [[9.0, 9.0]]]),
    ("rnn::test_forward_pass_two_states", TWO, {}, ONES_1, {}, 1, [[18.0, 18.0]]),
    ("rnn::test_forward_pass_two_states[seq]", TWO, RS, ONES_1, {}, 1,
     [[[6.0] * 2, [18.0] * 2]]),
    ("rnn::test_forward_pass_two_states[state]", TWO, RST, ONES_1, {}, 1,
     [[[18.0] * 2], [[9.0] * 2], [[9.0] * 2]]),
    ("rnn::test_forward_pass_two_states[seq,state]", TWO, {**RS, **RST}, ONES_1, {}, 1,
     [[[[6.0] * 2, [18.0] * 2]], [[9.0] * 2], [[9.0] * 2]]),
    ("rnn::test_passing_initial_state_single_state", ONE, {}, ONES_2,
     {"initial_state": np.ones((2, 2), "float32")}, 1, rows(22.0, 22.0, n=2)),
    ("rnn::test_passing_initial_state_single_state[state]", ONE, RST, ONES_2,
     {"initial_state": np.ones((2, 2), "float32")}, 1, [rows(22.0, 22.0, n=2)] * 2),
    ("rnn::test_passing_initial_state_two_states", TWO, {}, ONES_2,
     {"initial_state": [np.ones((2, 2), "float32")] * 2}, 1, rows(44.0, 44.0, n=2)),
    ("rnn::test_passing_initial_state_two_states[state]", TWO, RST, ONES_2,
     {"initial_state": [np.ones((2, 2), "float32")] * 2}, 1,
     [rows(44.0, 44.0, n=2), rows(22.0, 22.0, n=2), rows(22.0, 22.0, n=2)]),
    ("rnn::test_statefulness_single_state", ONE, {"stateful": True}, ONES_1, {}, 2,
     [[45.0, 45.0]]),
    ("rnn::test_statefulness_single_state[state]", ONE, {"stateful": True, **RST}, ONES_1, {},
     2, [[[45.0, 45.0]]] * 2),
    ("rnn::test_statefulness_two_states", TWO, {"stateful": True}, ONES_1, {}, 2,
     [[90.0, 90.0]]),
    ("rnn::test_statefulness_two_states[state]", TWO, {"stateful": True, **RST}, ONES_1, {}, 2,
     [[[90.0, 90.0]], [[45.0, 45.0]], [[45.0, 45.0]]]),
    ("rnn::test_go_backwards", ONE, {"go_backwards": True}, SEQ_24, {}, 2,
     rows(202.0, 538.0, n=2)),
    ("rnn::test_go_backwards[stateful]", ONE, {"stateful": True, **RST}, SEQ_24, {}, 2,
     [rows(954.0, 3978.0, n=2)] * 2),
    *[(f"rnn::test_masking[unroll={u},seq={bool(s)}]", ONE, {"unroll": u, **s}, SEQ_24B,
       {"mask": RIGHT}, 1, MASKED_SEQ if s else rows(57.0, 126.0, n=2))
      for u in (False, True) for s in ({}, RS)],
    ("stacked::test_correctness_single_state_stack", STACK_1, {}, SEQ_24, {}, 1, SINGLE_LAST),
    ("stacked::test_correctness_single_state_stack[seq]", STACK_1, RS, SEQ_24, {}, 1,
     SINGLE_SEQ),
    ("stacked::test_correctness_single_state_stack[state]", STACK_1, RST, SEQ_24, {}, 1,
     [SINGLE_LAST, SINGLE_STATE_1, SINGLE_LAST]),
    ("stacked::test_correctness_single_state_stack[seq,state]", STACK_1, {**RS, **RST}, SEQ_24,
     {}, 1, [SINGLE_SEQ, SINGLE_STATE_1, SINGLE_LAST]),
    ("stacked::test_correctness_two_states_stack", STACK_2, {}, SEQ_24, {}, 1,
     rows(3144.0, 17544.0, n=2)),
    ("stacked::test_correctness_two_states_stack[seq]", STACK_2, RS, SEQ_24, {}, 1,
     seqs([72.0, 624.0, 3144.0], [648.0, 4080.0, 17544.0], n=2)),
    ("stacked::test_correctness_two_states_stack[state]", STACK_2, RST, SEQ_24, {}, 1,
     [rows(3144.0, 17544.0, n=2), [SINGLE_STATE_1] * 2, [rows(1572.0, 8772.0, n=2)] * 2]),
    ("stacked::test_statefullness_single_state_stack", STACK_1, {"stateful": True}, SEQ_24, {},
     2, rows(34092.0, 173196.0, n=2)),
    ("stacked::test_statefullness_two_states_stack", STACK_2, {"stateful": True}, SEQ_24, {},
     2, rows(136368.0, 692784.0, n=2)),
]


# Also recomputed live in Keras with Keras's own cell classes (one variant per Keras test).
LIVE_CELLS = {
    "rnn::test_forward_pass_two_states[seq,state]",
    "rnn::test_passing_initial_state_two_states[state]",
    "rnn::test_statefulness_two_states[state]", "rnn::test_go_backwards",
    "rnn::test_masking[unroll=False,seq=True]",
    "stacked::test_correctness_single_state_stack[seq,state]",
    "stacked::test_correctness_two_states_stack[state]",
    "stacked::test_statefullness_two_states_stack",
}


@pytest.mark.parametrize("case", CELL_CASES, ids=[c[0] for c in CELL_CASES])
def test_user_cell_case(keras, case):
    """rnn_test.py and stacked_rnn_cells_test.py with their user-defined cells."""
    case_id, spec, kwargs, seq, call_kwargs, calls, expected = case
    for lib in (unrolled, keras) if case_id in LIVE_CELLS else (unrolled,):
        layer = lib.layers.RNN(_cells(lib, spec), **kwargs)
        for _ in range(calls):
            out = layer(seq, **call_kwargs)
        assert_close(_numpy(out), expected)


def _rnn_of(spec, **kwargs):
    return lambda lib: lib.layers.RNN(_cells(lib, spec), **kwargs)


def _builtin(name, *args, **kwargs):
    return lambda lib: getattr(lib.layers, name)(*args, **kwargs)


def _cell_stack(name, **kwargs):
    return lambda lib: lib.layers.RNN(
        [getattr(lib.layers, name)(u, dropout=0.1, recurrent_dropout=0.1) for u in (3, 4, 5)],
        **kwargs)


def _bidi_basic(merge_mode="concat", backward=False):
    return lambda lib: lib.layers.Bidirectional(
        lib.layers.SimpleRNN(4), merge_mode=merge_mode,
        backward_layer=lib.layers.SimpleRNN(4, go_backwards=True) if backward else None)


class _StateSized:
    """A cell spec with an explicit ``state_size`` argument (rnn_test.py::test_basics)."""

    def __init__(self, kind, state_size):
        self.kind, self.state_size = kind, state_size

    def __call__(self, lib):
        cell = _cells(lib, (self.kind, 5))
        cell.state_size = self.state_size
        return lib.layers.RNN(cell)


# (id, factory(lib) -> layer, training, expected output shape, trainable weights)
BASICS = [
    ("lstm::test_basics[dropout]", _builtin("LSTM", 3, dropout=0.5), True, (3, 3), 3),
    ("lstm::test_basics[recurrent_dropout]",
     _builtin("LSTM", 3, dropout=0.5, recurrent_dropout=0.5), True, (3, 3), 3),
    ("gru::test_basics[dropout]", _builtin("GRU", 3, dropout=0.5), True, (3, 3), 3),
    ("gru::test_basics[recurrent_dropout]",
     _builtin("GRU", 3, dropout=0.5, recurrent_dropout=0.5), True, (3, 3), 3),
    ("simple_rnn::test_basics", _builtin("SimpleRNN", 3, dropout=0.5, recurrent_dropout=0.5),
     True, (3, 3), 3),
    ("bidirectional::test_basics", _bidi_basic(), False, (3, 8), 6),
    ("bidirectional::test_basics[backward_layer,sum]", _bidi_basic("sum", True), False,
     (3, 4), 6),
    ("rnn::test_basics[state_size=5]", _StateSized("one", 5), False, (3, 5), 2),
    ("rnn::test_basics[state_size=[5]]", _StateSized("one", [5]), False, (3, 5), 2),
    ("rnn::test_basics[state_size=(5,)]", _StateSized("one", (5,)), False, (3, 5), 2),
    ("rnn::test_basics[seq]", _rnn_of(("one", 5), return_sequences=True), False, (3, 2, 5), 2),
    ("rnn::test_basics[go_backwards,unroll]", _rnn_of(("one", 5), go_backwards=True,
                                                      unroll=True), False, (3, 5), 2),
    ("rnn::test_basics[two,state_size=[5,5]]", _StateSized("two", [5, 5]), False, (3, 5), 3),
    ("rnn::test_basics[two,state_size=(5,5)]", _StateSized("two", (5, 5)), False, (3, 5), 3),
    ("rnn::test_basics[two,seq]", _rnn_of(("two", 5), return_sequences=True), False,
     (3, 2, 5), 3),
    ("stacked::test_basics[one]", _rnn_of([("one", 3), ("one", 4), ("one", 5)]), False,
     (3, 5), 6),
    ("stacked::test_basics[one,seq]", _rnn_of([("one", 3), ("one", 4), ("one", 5)],
                                              return_sequences=True), False, (3, 2, 5), 6),
    ("stacked::test_basics[two]", _rnn_of([("two", 3), ("two", 4), ("two", 5)]), False,
     (3, 5), 9),
    ("stacked::test_basics[two,seq]", _rnn_of([("two", 3), ("two", 4), ("two", 5)],
                                              return_sequences=True), False, (3, 2, 5), 9),
    *[(f"stacked::test_basics[{name}]", _cell_stack(name, return_sequences=True), True,
       (3, 2, 5), 9) for name in ("SimpleRNNCell", "GRUCell", "LSTMCell")],
]


@pytest.mark.parametrize("case", BASICS, ids=[c[0] for c in BASICS])
def test_basics(keras, keras_weights, case):
    """The ``test_basics`` run_layer_test expectations: output shape, weight counts, masking.

    Keras built the same way is the oracle for every weight's shape and the parameter count.
    """
    _, factory, training, shape, n_trainable = case
    x = np.random.default_rng(0).normal(size=(3, 2, 4)).astype("float32")
    ours, theirs = factory(unrolled), factory(keras)
    out = ours(x, training=training)
    theirs.build(x.shape)
    keras_shape = theirs.compute_output_shape(x.shape)
    assert out.shape == tuple(keras_shape) == shape
    assert np.all(np.isfinite(out))
    assert len(ours.trainable_weights) == len(theirs.trainable_weights) == n_trainable
    assert len(ours.non_trainable_weights) == len(theirs.non_trainable_weights) == 0
    assert ours.supports_masking and theirs.supports_masking
    assert [w.shape for w in ours.weights] == [w.shape for w in keras_weights(theirs)]
    assert ours.count_params() == theirs.count_params()


@pytest.mark.parametrize("kind", ["one", "two"])
@pytest.mark.parametrize("input_shape", [(3, 4, 5), (None, None, 3)], ids=["static", "dynamic"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("return_state", [False, True])
def test_rnn_compute_output_shape(kind, input_shape, return_sequences, return_state):
    """rnn_test.py::test_compute_output_shape_{single_state,two_states}, test_dynamic_shapes."""
    layer = layers.RNN(_cells(unrolled, (kind, 8)), return_sequences=return_sequences,
                       return_state=return_state)
    batch, time = input_shape[:2]
    out = (batch, time, 8) if return_sequences else (batch, 8)
    n_states = 1 if kind == "one" else 2
    expected = [out] + [(batch, 8)] * n_states if return_state else out
    shape = layer.compute_output_shape(input_shape)
    assert (list(shape) if return_state else shape) == expected
    if batch is not None:  # the shapes the call really returns
        got = layer(np.ones(input_shape, "float32"))
        got = got if return_state else [got]
        assert [g.shape for g in got] == (expected if return_state else [expected])


def test_stacked_lstm_cells_return_state_shapes():
    """stacked_rnn_cells_test.py::test_return_state_stacked_lstm_cell."""
    layer = layers.RNN([layers.LSTMCell(10), layers.LSTMCell(10)], return_state=True)
    out = layer(np.zeros((2, 3, 5)))
    shape = layer.compute_output_shape((2, 3, 5))
    assert [o.shape for o in (out[0], *out[1], *out[2])] == [(2, 10)] * 5
    assert len(out) == len(shape) == 3
    assert [tuple(s) for s in (shape[0], *shape[1], *shape[2])] == [(2, 10)] * 5
    np.testing.assert_allclose(out[0], out[2][0], **TOL)  # the output is the last cell's h


def test_stacked_lstm_cell_mask(keras):
    """stacked_rnn_cells_test.py::test_stacked_lstm_cell_mask (literal, atol 1e-4; live Keras)."""
    sequence = np.ones((2, 3, 4))
    mask = np.array([[True, True, True], [True, True, False]])
    outs = []
    for lib in (unrolled, keras):
        cells = [lib.layers.LSTMCell(units=1, kernel_initializer="ones",
                                     recurrent_initializer="ones") for _ in range(2)]
        outs.append(np.asarray(lib.layers.RNN(cells)(sequence, mask=mask)))
    np.testing.assert_allclose(outs[0], [[0.7793], [0.5998]], atol=1e-4)
    np.testing.assert_allclose(outs[0], outs[1], **TOL)


def test_rnn_stateful_batch_size_mismatch_raises():
    """rnn_test.py::test_stateful_batch_size_mismatch_raises (functional model, batch 4)."""
    layer = layers.RNN(TwoStatesRNNCell(2), stateful=True)
    inputs = layers.Input(shape=(5, 3), batch_size=4)
    model = unrolled.Model(inputs, layer(inputs))
    x = np.random.default_rng(0).uniform(size=(4, 5, 3)).astype("float32")
    # The first call starts from zero states: the same as a non-stateful layer (oracle 4).
    np.testing.assert_allclose(model(x), layers.RNN(TwoStatesRNNCell(2))(x), **TOL)
    with pytest.raises(ValueError, match="batch size"):
        model(x[:1])


def test_gru_legacy_implementation_argument():
    """gru_test.py::test_legacy_implementation_argument: ``implementation=0`` from a config."""
    config = layers.GRU(3, **const(unrolled)).get_config()
    config["implementation"] = 0
    output = layers.GRU.from_config(config)(SEQ_72)
    assert_close(output, rows(0.5217289, 0.6371659, 0.39384964, n=3))


SERIAL = {
    "rnn[two_states_cell]": lambda lib: lib.layers.RNN(_cells(lib, TWO)),
    "rnn[one_state_cell]": lambda lib: lib.layers.RNN(_cells(lib, ONE)),
    "rnn[stack_of_user_cells]": lambda lib: lib.layers.RNN(_cells(lib, STACK_2), stateful=True),
    "lstm": lambda lib: lib.layers.LSTM(3, go_backwards=True, **const(lib)),
    "gru": lambda lib: lib.layers.GRU(3, reset_after=False, return_sequences=True),
    "simple_rnn": lambda lib: lib.layers.SimpleRNN(3, dropout=0.2, unroll=True),
    "stacked_builtin_cells": lambda lib: lib.layers.StackedRNNCells(
        [lib.layers.LSTMCell(3), lib.layers.GRUCell(2), lib.layers.SimpleRNNCell(4)]),
    "bidirectional": lambda lib: lib.layers.Bidirectional(
        lib.layers.GRU(2, return_state=True), merge_mode="mul",
        backward_layer=lib.layers.GRU(2, return_state=True, go_backwards=True)),
}


@pytest.mark.parametrize("name", list(SERIAL))
def test_serialization_round_trip(keras, name):
    """rnn_test.py::test_serialization (run_class_serialization_test), for every layer kind.

    from_config(get_config()) gives the same config and the same attributes, the config has
    Keras's keys at every level, and the revived layer computes the same numbers.
    """
    layer, k_layer = SERIAL[name](unrolled), SERIAL[name](keras)
    config = layer.get_config()
    revived = type(layer).from_config(config)
    assert revived.get_config() == config
    assert set(dir(revived)) == set(dir(layer))

    def keys(a, b):
        assert set(a) == set(b), sorted(set(a) ^ set(b))
        for key in a:
            if key.endswith("_initializer"):
                continue  # initializer configs: tests/layers initializers' own tests
            if isinstance(a[key], dict) and "config" in a[key]:
                keys(a[key]["config"], b[key]["config"])
            elif key == "cells":
                for x, y in zip(a[key], b[key], strict=True):
                    keys(x["config"], y["config"])

    keys(config, k_layer.get_config())
    if name != "stacked_builtin_cells":
        x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
        first = layer(x)
        revived._maybe_build(x.shape)
        revived.set_weights(layer.get_weights())
        assert_close(_numpy(revived(x)), _numpy(first))


@pytest.mark.parametrize("name, kwargs", [
    ("LSTM", {"dropout": 0.5, "recurrent_dropout": 0.5}),
    ("GRU", {"dropout": 0.5, "recurrent_dropout": 0.5}),
    ("GRU", {"dropout": 0.5, "reset_after": False}),
    ("SimpleRNN", {"dropout": 0.5, "recurrent_dropout": 0.5}),
])
def test_dropout_in_inference(keras, name, kwargs):
    """Keras's test_basics call dropout layers; with training=False they equal no dropout.

    The literal lstm/gru/simple_rnn correctness numbers (go_backwards) and live Keras, for
    inputs with a mask hole.
    """
    units, seq, mask = 2, SEQ_24B, HOLES
    outs = [np.asarray(getattr(lib.layers, name)(units, go_backwards=True, **kwargs,
                                                 **const(lib))(seq, mask=mask, training=False))
            for lib in (unrolled, keras)]
    plain = getattr(layers, name)(units, go_backwards=True, **const(unrolled),
                                  **{k: v for k, v in kwargs.items() if "dropout" not in k})
    assert_close(outs[0], plain(seq, mask=mask))
    assert_close(outs[0], outs[1])


@pytest.mark.parametrize("spec", ["LSTM", "GRU", "SimpleRNN", "stack"])
def test_state_api_matches_keras(keras, spec):
    """The names Keras's tests use: cell, state_size, output_size, get_initial_state, states,
    reset_state/reset_states, compared with the same stateful layer in Keras."""
    def make(lib):
        if spec == "stack":
            return lib.layers.RNN([lib.layers.LSTMCell(3, **const(lib)), _cells(lib, ("one", 2)),
                                   lib.layers.GRUCell(2, **const(lib))], stateful=True)
        return getattr(lib.layers, spec)(2, stateful=True, **const(lib))

    ours, theirs = make(unrolled), make(keras)
    assert ours.cell.state_size == theirs.cell.state_size
    assert ours.cell.output_size == theirs.cell.output_size
    assert ours.supports_masking and theirs.supports_masking
    zeros = _numpy(ours.get_initial_state(2))
    assert_close(zeros, _numpy(theirs.get_initial_state(2)))
    assert ours.states is None and theirs.states is None
    for layer in (ours, theirs):
        layer(SEQ_24B)

    def values(states):
        return [values(s) if isinstance(s, (list, tuple)) else np.asarray(s.value)
                for s in states]

    assert_close(values(ours.states), values(theirs.states))
    ours.reset_states()  # (Keras's own reset_state fails on nested stack states: a fresh layer)
    assert_close(values(ours.states), zeros)
    assert_close(ours(SEQ_24B), np.asarray(make(keras)(SEQ_24B)))
    ours.reset_state()
    assert_close(values(ours.states), zeros)


def test_unknown_cell_class_in_config_is_a_clear_error():
    """An RNN config naming a cell class nobody defined says which and what to do."""
    config = layers.RNN(OneStateRNNCell(2)).get_config()
    config["cell"] = {**config["cell"], "class_name": "NoSuchCell"}
    with pytest.raises(ValueError, match="Unknown layer class 'NoSuchCell'.*custom_objects"):
        layers.RNN.from_config(config)
    revived = layers.RNN.from_config(config, custom_objects={"NoSuchCell": OneStateRNNCell})
    assert isinstance(revived.cell, OneStateRNNCell) and revived.cell.units == 2


@pytest.mark.parametrize("implementation", [3, -1, "2"])
def test_invalid_implementation_is_a_clear_error(implementation):
    """Keras's legacy 0 is accepted (gru_test.py); anything else but 1 or 2 is rejected."""
    with pytest.raises(ValueError, match=r"`implementation` must be 1 or 2.*received"):
        layers.LSTM(2, implementation=implementation)
