"""``timeseries_dataset_from_array``: sliding windows over a series, batched, as Keras.

Keras returns a ``tf.data.Dataset`` (or a grain dataset); unrolled needs neither, so it returns
a `TimeseriesDataset`: a re-iterable sequence of NumPy batches, ``(x, y)`` with targets and
``x`` alone without, holding exactly Keras's windows in Keras's order.
"""

from __future__ import annotations

import numpy as np


class TimeseriesDataset:
    """Batches of windows; iterate it (again and again), index it, or ``take(n)`` of it.

    Attributes:
        batch_size: windows per batch (``None``: one window per item, no batch axis).
        start_positions: the first index (into ``data[start_index:]``) of every window.

    """

    def __init__(self, data, targets, start_positions, sequence_length, sampling_rate,
                 batch_size):
        self.data, self.targets = data, targets
        self.start_positions = start_positions
        self.sequence_length, self.sampling_rate = sequence_length, sampling_rate
        self.batch_size = batch_size

    def _item(self, positions: np.ndarray):
        steps = np.arange(self.sequence_length) * self.sampling_rate
        x = self.data[positions[:, None] + steps]
        if self.targets is None:
            return x
        return x, self.targets[positions]

    def __len__(self) -> int:
        """Return the number of batches (of windows when ``batch_size`` is None)."""
        if self.batch_size is None:
            return len(self.start_positions)
        return -(-len(self.start_positions) // self.batch_size)

    def __getitem__(self, index: int):
        """Return batch ``index`` (the last one may be smaller)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch {index} out of range for {len(self)} batches")
        index %= len(self)
        if self.batch_size is None:
            item = self._item(self.start_positions[index:index + 1])
            return tuple(a[0] for a in item) if isinstance(item, tuple) else item[0]
        size = self.batch_size
        return self._item(self.start_positions[index * size:(index + 1) * size])

    def __iter__(self):
        """Yield the batches in order."""
        return (self[i] for i in range(len(self)))

    def take(self, count: int) -> list:
        """Return the first ``count`` batches (``tf.data.Dataset.take``; -1: all)."""
        return [self[i] for i in range(len(self) if count < 0 else min(count, len(self)))]


def _check(name: str, value, length: int) -> None:
    if value <= 0:
        raise ValueError(f"`{name}` must be higher than 0. Received: {name}={value}")
    if value >= length:
        raise ValueError(f"`{name}` must be lower than the length of the data. Received: "
                         f"{name}={value}, for data of length {length}")


def timeseries_dataset_from_array(data, targets, sequence_length: int, sequence_stride: int = 1,
                                  sampling_rate: int = 1, batch_size: int | None = 128,
                                  shuffle: bool = False, seed: int | None = None,
                                  start_index: int | None = None,
                                  end_index: int | None = None) -> TimeseriesDataset:
    """Create batches of sliding windows over a time series, as Keras does.

    Window ``i`` is ``data[start_index + p_i + k * sampling_rate]`` for ``k < sequence_length``,
    with ``p_i = i * sequence_stride``; its target is ``targets[start_index + p_i]`` (so pass
    ``targets=data[n:]`` to predict ``n`` steps ahead).

    Args:
        data: array ``(T, ...)``; axis 0 is time.
        targets: array ``(T', ...)`` aligned with ``data``, or None (batches are then ``x``).
        sequence_length: steps per window.
        sequence_stride: steps between the starts of consecutive windows.
        sampling_rate: steps between the rows inside a window.
        batch_size: windows per batch (None: unbatched windows).
        shuffle: shuffle the windows: the start positions are permuted by
            ``np.random.RandomState(seed).shuffle``, Keras's first shuffle. (Keras's ``tf.data``
            path then also shuffles inside a buffer; that second, TensorFlow-seeded shuffle is
            not reproduced, so with ``shuffle=True`` the same windows come in another order.)
        seed: seed of the shuffle (None: a random one, as Keras).
        start_index: the first row of ``data`` used (default 0).
        end_index: the row after the last used (default ``len(data)``).

    Returns:
        A `TimeseriesDataset` of NumPy ``(x, y)`` batches (or ``x`` alone without targets).

    Raises:
        ValueError: for an index or stride outside the data, with Keras's messages.

    Example:
        >>> import numpy as np
        >>> from unrolled import utils
        >>> data = np.arange(10)
        >>> ds = utils.timeseries_dataset_from_array(data[:-3], data[3:], sequence_length=3,
        ...                                          batch_size=2)
        >>> x, y = ds[0]
        >>> x.tolist(), y.tolist()
        ([[0, 1, 2], [1, 2, 3]], [3, 4])

    """
    data = np.asarray(data)
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater. Received: "
                             f"start_index={start_index}")
        if start_index >= len(data):
            raise ValueError(f"`start_index` must be lower than the length of the data. "
                             f"Received: start_index={start_index}, for data of length "
                             f"{len(data)}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(f"`end_index` must be higher than `start_index`. Received: "
                             f"start_index={start_index}, and end_index={end_index}")
        if end_index >= len(data):
            raise ValueError(f"`end_index` must be lower than the length of the data. "
                             f"Received: end_index={end_index}, for data of length {len(data)}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: "
                             f"end_index={end_index}")
    _check("sampling_rate", sampling_rate, len(data))
    _check("sequence_stride", sequence_stride, len(data))
    start = start_index or 0
    end = len(data) if end_index is None else end_index
    num_seqs = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)[start:end]
        num_seqs = min(num_seqs, len(targets))
    positions = np.arange(0, max(num_seqs, 0), sequence_stride, dtype=np.int64)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(positions)
    return TimeseriesDataset(data[start:end], targets, positions, sequence_length,
                             sampling_rate, batch_size)
