"""Streaming input for fit / evaluate / predict: generators, iterables and `PyDataset`s.

As in Keras 3, ``x`` may be a Python generator, any iterable of ``(x, y[, sample_weight])``
batches, a function returning such an iterator, or a `unrolled.utils.PyDataset` (also Keras's
own); ``y`` and ``batch_size`` then come from the batches. Each batch goes through
`unrolled.data.BatchStream`, which pads the rows of a short batch to the first batch's rows with
weight 0 (a short last batch compiles nothing new), and a `Prefetcher` thread, so the next batch
is read and checked while the device runs this one.

Sequence lengths. A batch of a new length compiles the step once for that length (exact, as
Keras on JAX). When the model begins with ``Masking(v)`` and its outputs have no time axis, the
lengths are bucketed to powers of two, padded with ``v``: the masked steps change nothing, so a
stream of many lengths compiles a few steps instead of one per length.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from unrolled.data.prefetch import Prefetcher
from unrolled.data.streaming import BatchStream
from unrolled.distribution.placement import dataset_shard
from unrolled.training import data, labels


def is_stream(x) -> bool:
    """Return whether ``x`` is a source of batches rather than arrays."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str, bytes, data.Arrays)):
        return False
    if hasattr(x, "shape") and hasattr(x, "dtype"):  # a jax or other array
        return False
    if isinstance(x, Iterator) or (callable(x) and not isinstance(x, Iterable)):
        return True
    return isinstance(x, Iterable) or (hasattr(x, "__getitem__") and hasattr(x, "__len__"))


def check_stream_arguments(what: str, y=None, batch_size=None, sample_weight=None,
                           class_weight=None) -> None:
    """Keras's rule: with a stream, the labels, weights and batch size come from the batches."""
    given = [name for name, value in (("y", y), ("batch_size", batch_size),
                                      ("sample_weight", sample_weight)) if value is not None]
    if given:
        raise ValueError(
            f"{what}: x is a generator, iterable or PyDataset, which yields whole batches "
            "(x, y[, sample_weight]); do not pass " + ", ".join(given) + " as well (Keras "
            "refuses them too). Put them in the batches the source yields.")
    if class_weight is not None and not isinstance(class_weight, dict):
        raise ValueError("class_weight must be a dict {class index: weight}.")


class StreamFeed:
    """One source of batches, checked against the model, as ``(x, y, sw, valid)`` per step.

    Args:
        model: the model; an unbuilt one is built from the first batch (`first_batch`) and
            its lengths are not bucketed.
        source: the generator, iterable, function or PyDataset.
        steps: batches per epoch (``steps_per_epoch``/``steps``), or None for one pass.
        what: the calling method, for errors.
        loss: the `CompileLoss` (None for predict: no labels needed).
        class_weight: ``{class: weight}``, applied to every batch as `fit` does.
        placed: under a distribution, its `training.distributed.Placement`: each process reads
            its shard (`dataset_shard`) and every step is a global batch on the mesh.

    """

    def __init__(self, model, source, steps, what: str, loss=None, class_weight=None,
                 placed=None):
        self.model, self.what, self.loss, self.class_weight = model, what, loss, class_weight
        self.placed = placed
        buckets, pad = None, 0.0
        spec = model._training_spec() if model.built else None
        if spec is not None and spec.mask_value is not None and all(
                s is not None and len(s) == 2 for s in spec.output_shapes):
            buckets, pad = "pow2", spec.mask_value
        shard = (0, 1) if placed is None else dataset_shard(placed.dist)
        self.stream = BatchStream(source, steps_per_epoch=steps, buckets=buckets, pad_value=pad,
                                  shard=shard)
        self._peeked = None
        self._spec = None
        self._shapes: dict[tuple, list] = {}

    @property
    def spec(self):
        """The model's `ModelSpec` (built from the first batch if it was not built)."""
        if self._spec is None:
            if not self.model.built:
                self.model.build((None, *np.shape(self.first_batch().x)[1:]))
            self._spec = self.model._training_spec()
        return self._spec

    @property
    def steps(self) -> int | None:
        """Batches per epoch when known."""
        return self.stream.num_batches

    def first_batch(self):
        """Read the first batch of the first epoch ahead (to build the model and metrics)."""
        if self._peeked is None:
            it = self.stream.epoch()
            first = next(it, None)
            if first is None:
                raise ValueError(f"{self.what}: the input yielded no batches.")
            self._peeked = (first, it)
        return self._peeked[0]

    def epoch(self) -> Iterator[tuple]:
        """Yield ``(x, y, sw, valid)`` for every batch of one epoch, read ahead in a thread."""
        if self._peeked is not None:
            first, rest = self._peeked
            self._peeked = None
            batches = _chain_first(first, rest)
        else:
            batches = self.stream.epoch()
        placed = self.placed
        if placed is None:
            return _prefetched(Prefetcher(batches, depth=2, transform=self.checked))
        count = self.stream.shard[1]
        if placed.multi and self.stream.buckets is not None:  # agree on the length first
            return placed.stream_batches(
                _prefetched(Prefetcher(batches, depth=2, transform=self.checked)), count,
                self.stream.pad_value, agree_length=True)

        def place(batch):
            return next(placed.stream_batches([self.checked(batch)], count, None, False))

        return _prefetched(Prefetcher(batches, depth=2, transform=place))

    def checked(self, batch) -> tuple:
        """Return ``(x, y, sw, valid)`` of a `Batch`, checked as arrays given to `fit` are."""
        x = data.check_inputs(batch.x, self.spec, self.what)
        valid = (np.arange(x.shape[0]) < batch.rows).astype(np.float32)
        if self.loss is None:
            return x, None, None, valid
        if batch.y is None:
            raise ValueError(f"{self.what}: a batch holds no labels; the source must yield "
                             "(x, y) or (x, y, sample_weight) batches.")
        shapes = self.output_shapes(x)
        y = labels.check_labels(batch.y, x, shapes, self.loss.losses, self.spec.output_names,
                                self.spec.multi_output, self.what)
        sw = batch.sample_weight
        if self.class_weight is not None:
            sw = sw * labels.class_weight_to_sample_weight(y, self.class_weight)
        return x, y, sw, valid

    def output_shapes(self, x) -> list:
        """Return the model's output shapes for inputs like ``x`` (cached per input shape)."""
        key = tuple(np.shape(x))
        if key not in self._shapes:
            self._shapes[key] = data.output_shapes(self.spec, x)
        return self._shapes[key]


def _chain_first(first, rest):
    yield first
    yield from rest


def _prefetched(prefetcher: Prefetcher):
    with prefetcher as batches:
        yield from batches


def predict_stream(predictor, model, source, steps):
    """Return the model's outputs for every batch of ``source``, concatenated (NumPy)."""
    placed = predictor.placement()
    feed = StreamFeed(model, source, steps, "predict", placed=placed)
    spec = feed.spec  # builds an unbuilt model from the first batch, on this thread
    outs = []
    if placed is not None:  # global batches: keep the rows of every process that are real
        for out, valid in predictor.placed_outputs(placed, spec, feed.epoch()):
            keep = valid > 0
            outs.append([o[keep] for o in out] if isinstance(out, list) else out[keep])
    for x, _, _, valid in feed.epoch() if placed is None else ():
        out = predictor(spec, x, x.shape[0])
        rows = int(valid.sum())
        outs.append([o[:rows] for o in out] if isinstance(out, list) else out[:rows])
    if not outs:
        raise ValueError("predict: the input yielded no batches.")
    if isinstance(outs[0], list):
        return [np.concatenate(parts, axis=0) for parts in zip(*outs, strict=True)]
    return np.concatenate(outs, axis=0)
