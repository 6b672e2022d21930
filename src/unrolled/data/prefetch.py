"""A background thread that prepares the next batches while the device runs the current step."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable

_END = object()


class _Raised:
    def __init__(self, error: BaseException):
        self.error = error


class Prefetcher:
    """Iterate over `iterable` in a background thread, `depth` items ahead (a bounded queue).

    The producer thread runs the source (reading, padding, and an optional `transform`, e.g.
    placing the batch on the devices), so that work overlaps the consumer's step. The consumer
    time spent blocked waiting for an item is measured: `wait_seconds` over the loop's time is
    the fraction of step time spent waiting on input; `produce_seconds` is the producer's own
    time (source and transform), what input costs per item whether or not it overlapped. An
    error in the producer is raised in the consumer; `close()` (or leaving a `with` block)
    stops the thread.

    Args:
        iterable: the items (e.g. `BatchStream.epoch()`).
        depth: most items prepared ahead.
        transform: optional function applied to every item in the producer thread.

    Example:
        >>> with Prefetcher(range(5), depth=2, transform=lambda i: i * i) as items:
        ...     list(items)
        [0, 1, 4, 9, 16]

    """

    def __init__(self, iterable: Iterable, depth: int = 2, transform: Callable | None = None):
        if int(depth) < 1:
            raise ValueError(f"depth must be >= 1; received {depth}.")
        self._queue: queue.Queue = queue.Queue(maxsize=int(depth))
        self._stop = threading.Event()
        self._iterable, self._transform = iterable, transform
        self._thread = threading.Thread(target=self._produce, name="unrolled-prefetch",
                                        daemon=True)
        self._started = self._finished = False
        self.wait_seconds = 0.0
        self.produce_seconds = 0.0
        self.items = 0

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            iterator = iter(self._iterable)
            while True:
                start = time.perf_counter()
                item = next(iterator, _END)
                if item is _END:
                    break
                if self._transform is not None:
                    item = self._transform(item)
                self.produce_seconds += time.perf_counter() - start
                if not self._put(item):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            self._put(_Raised(error))
            return
        finally:
            close = getattr(self._iterable, "close", None)
            if close is not None:  # a generator: run its cleanup (e.g. stop loader workers)
                close()
        self._put(_END)

    def __iter__(self) -> Prefetcher:
        """Start the producer (once) and return the iterator."""
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def __next__(self):
        """Return the next item, waiting for the producer if it is behind."""
        if self._finished:
            raise StopIteration
        iter(self)
        start = time.perf_counter()
        item = self._queue.get()
        self.wait_seconds += time.perf_counter() - start
        if item is _END:
            self._finished = True
            raise StopIteration
        if isinstance(item, _Raised):
            self._finished = True
            raise item.error
        self.items += 1
        return item

    def close(self) -> None:
        """Stop the producer thread and drop prepared items."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._started:
            self._thread.join(timeout=10)
        self._finished = True

    def __enter__(self) -> Prefetcher:
        """Return self (the thread starts at the first item)."""
        return self

    def __exit__(self, *exc) -> None:
        """Close the prefetcher."""
        self.close()
