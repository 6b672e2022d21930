"""Keras-compatible `pad_sequences` and `to_categorical` (oracle: `keras.utils`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

_PLACES = ("pre", "post")


def pad_sequences(
    sequences: Sequence[Any],
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Pad (and truncate) sequences to one length, exactly like `keras.utils.pad_sequences`.

    Each sequence is a list or array of scalars or of equally shaped arrays (a sequence of
    vectors gives a `(N, T, F)` result). The element shape comes from the first non-empty
    sequence; empty sequences become all padding.

    Args:
        sequences: list of sequences.
        maxlen: the output length `T`; defaults to the longest sequence.
        dtype: the output dtype (default `"int32"`, as Keras). Use `object` for variable-length
            strings.
        padding: `"pre"` or `"post"`: pad before or after each sequence.
        truncating: `"pre"` or `"post"`: drop values from the start or the end of sequences
            longer than `maxlen`.
        value: the padding value (a float, or a string with a string/object `dtype`).

    Returns:
        NumPy array `(len(sequences), maxlen) + element_shape` of `dtype`.

    Raises:
        ValueError: `sequences` or one of its items is not iterable, `sequences` is empty and
            `maxlen` is `None`, `padding`/`truncating` is not `"pre"`/`"post"`, a string `value`
            is used with a non-string `dtype`, or a sequence's elements have a different shape
            from the first non-empty sequence's.

    Example:
    >>> pad_sequences([[1], [2, 3], [4, 5, 6]], padding="post").tolist()
    [[1, 0, 0], [2, 3, 0], [4, 5, 6]]

    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    if padding not in _PLACES:
        raise ValueError(f'Padding type "{padding}" not understood; expected "pre" or "post".')
    if truncating not in _PLACES:
        raise ValueError(
            f'Truncating type "{truncating}" not understood; expected "pre" or "post".'
        )
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer))
                               or maxlen < 0):
        raise ValueError(f"pad_sequences: maxlen must be a non-negative integer (the output "
                         f"length) or None for the longest sequence; received maxlen={maxlen!r}.")
    lengths = []
    element_shape: tuple[int, ...] | None = None
    for seq in sequences:
        try:
            length = len(seq)
        except TypeError as e:
            raise ValueError(
                f"`sequences` must be a list of iterables. Found non-iterable: {seq}"
            ) from e
        lengths.append(length)
        if element_shape is None and length:
            element_shape = np.asarray(seq).shape[1:]
    element_shape = element_shape or ()
    if maxlen is None:
        if not lengths:
            raise ValueError("`sequences` is empty: pass `maxlen` to get a (0, maxlen) array.")
        maxlen = max(lengths)

    is_str_dtype = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_str_dtype:
        raise ValueError(
            f"`dtype` {dtype} is not compatible with `value`'s type: {type(value)}\n"
            "You should set `dtype=object` for variable length strings."
        )

    out = np.full((len(lengths), maxlen) + element_shape, value, dtype=dtype)
    for i, seq in enumerate(sequences):
        length = lengths[i]
        if not length:
            continue
        kept = min(length, maxlen)
        if kept == 0:  # maxlen=0 (Keras fails here for truncating="pre"; we return no steps)
            continue
        part = seq[length - kept :] if truncating == "pre" else seq[:kept]
        part = np.asarray(part, dtype=dtype)
        if part.shape[1:] != element_shape:
            raise ValueError(
                f"Shape of sample {part.shape[1:]} of sequence at position {i} is different "
                f"from expected shape {element_shape}"
            )
        if padding == "post":
            out[i, :kept] = part
        else:
            out[i, maxlen - kept :] = part
    return out


def to_categorical(y: Any, num_classes: int | None = None) -> np.ndarray:
    """Convert class indices to one-hot rows, exactly like `keras.utils.to_categorical`.

    A trailing axis of size 1 is dropped before the class axis is added. As in Keras, the result
    is float64 and indices are cast to int64 (floats truncate). Unlike Keras, which silently
    wraps a negative index `-k` to the `k`-th class from the end, a negative label is refused: it
    is almost always a marker (-1 for "unknown") rather than a class.

    Args:
        y: array-like of integer class indices, any shape.
        num_classes: the number of classes `C`; `None` (or 0) infers `max(y) + 1`.

    Returns:
        float64 array of shape `y.shape + (C,)` (without `y`'s trailing axis of size 1).

    Raises:
        ValueError: `y` is empty and `num_classes` is not given, or `y` holds a negative label.
        IndexError: an index is `C` or more.

    Example:
    >>> to_categorical([0, 2, 1]).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]

    """
    y = np.array(y, dtype="int64")
    shape = y.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = y.reshape(-1)
    if flat.size and flat.min() < 0:
        raise ValueError(
            f"to_categorical: negative class label {int(flat.min())} in y; labels must be class "
            "indices 0..num_classes-1. (Keras would silently count it from the last class; "
            "unrolled refuses.) Drop or relabel those samples, or pass y % num_classes for "
            "Keras's wrapping."
        )
    if not num_classes:
        if flat.size == 0:
            raise ValueError("`y` is empty: pass `num_classes` to infer the class count.")
        num_classes = int(flat.max()) + 1
    bad = (flat >= num_classes) | (flat < -num_classes)
    if bad.any():
        raise IndexError(
            f"Class index {int(flat[bad][0])} is out of range for num_classes={num_classes}; "
            f"expected indices in [0, {num_classes})."
        )
    one_hot = np.zeros((flat.size, num_classes))
    one_hot[np.arange(flat.size), flat] = 1
    return one_hot.reshape(shape + (num_classes,))
