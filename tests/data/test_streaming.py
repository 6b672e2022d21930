"""`BatchStream`: fixed-shape batches from generators, iterables and PyDatasets.

Oracles: the arrays themselves (a padded batch holds the input unchanged in its real rows and
steps, `pad_value` elsewhere, weight 0 on padding), and Keras 3's `EpochIterator` for which
batches each epoch sees with `steps_per_epoch` (oracle 1).
"""

import itertools
import warnings

import numpy as np
import pytest

from unrolled.data import BatchStream, PyDataset, bucket_length, pad_to_length


def _batches(lengths, rows=4, features=2, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for t in lengths:
        x = rng.normal(size=(rows, t, features)).astype("float32")
        out.append((x, rng.normal(size=(rows, 1)).astype("float32")))
    return out


@pytest.mark.parametrize("length, buckets, want", [(1, "pow2", 1), (5, "pow2", 8), (8, "pow2", 8),
                                                   (9, "pow2", 16), (100, [64, 128], 128),
                                                   (64, [128, 64], 64)])
def test_bucket_length(length, buckets, want):
    assert bucket_length(length, buckets) == want


def test_bucket_errors_say_what_to_do():
    with pytest.raises(ValueError, match="add a bucket of at least 300"):
        bucket_length(300, [64, 256])
    with pytest.raises(ValueError, match="'pow2' or a list"):
        BatchStream([], buckets="powers")


def test_variable_lengths_are_padded_to_buckets_and_rows_to_the_batch_size():
    source = _batches([3, 5, 9]) + [(np.ones((2, 4, 2), "float32"), np.ones((2, 1), "float32"))]
    out = list(BatchStream(source, buckets="pow2", pad_value=-1.0).epoch())
    assert [b.x.shape for b in out] == [(4, 4, 2), (4, 8, 2), (4, 16, 2), (4, 4, 2)]
    assert [(b.rows, b.length) for b in out] == [(4, 3), (4, 5), (4, 9), (2, 4)]
    for (x, y), b in zip(source, out, strict=True):
        rows, t = x.shape[:2]
        np.testing.assert_array_equal(b.x[:rows, :t], x)
        assert (b.x[:rows, t:] == -1.0).all()  # padded steps hold pad_value
        np.testing.assert_array_equal(b.y[:rows], y)
        np.testing.assert_array_equal(b.sample_weight, [1.0] * rows + [0.0] * (4 - rows))
        assert (b.x[rows:] == 0).all() and (b.y[rows:] == 0).all()


def test_given_sample_weights_and_sequence_targets_are_padded_with_weight_zero():
    x = np.ones((3, 5, 1), "float32")
    y = np.arange(15, dtype="float32").reshape(3, 5, 1)
    w = np.array([0.5, 1.0, 2.0], "float32")
    (b,) = BatchStream([(x, y, w)], batch_size=4, buckets=[8], sequence_targets=True).epoch()
    assert b.y.shape == (4, 8, 1) and b.sample_weight.shape == (4, 8)
    np.testing.assert_array_equal(b.y[:3, :5], y)
    np.testing.assert_array_equal(b.sample_weight[:3, :5], np.repeat(w[:, None], 5, 1))
    assert b.sample_weight[:, 5:].sum() == 0 and b.sample_weight[3].sum() == 0
    longer = pad_to_length(b, 16, sequence_targets=True)
    assert longer.x.shape == (4, 16, 1) and longer.sample_weight.shape == (4, 16)
    assert longer.sample_weight.sum() == b.sample_weight.sum()


@pytest.mark.parametrize("bad, match", [
    ((np.ones((4, 6, 2)), np.ones((4, 1))), "for varying sequence lengths pass buckets"),
    ((np.ones((4, 3, 5)), np.ones((4, 1))), "same shapes apart from the rows"),
    ((np.ones((4, 3, 2)), np.ones((3, 1))), "x has 4 rows but y has 3"),
    ((np.ones((6, 3, 2)), np.ones((6, 1))), "pass batch_size= the largest batch"),
    ({"x": np.ones((4, 3, 2))}, "must yield x, \\(x,\\), \\(x, y\\)"),
])
def test_inconsistent_batches_raise_messages_that_say_what_to_do(bad, match):
    first = (np.ones((4, 3, 2), "float32"), np.ones((4, 1), "float32"))
    stream = BatchStream(iter([first, bad]))
    with pytest.raises(ValueError, match=match):
        list(stream.epoch())


def test_a_one_shot_generator_is_refused_for_a_second_epoch():
    stream = BatchStream(b for b in _batches([3, 3]))
    assert len(list(stream.epoch())) == 2
    with pytest.raises(ValueError, match="function returning a new generator"):
        list(stream.epoch())


def test_a_generator_function_is_called_every_epoch():
    stream = BatchStream(lambda: iter(_batches([3, 3])))
    first, second = list(stream.epoch()), list(stream.epoch())
    assert len(first) == len(second) == 2
    np.testing.assert_array_equal(first[1].x, second[1].x)


def _counter(i):
    return np.full((2, 3, 1), i, "float32"), np.zeros((2, 1), "float32")


class Counting(PyDataset):
    def __init__(self, n, log=None, **kwargs):
        super().__init__(**kwargs)
        self.n, self.log = n, log if log is not None else []

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return _counter(i)

    def on_epoch_begin(self):
        self.log.append("begin")

    def on_epoch_end(self):
        self.log.append("end")


def _keras_epochs(keras, source, steps, epochs):
    from keras.src.trainers.epoch_iterator import EpochIterator

    it = EpochIterator(x=source, steps_per_epoch=steps)
    out = []
    for _ in range(epochs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out.append(([int(d[0][0][0, 0, 0]) for _, _, d in it], len(caught)))
    return out


def _our_epochs(source, steps, epochs):
    stream = BatchStream(source, steps_per_epoch=steps)
    out = []
    for _ in range(epochs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out.append(([int(b.x[0, 0, 0]) for b in stream.epoch()], len(caught)))
    return out


def test_steps_per_epoch_continues_a_generator_across_epochs_as_keras(keras):
    def endless():
        yield from (_counter(i) for i in itertools.count())

    want = _keras_epochs(keras, endless(), 3, 2)
    assert want == [([0, 1, 2], 0), ([3, 4, 5], 0)]
    assert _our_epochs(endless(), 3, 2) == want


def test_steps_per_epoch_over_a_pydataset_runs_out_and_restarts_as_keras(keras):
    class KerasCounting(keras.utils.PyDataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return _counter(i)

    want = _keras_epochs(keras, KerasCounting(), 3, 3)
    assert want == [([0, 1, 2], 0), ([3, 4], 1), ([0, 1, 2], 0)]  # one "ran out" warning
    assert _our_epochs(Counting(5), 3, 3) == want
    # A Keras PyDataset streams through BatchStream unchanged (same protocol).
    assert _our_epochs(KerasCounting(), 3, 3) == want


def test_pydataset_hooks_run_around_every_epoch():
    log = []
    stream = BatchStream(Counting(2, log))
    for _ in range(2):
        assert [int(b.x[0, 0, 0]) for b in stream.epoch()] == [0, 1]
    assert log == ["begin", "end", "begin", "end"]


def test_a_shard_reads_only_its_batches_and_pads_a_short_shard_with_a_zero_weight_step():
    read = []

    class Logged(Counting):
        def __getitem__(self, i):
            read.append(i)
            return _counter(i)

    stream = BatchStream(Logged(5), shard=(1, 2))
    assert stream.num_batches == 3
    out = list(stream.epoch())
    assert read == [1, 3]
    assert [int(b.x[0, 0, 0]) for b in out[:2]] == [1, 3]
    assert out[2].rows == 0 and out[2].sample_weight.sum() == 0 and out[2].x.shape == (2, 3, 1)
    with pytest.raises(ValueError, match="0 <= index < count"):
        BatchStream([], shard=(2, 2))
