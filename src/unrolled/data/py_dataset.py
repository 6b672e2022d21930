"""`PyDataset`: Keras 3's base class for Python datasets that return whole batches."""

from __future__ import annotations

import collections
import multiprocessing
import pickle
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

_WORKER = {"dataset": None}


class PyDataset:
    """Base class for defining a parallel dataset using Python code (as `keras.utils.PyDataset`).

    Every `PyDataset` implements `__getitem__(index)`, returning a whole batch `(x, y)` or
    `(x, y, sample_weight)` of NumPy arrays, and `__len__`, the number of batches (or overrides
    `num_batches` to return `None` for an endless dataset). `on_epoch_begin` / `on_epoch_end` are
    called around every epoch. Batches are delivered in index order.

    Args:
        workers: number of threads (or processes) loading batches in parallel.
        use_multiprocessing: load in `workers` processes instead of threads (for CPU-bound
            Python). The dataset must then pickle; it is sent to fresh ("spawn") worker processes
            at the start of every pass over it, so changes made by `on_epoch_end` reach them
            (with `steps_per_epoch` shorter than a pass, at the next pass).
        max_queue_size: most batches loaded ahead of the consumer.

    Example:
        >>> import numpy as np
        >>> from unrolled.utils import PyDataset
        >>> class Squares(PyDataset):
        ...     def __len__(self):
        ...         return 3
        ...     def __getitem__(self, i):
        ...         x = np.full((2, 4, 1), i, "float32")
        ...         return x, x[:, -1] ** 2
        >>> len(Squares()), Squares()[2][1][0].tolist()
        (3, [4.0])

    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):
        if int(workers) < 1 or int(max_queue_size) < 1:
            raise ValueError(f"workers and max_queue_size must be >= 1; received "
                             f"workers={workers}, max_queue_size={max_queue_size}.")
        self._workers = int(workers)
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = int(max_queue_size)

    @property
    def workers(self) -> int:
        """Number of parallel loaders."""
        return getattr(self, "_workers", 1)

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = int(value)

    @property
    def use_multiprocessing(self) -> bool:
        """Whether the loaders are processes rather than threads."""
        return getattr(self, "_use_multiprocessing", False)

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = bool(value)

    @property
    def max_queue_size(self) -> int:
        """Most batches loaded ahead of the consumer."""
        return getattr(self, "_max_queue_size", 10)

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = int(value)

    def __getitem__(self, index: int):
        """Return batch number `index`."""
        raise NotImplementedError

    @property
    def num_batches(self) -> int | None:
        """Number of batches per epoch (`len(self)`), or `None` for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError("Implement `__len__` or the `num_batches` property.")

    def on_epoch_begin(self) -> None:
        """Call at the beginning of every epoch."""

    def on_epoch_end(self) -> None:
        """Call at the end of every epoch."""

    def __iter__(self) -> Iterator:
        """Yield the batches in order."""
        return load_in_order(self, range(self.num_batches))


def _set_worker_dataset(blob: bytes) -> None:
    _WORKER["dataset"] = pickle.loads(blob)


def _worker_item(index: int):
    return _WORKER["dataset"][index]


def _executor(dataset, workers: int) -> Executor:
    if getattr(dataset, "use_multiprocessing", False):
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_set_worker_dataset,
                                   initargs=(pickle.dumps(dataset),))
    return ThreadPoolExecutor(workers, thread_name_prefix="unrolled-pydataset")


def load_in_order(dataset, indices: Iterable[int]) -> Iterator:
    """Yield `dataset[i]` for `i` in `indices`, in order, loaded by the dataset's workers.

    With `workers == 1` and no multiprocessing the items load in the caller's thread; otherwise
    at most `max_queue_size` items are in flight. Closing the generator stops the workers.
    """
    workers = getattr(dataset, "workers", 1)
    if workers <= 1 and not getattr(dataset, "use_multiprocessing", False):
        for i in indices:
            yield dataset[i]
        return
    ahead = max(getattr(dataset, "max_queue_size", 10), workers)
    executor = _executor(dataset, workers)
    get = _worker_item if getattr(dataset, "use_multiprocessing", False) else dataset.__getitem__
    pending: collections.deque = collections.deque()
    try:
        it = iter(indices)
        for i in it:
            pending.append(executor.submit(get, i))
            if len(pending) >= ahead:
                break
        while pending:
            result = pending.popleft().result()
            for i in it:
                pending.append(executor.submit(get, i))
                break
            yield result
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
