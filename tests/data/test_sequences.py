"""pad_sequences and to_categorical against the oracle, real Keras 3 `keras.utils`: exact."""

import itertools
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from unrolled.data import pad_sequences, to_categorical  # noqa: E402

RAGGED = {
    "ints": [[1], [2, 3], [4, 5, 6]],
    "with_empty": [[], [7, 8, 9, 10], [], [11]],
    "first_empty_arrays": [np.array([]), np.arange(5), np.arange(2) + 10],
    "floats": [[0.5, 1.5, 2.5], [3.25], [4.75, 5.5]],
    "vectors": [[[1, 2], [3, 4], [5, 6]], [[7, 8]], []],
    "vector_arrays": [np.arange(12).reshape(4, 3), np.arange(6).reshape(2, 3) - 3.5],
    "matrices": [np.ones((3, 2, 2)), 2 * np.ones((1, 2, 2))],
    "tuples": [(1, 2), (3,), (4, 5, 6, 7)],
    "equal": np.arange(12).reshape(3, 4),
}


def assert_same(ours, theirs):
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name", list(RAGGED))
@pytest.mark.parametrize("maxlen", [None, 1, 2, 3, 6])
@pytest.mark.parametrize("padding,truncating", list(itertools.product(["pre", "post"], repeat=2)))
def test_pad_sequences_matches_keras(name, maxlen, padding, truncating):
    kwargs = dict(maxlen=maxlen, padding=padding, truncating=truncating)
    seqs = RAGGED[name]
    assert_same(pad_sequences(seqs, **kwargs), keras.utils.pad_sequences(seqs, **kwargs))


@pytest.mark.parametrize("name", ["ints", "floats", "vectors", "with_empty"])
@pytest.mark.parametrize(
    "dtype,value",
    [
        ("int32", 0.0),
        ("int64", -1),
        ("float32", 0.5),
        ("float64", np.nan),
        (np.float16, -2.0),
        ("uint8", 3),
        ("bool", 0),
    ],
)
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_pad_sequences_dtype_value_match_keras(name, dtype, value, padding):
    kwargs = dict(maxlen=4, dtype=dtype, value=value, padding=padding, truncating="post")
    seqs = RAGGED[name]
    assert_same(pad_sequences(seqs, **kwargs), keras.utils.pad_sequences(seqs, **kwargs))


@pytest.mark.parametrize(
    "seqs,kwargs",
    [
        ([["a", "bb"], ["ccc"]], dict(dtype=object, value="<pad>")),
        ([["a", "bb"], ["ccc"]], dict(dtype="<U5", value="x", padding="post")),
        ([["a", "bb"], ["ccc"]], dict(dtype=str, value="-", maxlen=1)),
        ([[b"a", b"bb"], [b"c"]], dict(dtype="S3", value="z")),
        ([["alpha"], []], dict(dtype=object, value="", maxlen=3, padding="post")),
    ],
)
def test_pad_sequences_strings_match_keras(seqs, kwargs):
    assert_same(pad_sequences(seqs, **kwargs), keras.utils.pad_sequences(seqs, **kwargs))


def test_pad_sequences_empty_list_with_maxlen_matches_keras():
    assert_same(pad_sequences([], maxlen=3), keras.utils.pad_sequences([], maxlen=3))


@pytest.mark.parametrize(
    "seqs,kwargs,match",
    [
        ([[1, 2], [3]], dict(value="x"), "not compatible"),
        ([[1, 2], [3]], dict(value="x", dtype="float32"), "not compatible"),
        ([[1, 2], [3]], dict(value="x", dtype="object"), "not compatible"),  # string, not `object`
        (5, {}, "must be iterable"),
        ([[1, 2], 3], {}, "non-iterable"),
        ([[1, 2], [3]], dict(padding="middle"), "Padding type"),
        ([[1, 2], [3]], dict(truncating="middle", maxlen=1), "Truncating type"),
        ([[[1, 2]], [[1, 2, 3]]], {}, "different from expected shape"),
        ([], {}, None),
        ([[1, 2], [3]], dict(maxlen=-1), None),
        ([["a"], ["b"]], {}, None),  # string elements cast to int32
    ],
)
def test_pad_sequences_errors_match_keras(seqs, kwargs, match):
    with pytest.raises(ValueError) as theirs:
        keras.utils.pad_sequences(seqs, **kwargs)
    with pytest.raises(ValueError, match=match):
        pad_sequences(seqs, **kwargs)
    if match:
        assert match in str(theirs.value)


def test_pad_sequences_maxlen_zero_gives_no_steps():
    # Keras returns (N, 0) for truncating="post" and fails for "pre" (`s[-0:]` keeps everything);
    # we return (N, 0) for both.
    seqs = [[1, 2], [3]]
    assert_same(
        pad_sequences(seqs, maxlen=0, truncating="post"),
        keras.utils.pad_sequences(seqs, maxlen=0, truncating="post"),
    )
    assert pad_sequences(seqs, maxlen=0).shape == (2, 0)


@pytest.mark.parametrize(
    "y,num_classes",
    [
        ([0, 1, 2, 3], None),
        ([0, 1, 2, 3], 4),
        ([3, 1], 6),
        ([[1], [0], [2]], None),  # trailing axis of size 1 is dropped
        ([[0, 1], [2, 0]], None),
        ([[[1]], [[0]]], 3),
        (2, 4),
        ([0.0, 1.9, 2.2], None),  # floats truncate
        (np.array([5, 0], dtype=np.uint8), None),
        ([1, 0], 0),  # 0 means infer
        ([], 3),
    ],
)
def test_to_categorical_matches_keras(y, num_classes):
    assert_same(to_categorical(y, num_classes), keras.utils.to_categorical(y, num_classes))


@pytest.mark.parametrize(
    "y,num_classes,error",
    [([0, 3], 3, IndexError), ([], None, ValueError)],
)
def test_to_categorical_errors_match_keras(y, num_classes, error):
    with pytest.raises(error):
        keras.utils.to_categorical(y, num_classes)
    with pytest.raises(error):
        to_categorical(y, num_classes)


@pytest.mark.parametrize("y,num_classes", [([-1, 0, 1], 3), ([-4], 3), ([[0], [-2]], None)])
def test_to_categorical_refuses_negative_labels(y, num_classes):
    # Keras wraps -1 to the last class (or fails for -4 of 3) silently or with an IndexError;
    # a negative label is a marker ("unknown"), so unrolled refuses it and says why.
    with pytest.raises(ValueError, match=r"negative class label -\d+ in y.*Keras would silently"):
        to_categorical(y, num_classes)
    assert to_categorical(np.mod([-1, 0, 1], 3), 3).tolist() == \
        keras.utils.to_categorical([-1, 0, 1], 3).tolist()  # the wrap the message offers


def test_pad_sequences_refuses_negative_maxlen():
    with pytest.raises(ValueError, match=r"maxlen must be a non-negative integer.*maxlen=-1"):
        pad_sequences([[1, 2], [3]], maxlen=-1)
