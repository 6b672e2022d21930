"""`PyDataset` workers and the `Prefetcher` thread.

Oracle: the dataset read one batch at a time in order (workers must change only the speed,
never the batches or their order); for the prefetcher, the items of the plain iterable.
"""

import threading
import time

import numpy as np
import pytest

from unrolled.data import BatchStream, Prefetcher
from unrolled.utils import PyDataset


class Slow(PyDataset):
    """Batch i holds the value i; later batches load faster, so threads finish out of order."""

    def __init__(self, n=6, **kwargs):
        super().__init__(**kwargs)
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        time.sleep(0.02 * (self.n - i))
        return np.full((2, 3, 1), i, "float32"), np.full((2, 1), i, "float32")


def _values(dataset):
    return [int(b.x[0, 0, 0]) for b in BatchStream(dataset).epoch()]


@pytest.mark.parametrize("workers, multiprocessing", [(3, False), (2, True)])
def test_workers_deliver_the_batches_in_order(workers, multiprocessing):
    dataset = Slow(workers=workers, use_multiprocessing=multiprocessing, max_queue_size=2)
    assert _values(dataset) == list(range(6)) == _values(Slow())


def test_pydataset_arguments_are_validated_and_len_gives_num_batches():
    with pytest.raises(ValueError, match="workers and max_queue_size must be >= 1"):
        Slow(workers=0)
    d = Slow(workers=2, max_queue_size=3)
    assert (d.workers, d.use_multiprocessing, d.max_queue_size, d.num_batches) == (2, False, 3, 6)


def test_prefetcher_keeps_order_measures_waiting_and_overlaps_the_consumer():
    def produce():
        for i in range(5):
            time.sleep(0.03)
            yield i

    with Prefetcher(produce(), depth=2) as items:
        got = []
        for i in items:
            got.append(i)
            time.sleep(0.03)  # the "device step", overlapped with producing the next item
    assert got == list(range(5)) and items.items == 5
    assert 0.0 < items.wait_seconds < 5 * 0.03  # waited for the first item, not for all
    assert items.produce_seconds >= 5 * 0.03 * 0.9  # the producer's own time, every item


def test_prefetcher_applies_transform_in_the_background_and_raises_producer_errors():
    names = []

    def transform(i):
        names.append(threading.current_thread().name)
        if i == 2:
            raise RuntimeError("batch 2 is corrupt")
        return i * 10

    items = Prefetcher(range(5), transform=transform)
    assert next(items) == 0 and next(items) == 10
    with pytest.raises(RuntimeError, match="batch 2 is corrupt"):
        next(items)
    with pytest.raises(StopIteration):
        next(items)
    assert set(names) == {"unrolled-prefetch"}
    items.close()


def test_prefetcher_close_stops_an_endless_producer():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    items = Prefetcher(endless(), depth=3)
    assert [next(items) for _ in range(4)] == [0, 1, 2, 3]
    items.close()
    assert not items._thread.is_alive()
    with pytest.raises(ValueError, match="depth must be >= 1"):
        Prefetcher([], depth=0)
