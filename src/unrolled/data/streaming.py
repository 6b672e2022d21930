"""Streaming input: Python generators, iterables and `PyDataset`s as fixed-shape batches."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from unrolled.data.padding import Batch, bucket_length, empty_like, pad_axis
from unrolled.data.py_dataset import load_in_order

_RAN_OUT = ("Your input ran out of data; interrupting the epoch. Make sure that your dataset or "
            "generator can generate at least `steps_per_epoch * epochs` batches.")


def _indexable(source) -> bool:
    return hasattr(source, "__getitem__") and (hasattr(source, "__len__")
                                               or hasattr(source, "num_batches"))


class BatchStream:
    """Turn a source of `(x, y[, sample_weight])` batches into fixed-shape `Batch`es per epoch.

    Sources: a `PyDataset` (or any object with `__getitem__` and `__len__`, e.g. a list of
    batches), an iterable (iterated afresh every epoch), a function returning an iterator
    (called every epoch), or an iterator such as a generator object (consumed across epochs).
    Each epoch is one pass, or `steps_per_epoch` batches taken from where the last epoch
    stopped (as Keras). Rows are padded to `batch_size`, and sequence lengths to `buckets`
    (see `unrolled.data.padding`), so a jitted step compiles once per bucket.

    Args:
        source: the batches.
        batch_size: rows of every batch; defaults to the rows of the first batch.
        steps_per_epoch: batches per epoch, or `None` for one pass.
        buckets: `None` (every batch must have the first batch's length), `"pow2"`, or a list
            of lengths.
        pad_value: value of padded time steps in `x`.
        sequence_targets: `y` has a time axis too; it is padded with `x`, and the padded steps
            get sample weight 0 in a `(batch_size, length)` weight.
        shard: `(index, count)`: keep only batches `index, index + count, ...` (each process of a
            multi-process run reads its own; `unrolled.distribution.dataset_shard`). An
            indexable source reads only those; an iterator still produces the others.

    Example:
        >>> import numpy as np
        >>> batches = [(np.ones((4, t, 1), "float32"), np.ones((4, 1))) for t in (3, 5, 3)]
        >>> stream = BatchStream(batches, buckets="pow2")
        >>> [(b.x.shape, b.length) for b in stream.epoch()]
        [((4, 4, 1), 3), ((4, 8, 1), 5), ((4, 4, 1), 3)]

    """

    def __init__(self, source, *, batch_size: int | None = None,
                 steps_per_epoch: int | None = None, buckets: str | Sequence[int] | None = None,
                 pad_value=0.0, sequence_targets: bool = False, shard: tuple[int, int] = (0, 1)):
        if steps_per_epoch is not None and int(steps_per_epoch) < 1:
            raise ValueError(f"steps_per_epoch must be a positive integer or None; received "
                             f"{steps_per_epoch}.")
        index, count = shard
        if not 0 <= index < count:
            raise ValueError(f"shard must be (index, count) with 0 <= index < count; got {shard}.")
        if buckets is not None:
            bucket_length(1, buckets)  # validates the spelling early
        self.source, self.batch_size, self.steps_per_epoch = source, batch_size, steps_per_epoch
        self.buckets, self.pad_value, self.sequence_targets = buckets, pad_value, sequence_targets
        self.shard = (int(index), int(count))
        self._first = None  # (x feature shape, y shape, x dtype, y dtype) of batch 0
        self._seen = 0
        self._cursor = None  # the iterator an epoch continues from (steps_per_epoch)
        self._done = False

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch when known (`steps_per_epoch`, or the shard of a sized source)."""
        if self.steps_per_epoch is not None:
            return int(self.steps_per_epoch)
        n = self._source_len()
        return None if n is None else math.ceil(n / self.shard[1])

    def _source_len(self) -> int | None:
        if not _indexable(self.source):
            return None
        n = getattr(self.source, "num_batches", None)
        return len(self.source) if n is None and hasattr(self.source, "__len__") else n

    def _raw(self) -> Iterator:
        """One pass over this process's raw batches (`None` = a filler for a missing batch)."""
        index, count = self.shard
        if _indexable(self.source):
            n = self._source_len()
            ks = itertools.count() if n is None else range(math.ceil(n / count))
            picks = (k * count + index for k in ks)
            if n is None:
                return load_in_order(self.source, picks)
            mine = range(index, n, count)  # the last step of a short shard is a filler
            return itertools.chain(load_in_order(self.source, mine),
                                   itertools.repeat(None, len(ks) - len(mine)))
        if callable(self.source) and not isinstance(self.source, Iterable):
            it = iter(self.source())
        elif isinstance(self.source, Iterator):
            if self._done:
                raise ValueError(
                    "The generator is exhausted: it was consumed by an earlier epoch. Pass a "
                    "function returning a new generator, a PyDataset, or an endless generator "
                    "with steps_per_epoch."
                )
            it = self.source
        else:
            it = iter(self.source)
        return itertools.islice(it, index, None, count)

    def epoch(self) -> Iterator[Batch]:
        """Yield the fixed-shape batches of one epoch."""
        hooks = self.source if hasattr(self.source, "on_epoch_end") else None
        if hooks is not None and hasattr(hooks, "on_epoch_begin"):
            hooks.on_epoch_begin()
        steps = self.steps_per_epoch
        if steps is None or self._cursor is None:
            self._cursor = self._raw()
        produced = 0
        for raw in itertools.islice(self._cursor, steps):
            produced += 1
            yield self._standardize(raw)
        if steps is not None and produced < steps:
            warnings.warn(_RAN_OUT, stacklevel=2)
        if steps is None or produced < steps:
            self._cursor = None
            self._done = isinstance(self.source, Iterator) and not _indexable(self.source)
        if produced == 0 and steps is None:
            raise ValueError("The input yielded no batches; check the generator or dataset.")
        if hooks is not None:
            hooks.on_epoch_end()

    def __iter__(self) -> Iterator[Batch]:
        """Yield the batches of one epoch (as `epoch()`)."""
        return self.epoch()

    def _standardize(self, raw) -> Batch:
        self._seen += 1
        if raw is None:
            if self._template is None:
                raise ValueError("This process's shard is empty; use fewer processes or "
                                 "more batches.")
            return empty_like(self._template)
        x, y, w = _unpack(raw, self._seen)
        rows = x.shape[0]
        bs = self.batch_size = self.batch_size or rows
        for name, a in (("y", y), ("sample_weight", w)):
            if a is not None and a.shape[0] != rows:
                raise ValueError(f"Batch {self._seen}: x has {rows} rows but {name} has "
                                 f"{a.shape[0]}; every array of a batch needs the same rows.")
        if rows > bs:
            raise ValueError(f"Batch {self._seen} has {rows} rows, more than the batch size {bs};"
                             " pass batch_size= the largest batch the source yields.")
        timed = x.ndim >= 2
        length = x.shape[1] if timed else None
        seq = self.sequence_targets
        if seq and (y is None or y.ndim < 2 or y.shape[1] != length):
            raise ValueError(f"Batch {self._seen}: sequence_targets=True needs y with the same "
                             f"time axis as x; got x {x.shape} and y "
                             f"{None if y is None else y.shape}.")
        key = (x.shape[2:] if timed else x.shape[1:],
               None if y is None else (y.shape[2:] if seq else y.shape[1:]),
               None if self.buckets or not timed else length)
        if self._first is None:
            self._first, self._dtypes = key, (x.dtype, None if y is None else y.dtype)
        elif key != self._first:
            raise ValueError(
                f"Batch {self._seen} has x of shape {x.shape} and y of shape "
                f"{None if y is None else y.shape}, unlike the first batch (features, targets, "
                f"length: {self._first}). Every batch needs the same shapes apart from the rows; "
                "for varying sequence lengths pass buckets='pow2' or a list of lengths."
            )
        x = np.asarray(x, self._dtypes[0])
        y = None if y is None else np.asarray(y, self._dtypes[1])
        if w is None:
            w = np.ones((rows, length) if seq else (rows,), np.float32)
        w = np.asarray(w, np.float32)
        if seq and w.ndim == 1:
            w = np.repeat(w[:, None], length, axis=1)
        if timed and self.buckets:
            padded = bucket_length(length, self.buckets)
            x = pad_axis(x, padded, 1, self.pad_value)
            if seq:
                y, w = pad_axis(y, padded, 1), pad_axis(w, padded, 1)
        x, w = pad_axis(x, bs, 0), pad_axis(w, bs, 0)
        y = None if y is None else pad_axis(y, bs, 0)
        self._template = batch = Batch(x, y, w, rows, length)
        return batch

    _template: Batch | None = None


def _unpack(raw, number: int):
    if isinstance(raw, np.ndarray):
        return raw, None, None
    if isinstance(raw, (tuple, list)) and 1 <= len(raw) <= 3:
        arrays = [None if a is None else np.asarray(a) for a in raw] + [None] * (3 - len(raw))
        if arrays[0] is not None:
            return tuple(arrays)
    raise ValueError(f"Batch {number} is a {type(raw).__name__}; a generator or PyDataset must "
                     "yield x, (x,), (x, y) or (x, y, sample_weight) with NumPy arrays.")
