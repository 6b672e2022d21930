"""The LSTM layer against real Keras 3 on JAX (DESIGN.md oracle 1).

Every comparison: the same weights (set with ``set_weights`` in both) and the same inputs and masks
must give the same outputs within ``atol = rtol = 1e-5`` (float32), unless a test says otherwise.
Keras's own golden values are quoted from keras/src/layers/rnn/lstm_test.py (Keras 3) and are also
recomputed with the installed Keras in the same test.
"""

import numpy as np
import pytest

from unrolled import initializers, layers, utils

TOL = 1e-5
B, T, D, UNITS = 6, 7, 3, 4


def assert_close(actual, expected, tol=TOL):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=tol, atol=tol)


def make_mask(kind: str) -> np.ndarray:
    """A boolean (B, T) mask of each pattern DESIGN.md promises (True = valid step)."""
    mask = np.ones((B, T), dtype=bool)
    if kind == "right":  # right padding, lengths T..1
        for row, length in enumerate([7, 5, 3, 1, 6, 2]):
            mask[row, length:] = False
    elif kind == "left":  # left padding
        for row, start in enumerate([0, 2, 4, 6, 1, 3]):
            mask[row, :start] = False
    elif kind == "holes":  # holes inside the sequence, incl. at both ends
        for row, holes in enumerate([[1], [2, 3], [0, 6], [1, 3, 5], [], [4, 5, 6]]):
            mask[row, holes] = False
    elif kind == "fully_masked":  # whole rows without a valid step, next to right padding
        mask[[0, 3]] = False
        mask[1, 4:] = False
    elif kind == "mixed":  # one row of each: full, right, left, holes, fully masked, single step
        mask[1, 4:] = False
        mask[2, :3] = False
        mask[3, [1, 3, 4]] = False
        mask[4] = False
        mask[5, 1:] = False
    else:
        assert kind == "none", kind
    return mask


MASK_KINDS = ["none", "right", "left", "holes", "fully_masked"]  # "mixed": all configs


def random_weights(rng, d: int, units: int, use_bias: bool = True, scale: float = 0.5):
    """Random kernel (d, 4u), recurrent_kernel (u, 4u), bias (4u,) in Keras's layout."""
    weights = [rng.normal(0.0, scale, (d, 4 * units)), rng.normal(0.0, scale, (units, 4 * units))]
    if use_bias:
        weights.append(rng.normal(0.0, scale, (4 * units,)))
    return [w.astype("float32") for w in weights]


def eager_pair(keras, config, x, mask, weights, **call_kwargs):
    """Call unrolled's and Keras's LSTM eagerly with identical weights; return both outputs."""
    outputs = []
    for layer in (layers.LSTM(UNITS, **config), keras.layers.LSTM(UNITS, **config)):
        layer.build(x.shape)  # Keras lifecycle: build makes the named weights
        layer.set_weights(weights)
        outputs.append(np.asarray(layer(x, mask=mask, **call_kwargs)))
    return outputs


# Layer configurations compared with Keras. "zero_output_last" pins a Keras 3 detail: with
# zero_output_for_mask=True and return_sequences=False, Keras returns outputs[:, -1], which is zero
# for a row whose last step is masked (keras/src/backend/jax/rnn.py: last_output = outputs[-1]).
LSTM_CONFIGS = {
    "last": {},
    "sequences": {"return_sequences": True},
    "backwards": {"go_backwards": True},
    "backwards_sequences": {"go_backwards": True, "return_sequences": True},
    "zero_output_sequences": {"return_sequences": True, "zero_output_for_mask": True},
    "zero_output_last": {"zero_output_for_mask": True},
    "zero_output_backwards": {
        "return_sequences": True,
        "zero_output_for_mask": True,
        "go_backwards": True,
    },
    "relu": {"activation": "relu", "return_sequences": True},
    "linear": {"activation": "linear"},
    "hard_sigmoid_gates": {"recurrent_activation": "hard_sigmoid", "return_sequences": True},
    "linear_gates": {"activation": "sigmoid", "recurrent_activation": "linear"},
    "no_bias": {"use_bias": False, "return_sequences": True},
}


@pytest.mark.parametrize("config", LSTM_CONFIGS.values(), ids=LSTM_CONFIGS.keys())
def test_eager_lstm_matches_keras(keras, rng, config):
    """Oracle: Keras LSTM eager call, explicit mixed mask (all patterns at once); tol 1e-5."""
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = make_mask("mixed")
    weights = random_weights(rng, D, UNITS, use_bias=config.get("use_bias", True))
    got, expected = eager_pair(keras, config, x, mask, weights)
    assert got.shape == expected.shape
    assert_close(got, expected)


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_eager_mask_patterns_match_keras(keras, rng, kind):
    """Oracle: Keras LSTM eager call, each mask pattern on its own (None when unmasked); the
    whole sequence is compared (return_sequences=True), so every step's output is checked."""
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = None if kind == "none" else make_mask(kind)
    weights = random_weights(rng, D, UNITS)
    got, expected = eager_pair(keras, {"return_sequences": True}, x, mask, weights)
    assert_close(got, expected)


def test_eager_initial_state_matches_keras(keras, rng):
    """Oracle: Keras LSTM eager call with initial_state=[h0, c0] and a mask; tol 1e-5."""
    x = rng.normal(size=(B, T, D)).astype("float32")
    state = [rng.normal(size=(B, UNITS)).astype("float32") for _ in range(2)]
    weights = random_weights(rng, D, UNITS)
    got, expected = eager_pair(
        keras, {"return_sequences": True}, x, make_mask("mixed"), weights, initial_state=state
    )
    assert_close(got, expected)


SEQUENTIAL_STACKS = {
    "last": [("LSTM", {"units": UNITS})],
    "backwards": [("LSTM", {"units": UNITS, "go_backwards": True})],
    "zero_output_sequences": [
        ("LSTM", {"units": UNITS, "return_sequences": True, "zero_output_for_mask": True})
    ],
    # the mask must reach the second LSTM through the first (mask propagation)
    "stacked": [
        ("LSTM", {"units": UNITS, "return_sequences": True}),
        ("LSTM", {"units": 3}),
    ],
    "seed_head": [
        ("LSTM", {"units": UNITS}),
        ("Dense", {"units": 2}),
        ("Activation", {"activation": "sigmoid"}),
    ],
}
SEQUENTIAL_CASES = [
    pytest.param(stack, "input", id=name) for name, stack in SEQUENTIAL_STACKS.items()
] + [pytest.param(SEQUENTIAL_STACKS["seed_head"], "input_shape", id="seed_head-input_shape")]


@pytest.mark.parametrize(("stack", "input_style"), SEQUENTIAL_CASES)
def test_masking_sequential_predict_matches_keras(
    keras, keras_weights, rng, sequential_pair, stack, input_style
):
    """Oracle: Keras Sequential(Masking(0.) -> stack).predict on zero-padded data; tol 1e-5.

    The data has every mask pattern (make_mask("mixed")), one step with a single zero feature
    (not masked), and batch_size=4 on 6 samples, so the last predict batch is partial.
    """
    x = rng.normal(size=(B, T, D)).astype("float32")
    x[~make_mask("mixed")] = 0.0
    x[0, 2, 1] = 0.0  # one zero feature only: this step stays valid
    specs = [("Masking", {"mask_value": 0.0}), *stack]
    u_model, k_model = sequential_pair(specs, (T, D), input_style=input_style)
    weights = [rng.normal(0.0, 0.5, np.shape(w)).astype("float32") for w in keras_weights(k_model)]
    k_model.set_weights(weights)
    u_model.set_weights(weights)
    expected = k_model.predict(x, batch_size=4, verbose=0)
    got = u_model.predict(x, batch_size=4, verbose=0)
    assert isinstance(got, np.ndarray)
    assert got.shape == expected.shape
    assert_close(got, expected)


# --- Keras's own golden values ------------------------------------------------------------------
# Quoted from keras/src/layers/rnn/lstm_test.py (Keras 3): LSTMTest.test_correctness,
# test_pass_initial_state and test_masking. Each row repeats over the units.
GOLDEN_CORRECTNESS = {
    "default": ({}, [0.6288687, 0.86899155, 0.9460773]),
    "go_backwards": ({"go_backwards": True}, [0.35622165, 0.74789524, 0.8872726]),
    "unroll": ({"unroll": True}, [0.6288687, 0.86899155, 0.9460773]),
    "no_unit_forget_bias": ({"unit_forget_bias": False}, [0.57019705, 0.8661914, 0.9459622]),
    "no_bias": ({"use_bias": False}, [0.54986924, 0.86226785, 0.9443936]),
}


def constant_init_kwargs(module):
    """Keras's golden-test initializers: kernel 0.01, recurrent 0.02, bias 0.03."""
    return {
        "kernel_initializer": module.Constant(0.01),
        "recurrent_initializer": module.Constant(0.02),
        "bias_initializer": module.Constant(0.03),
    }


def golden_pair(keras, units, kwargs, x, **call_kwargs):
    """Unrolled's and Keras's outputs for Keras's constant-initialised golden LSTM."""
    got = layers.LSTM(units, **constant_init_kwargs(initializers), **kwargs)(x, **call_kwargs)
    expected = keras.layers.LSTM(units, **constant_init_kwargs(keras.initializers), **kwargs)(
        x, **call_kwargs
    )
    return np.asarray(got), np.asarray(expected)


GOLDEN_CORRECTNESS_CASES = [
    pytest.param(kwargs, rows, implementation, id=f"{name}-implementation{implementation}")
    for name, (kwargs, rows) in GOLDEN_CORRECTNESS.items()
    for implementation in ([1, 2] if name == "default" else [2])  # Keras tests both; 2 is default
]


@pytest.mark.parametrize(("kwargs", "rows", "implementation"), GOLDEN_CORRECTNESS_CASES)
def test_keras_golden_correctness(keras, kwargs, rows, implementation):
    """Oracles: Keras's test_correctness numbers and the installed Keras; tol 1e-5."""
    sequence = np.arange(72).reshape((3, 6, 4)).astype("float32")
    golden = np.repeat(np.array(rows, dtype="float32")[:, None], 3, axis=1)
    got, expected = golden_pair(keras, 3, {**kwargs, "implementation": implementation}, sequence)
    assert_close(expected, golden)  # the installed Keras still agrees with its own test file
    assert_close(got, golden)
    assert_close(got, expected)


GOLDEN_INITIAL_STATE = {
    "forward": ({}, [[0.20574439, 0.3558822], [0.64930826, 0.66276]]),
    "go_backwards": ({"go_backwards": True}, [[0.13281618, 0.2790356], [0.5839337, 0.5992567]]),
}


@pytest.mark.parametrize(
    ("kwargs", "golden"), GOLDEN_INITIAL_STATE.values(), ids=GOLDEN_INITIAL_STATE.keys()
)
def test_keras_golden_initial_state(keras, kwargs, golden):
    """Oracles: Keras's test_pass_initial_state numbers and the installed Keras; tol 1e-5."""
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    initial_state = [np.arange(4).reshape((2, 2)).astype("float32")] * 2
    got, expected = golden_pair(keras, 2, kwargs, sequence, initial_state=initial_state)
    assert_close(expected, golden)
    assert_close(got, golden)
    assert_close(got, expected)


_MASK = [[True, True, True, False], [True, True, False, False]]
_BACKWARDS_MASK = [[False, True, True, True], [False, False, True, True]]
_ROW0 = [[0.01588910] * 2, [0.05552048] * 2, [0.11755939] * 2]
_ROW1 = [[0.14185596] * 2, [0.28556206] * 2]
GOLDEN_MASKING = {
    "unroll_last": (
        {"unroll": True},
        _MASK,
        [[0.11755939] * 2, [0.28556206] * 2],
    ),
    "sequences": (
        {"return_sequences": True},
        _MASK,
        [[*_ROW0, [0.11755939] * 2], [*_ROW1, [0.28556206] * 2, [0.28556206] * 2]],
    ),
    "sequences_zero_output": (
        {"return_sequences": True, "zero_output_for_mask": True},
        _MASK,
        [[*_ROW0, [0.0] * 2], [*_ROW1, [0.0] * 2, [0.0] * 2]],
    ),
    "go_backwards": (
        {"go_backwards": True},
        _BACKWARDS_MASK,
        [[0.15341201] * 2, [0.3844719] * 2],
    ),
}


@pytest.mark.parametrize(
    ("kwargs", "mask", "golden"), GOLDEN_MASKING.values(), ids=GOLDEN_MASKING.keys()
)
def test_keras_golden_masking(keras, kwargs, mask, golden):
    """Oracles: Keras's test_masking numbers and the installed Keras; tol 1e-5."""
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    got, expected = golden_pair(keras, 2, kwargs, sequence, mask=np.array(mask))
    assert_close(expected, golden)
    assert_close(got, golden)
    assert_close(got, expected)


# --- initializers -------------------------------------------------------------------------------


def built_lstm_weights(layer, d, read=None):
    """Build ``layer`` on a (2, 3, d) input; its weights via ``read`` (default get_weights)."""
    layer(np.zeros((2, 3, d), dtype="float32"))
    return [np.asarray(w) for w in (read(layer) if read else layer.get_weights())]


@pytest.mark.parametrize("unit_forget_bias", [True, False])
def test_default_bias_matches_keras(keras, keras_weights, unit_forget_bias):
    """Oracle: Keras's default LSTM bias (deterministic): forget block exactly 1.0, rest 0.0."""
    units = 5
    _, _, got = built_lstm_weights(layers.LSTM(units, unit_forget_bias=unit_forget_bias), 4)
    _, _, expected = built_lstm_weights(
        keras.layers.LSTM(units, unit_forget_bias=unit_forget_bias), 4, keras_weights
    )
    golden = np.zeros(4 * units, dtype="float32")
    if unit_forget_bias:
        golden[units : 2 * units] = 1.0  # gate blocks [i | f | c | o]
    np.testing.assert_array_equal(expected, golden)
    np.testing.assert_array_equal(got, golden)


def test_unit_forget_bias_with_constant_bias_matches_keras(keras, keras_weights):
    """Oracle: Keras; unit_forget_bias overrides the forget block of any bias_initializer.

    Exact: bias = [0.5]*u (i) | [1.0]*u (f) | [0.5]*2u (c, o), in both.
    """
    units = 3
    _, _, got = built_lstm_weights(
        layers.LSTM(units, bias_initializer=initializers.Constant(0.5)), 2
    )
    _, _, expected = built_lstm_weights(
        keras.layers.LSTM(units, bias_initializer=keras.initializers.Constant(0.5)),
        2,
        keras_weights,
    )
    golden = np.full(4 * units, 0.5, dtype="float32")
    golden[units : 2 * units] = 1.0
    np.testing.assert_array_equal(expected, golden)
    np.testing.assert_array_equal(got, golden)


def test_default_recurrent_kernel_is_orthogonal(keras, keras_weights):
    """Oracle: Keras's Orthogonal on (u, 4u) gives orthonormal rows, R @ R.T = I_u; tol 1e-5."""
    units, d = 8, 5
    _, got, _ = built_lstm_weights(layers.LSTM(units), d)
    _, expected, _ = built_lstm_weights(keras.layers.LSTM(units), d, keras_weights)
    assert got.shape == expected.shape == (units, 4 * units)
    assert_close(expected @ expected.T, np.eye(units))  # the property holds for the oracle
    assert_close(got @ got.T, np.eye(units))


@pytest.mark.parametrize("shape", [(6, 6), (4, 10), (10, 4)])
def test_orthogonal_initializer_matches_keras_property(keras, shape):
    """Oracle: Keras Orthogonal; square Q^T Q = I, else the smaller side orthonormal; tol 1e-5."""

    def gram(q):
        return q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q

    got = np.asarray(initializers.Orthogonal()(shape))
    expected = np.asarray(keras.initializers.Orthogonal()(shape))
    assert got.shape == expected.shape == shape
    identity = np.eye(min(shape))
    assert_close(gram(expected), identity)
    assert_close(gram(got), identity)
    if shape[0] == shape[1]:
        assert_close(got.T @ got, identity)


def test_default_kernel_is_glorot_uniform_like_keras(keras, keras_weights):
    """Oracle: Keras GlorotUniform; statistical (8,192 draws), tolerances are > 5 sigma.

    Bound: |w| <= sqrt(6 / (fan_in + fan_out)); variance 2 / (fan_in + fan_out) within 10% and
    within 10% of Keras's own sample; quartiles those of U(-limit, limit) within 5% of limit.
    """
    d, units = 64, 32
    got, _, _ = built_lstm_weights(layers.LSTM(units), d)
    expected, _, _ = built_lstm_weights(keras.layers.LSTM(units), d, keras_weights)
    limit = np.sqrt(6.0 / (d + 4 * units))
    for sample in (expected, got):
        assert sample.shape == (d, 4 * units)
        assert np.abs(sample).max() <= limit + 1e-7
        assert sample.var() == pytest.approx(2.0 / (d + 4 * units), rel=0.1)
        assert abs(sample.mean()) < 0.006
        quartiles = np.quantile(sample, [0.25, 0.5, 0.75])
        np.testing.assert_allclose(quartiles, [-limit / 2, 0.0, limit / 2], atol=0.05 * limit)
    assert got.var() == pytest.approx(expected.var(), rel=0.1)


def test_default_dense_init_like_keras(keras, keras_weights):
    """Oracle: Keras Dense defaults: glorot_uniform kernel within its limit, zero bias."""
    x = np.zeros((2, 40), dtype="float32")
    got = layers.Dense(24)
    got(x)
    expected = keras.layers.Dense(24)
    expected(x)
    limit = np.sqrt(6.0 / (40 + 24))
    for kernel, bias in (got.get_weights(), keras_weights(expected)):
        assert np.shape(kernel) == (40, 24)
        assert np.abs(kernel).max() <= limit + 1e-7
        assert np.asarray(kernel).std() > limit / 4  # not all zeros or constant
        np.testing.assert_array_equal(bias, np.zeros(24, dtype="float32"))


def test_set_random_seed_makes_init_reproducible():
    """Invariant: the same seed gives the same initial weights; another seed different ones."""

    def init(seed):
        utils.set_random_seed(seed)
        return built_lstm_weights(layers.LSTM(4), 3)

    first, again, other = init(7), init(7), init(8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[1], other[1])


# --- masks: compute_mask and propagation --------------------------------------------------------


@pytest.mark.parametrize("mask_value", [0.0, 0.5])
def test_masking_compute_mask_and_output_match_keras(keras, rng, mask_value):
    """Oracle: keras.layers.Masking; compute_mask exact (bool (B, T)), output tol 1e-5.

    A step is masked only when all its features equal mask_value; Keras zeroes masked steps.
    """
    x = rng.normal(size=(B, T, D)).astype("float32")
    x[~make_mask("mixed")] = mask_value
    x[0, 2, 0] = mask_value  # only one feature equal: not masked
    got_layer, expected_layer = layers.Masking(mask_value), keras.layers.Masking(mask_value)
    got = np.asarray(got_layer.compute_mask(x))
    expected = np.asarray(expected_layer.compute_mask(x))
    assert got.dtype == np.bool_
    assert got.shape == (B, T)
    np.testing.assert_array_equal(got, expected)
    assert_close(got_layer(x), expected_layer(x))


@pytest.mark.parametrize("return_sequences", [True, False])
def test_lstm_compute_mask_matches_keras(keras, rng, return_sequences):
    """Oracle: Keras LSTM.compute_mask passes the mask on with sequences, drops it otherwise."""
    x = rng.normal(size=(B, T, D)).astype("float32")
    mask = make_mask("mixed")
    got = layers.LSTM(UNITS, return_sequences=return_sequences).compute_mask(x, mask)
    expected = keras.layers.LSTM(UNITS, return_sequences=return_sequences).compute_mask(x, mask)
    if expected is None:
        assert got is None
    else:
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
