"""``unrolled.ops`` against ``keras.ops`` (oracle 1: real Keras 3 on JAX), name by name.

The names are those ``tools/keras_ops_coverage.py`` measures (Keras's rnn/ code, the keras-io RNN
guides and examples, custom cells); each is called with the same sample arguments on both sides.
"""

import importlib.util
import pathlib

import numpy as np
import pytest

from unrolled import layers, ops

_TOOL = pathlib.Path(__file__).parents[2] / "tools" / "keras_ops_coverage.py"
_spec = importlib.util.spec_from_file_location("keras_ops_coverage", _TOOL)
coverage = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(coverage)

R = np.random.default_rng(7)
X = R.uniform(0.1, 2.0, (3, 4)).astype("float32")      # positive: log, sqrt, power are defined
Y = R.uniform(-1.0, 1.0, (3, 4)).astype("float32")
B = X > 1.0
I = np.array([[0, 2, 1], [3, 3, 0]], "int32")          # noqa: E741 - integer labels
SEQ = R.normal(size=(2, 5, 3)).astype("float32")
K3 = R.normal(size=(3, 6)).astype("float32")


def _body(i, v):
    return v * 1.5 + i


#: name -> (args, kwargs); names not here are unary elementwise on X.
CALLS = {
    "add": ((X, Y), {}), "subtract": ((X, Y), {}), "multiply": ((X, Y), {}),
    "divide": ((X, Y), {}), "maximum": ((X, Y), {}), "minimum": ((X, Y), {}),
    "power": ((X, Y), {}), "equal": ((X, X.round()), {}), "not_equal": ((X, X.round()), {}),
    "greater": ((X, Y), {}), "greater_equal": ((X, Y), {}), "less": ((X, Y), {}),
    "less_equal": ((X, Y), {}), "logical_and": ((B, ~B[::-1]), {}),
    "logical_or": ((B, ~B[::-1]), {}), "logical_not": ((B,), {}), "any": ((B,), {"axis": 1}),
    "all": ((B,), {"axis": 0}), "where": ((B, X, Y), {}), "clip": ((Y, -0.5, 0.5), {}),
    "matmul": ((SEQ, K3), {}), "dot": ((X, X.T), {}),
    "einsum": (("btf,fu->btu", SEQ, K3), {}), "tile": ((I, [2, 3]), {}),
    "take": ((X, I), {"axis": 1}), "argmax": ((Y,), {"axis": -1}),
    "cumsum": ((Y,), {"axis": 1}), "concatenate": (([X, Y],), {"axis": -1}),
    "stack": (([X, Y],), {"axis": 1}), "split": ((SEQ, [1, 3]), {"axis": 1}),
    "expand_dims": ((X,), {"axis": -1}), "squeeze": ((X[:, :1],), {"axis": 1}),
    "reshape": ((SEQ, (2, 15)), {}), "transpose": ((SEQ, (1, 0, 2)), {}),
    "sum": ((SEQ,), {"axis": 1}), "mean": ((SEQ,), {"axis": (0, 2)}),
    "max": ((SEQ,), {"axis": -1, "keepdims": True}), "min": ((SEQ,), {"axis": 0}),
    "softmax": ((Y,), {"axis": 0}), "log_softmax": ((Y,), {}), "zeros": (((2, 3),), {}),
    "ones": (((2, 3),), {}), "cast": ((X, "int32"), {}), "shape": ((SEQ,), {}),
    "convert_to_tensor": (([[1.0, 2.0]],), {}), "flip": ((SEQ,), {"axis": 1}),
    "arange": ((2, 11, 3), {}), "broadcast_to": ((X[:1], (3, 4)), {}),
    "one_hot": ((I, 4), {}), "top_k": ((Y, 2), {}), "unstack": ((SEQ,), {"axis": 1}),
    "slice": ((SEQ, (0, 1, 1), (2, 3, -1)), {}),
    "slice_update": ((SEQ, (0, 2, 0), np.zeros((2, 2, 3), "float32")), {}),
    "leaky_relu": ((Y,), {}), "gelu": ((Y,), {}), "conv": ((SEQ, R.normal(size=(2, 3, 4))), {}),
    "cond": ((True, lambda: X * 2.0, lambda: X), {}),
    "switch": ((1, [lambda a: a, lambda a: a * 3.0], X), {}),
    "while_loop": ((lambda i, v: i < 4, lambda i, v: (i + 1, v * 2.0), (0, X)), {}),
    "fori_loop": ((0, 3, _body, X), {}),
    "scan": ((lambda c, x: (c + x, c * x), np.zeros(4, "float32"), X), {}),
    "stop_gradient": ((X,), {}), "copy": ((X,), {}), "relu": ((Y,), {}), "abs": ((Y,), {}),
    "tanh": ((Y,), {}), "sigmoid": ((Y,), {}), "softplus": ((Y,), {}),
    "hard_sigmoid": ((Y * 4,), {}), "zeros_like": ((X,), {}), "ones_like": ((X,), {}),
}


def _as_lists(value):
    if isinstance(value, (list, tuple)):
        return [_as_lists(v) for v in value]
    return np.asarray(value)


def _assert_same(got, want, name):
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), name
        for g, w in zip(got, want, strict=True):
            _assert_same(g, w, name)
        return
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    assert got.dtype.kind == want.dtype.kind, (name, got.dtype, want.dtype)
    np.testing.assert_allclose(got.astype("float64"), want.astype("float64"), rtol=1e-6,
                               atol=1e-6, err_msg=name)


def test_every_listed_name_exists(keras):
    names = coverage.listed_names(keras)
    missing = [n for n in names if not callable(getattr(ops, n, None))]
    assert len(names) >= 70 and not missing, missing


@pytest.fixture(scope="module")
def listed(keras):
    return coverage.listed_names(keras)


def test_each_listed_name_matches_keras_ops(keras, listed):
    for name in listed:
        args, kwargs = CALLS.get(name, ((X,), {}))
        want = getattr(keras.ops, name)(*args, **kwargs)
        got = getattr(ops, name)(*args, **kwargs)
        _assert_same(got, want, name)


@pytest.mark.parametrize("name", ["matmul", "tanh", "einsum", "take", "tile"])
def test_ops_accept_layer_variables(name):
    # As keras.ops does, a layer's Variable reads as its value.
    dense = layers.Dense(4)
    dense.build((None, 3))
    kernel = np.asarray(dense.kernel.value)
    calls = {"matmul": ((K3.T[:2, :3], dense.kernel), (K3.T[:2, :3], kernel)),
             "tanh": ((dense.kernel,), (kernel,)),
             "einsum": (("ij,jk->ik", K3.T[:2, :3], dense.kernel),
                        ("ij,jk->ik", K3.T[:2, :3], kernel)),
             "take": ((dense.kernel, I), (kernel, I)), "tile": ((dense.kernel, [2, 1]),
                                                               (kernel, [2, 1]))}
    with_var, with_array = calls[name]
    np.testing.assert_array_equal(getattr(ops, name)(*with_var), getattr(ops, name)(*with_array))


def test_errors_say_what_to_do():
    with pytest.raises(ValueError, match="positive integer or a bool"):
        ops.scan(lambda c, x: (c, x), 0.0, X, unroll=0)
    with pytest.raises(ValueError, match="channels-last"):
        ops.conv(SEQ, np.ones((2, 3, 4)), data_format="channels_first")
    with pytest.raises(ValueError, match="sparse=False"):
        ops.one_hot(I, 4, sparse=True)


def test_coverage_script_reports_full_coverage(capsys):
    assert coverage.main() == 0
    out = capsys.readouterr().out
    assert "(100.0%)" in out and "missing: none" in out, out
