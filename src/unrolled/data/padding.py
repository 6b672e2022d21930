"""Fixed-shape batches: bucketed sequence lengths, padded rows weighted out.

A jitted step compiles once per input shape, so a stream of batches whose sequence length
varies is padded on the time axis (axis 1) to one of a few bucket lengths: powers of two
(``buckets="pow2"``) or the smallest of a given list of lengths. The padded steps hold
``pad_value``; a model that masks them (e.g. ``Masking(pad_value)`` first) gives the same
numbers as on the unpadded batch. Rows are padded to the fixed batch size with sample weight 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class Batch(NamedTuple):
    """One fixed-shape batch.

    Attributes:
        x: inputs `(batch_size, bucket_length, ...)`, or `(batch_size, ...)` without time.
        y: targets padded to `batch_size` rows (and to the bucket length with sequence targets),
            or `None`.
        sample_weight: float32 `(batch_size,)` (or `(batch_size, bucket_length)` with sequence
            targets): the given weights (ones by default) and 0 on padded rows and steps.
        rows: number of real rows.
        length: real (unpadded) sequence length, or `None` without a time axis.

    """

    x: np.ndarray
    y: np.ndarray | None
    sample_weight: np.ndarray
    rows: int
    length: int | None


def bucket_length(length: int, buckets: str | Sequence[int]) -> int:
    """Return the padded length of a sequence of `length` steps.

    Args:
        length: the real number of steps.
        buckets: `"pow2"` (the smallest power of two >= `length`) or a list of lengths (the
            smallest one >= `length`).

    Example:
        >>> bucket_length(100, "pow2"), bucket_length(100, [64, 128, 512])
        (128, 128)

    """
    if buckets == "pow2":
        return 1 << max(int(length) - 1, 0).bit_length()
    if isinstance(buckets, str):
        raise ValueError(f"buckets must be 'pow2' or a list of lengths; received {buckets!r}.")
    fitting = [b for b in buckets if b >= length]
    if not fitting:
        raise ValueError(
            f"A batch has sequence length {length}, longer than the largest bucket "
            f"{max(buckets)}; add a bucket of at least {length} or use buckets='pow2'."
        )
    return int(min(fitting))


def pad_axis(a: np.ndarray, size: int, axis: int, value=0) -> np.ndarray:
    """Pad `a` at the end of `axis` to `size` entries with `value`."""
    extra = size - a.shape[axis]
    if extra == 0:
        return a
    widths = [(0, 0)] * a.ndim
    widths[axis] = (0, extra)
    return np.pad(a, widths, constant_values=value)


def pad_to_length(batch: Batch, length: int, pad_value=0.0, sequence_targets=False) -> Batch:
    """Return `batch` with its time axis padded further to `length`.

    E.g. to the longest bucket over all processes, so every process of a multi-process step
    contributes the same shape (`unrolled.distribution.global_max`).
    """
    if batch.x.ndim < 2 or batch.x.shape[1] == length:
        return batch
    x = pad_axis(batch.x, length, 1, pad_value)
    y, w = batch.y, batch.sample_weight
    if sequence_targets:
        y = pad_axis(y, length, 1) if y is not None else None
        w = pad_axis(w, length, 1)
    return batch._replace(x=x, y=y, sample_weight=w)


def empty_like(batch: Batch) -> Batch:
    """Return a batch of the same shapes whose every row has weight 0 (a filler step)."""
    zeros = None if batch.y is None else np.zeros_like(batch.y)
    return Batch(np.zeros_like(batch.x), zeros, np.zeros_like(batch.sample_weight), 0,
                 batch.length)
