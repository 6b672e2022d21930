"""`TensorBoard`: Keras's event files (scalars per epoch, weight histograms) without TensorFlow.

The files are written with the ``tensorboard`` package's own protocol buffers and event writer
(the ``tensorboard`` extra), in Keras 3's layout: ``log_dir/train`` and ``log_dir/validation``,
tags ``epoch_loss``, ``epoch_<metric>``, ``epoch_learning_rate``,
``evaluation_<name>_vs_iterations``, ``batch_<name>`` (with ``update_freq``) and
``<weight path>/histogram``.
"""

from __future__ import annotations

import os
import time

import numpy as np

from unrolled.training.callbacks_base import Callback

HISTOGRAM_BINS = 30  # tf.summary.histogram's default bucket count


def _tensorboard():
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("The TensorBoard callback writes event files with the `tensorboard` "
                          "package; install it with pip install 'unrolled[tensorboard]'.") from exc
    return event_pb2, summary_pb2, EventFileWriter


def histogram_proto(values: np.ndarray, summary_pb2):
    """Return a ``HistogramProto`` of ``values`` in ``HISTOGRAM_BINS`` equal-width buckets."""
    v = np.asarray(values, np.float64).ravel()
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    counts, edges = np.histogram(v, bins=HISTOGRAM_BINS, range=(lo, hi) if hi > lo else
                                 (lo - 0.5, lo + 0.5))
    return summary_pb2.HistogramProto(
        min=lo, max=hi, num=float(v.size), sum=float(v.sum()), sum_squares=float(v @ v),
        bucket_limit=edges[1:].tolist(), bucket=counts.astype(float).tolist())


class TensorBoard(Callback):
    """Write TensorBoard logs: the epoch's loss and metrics, and weight histograms.

    Args:
        log_dir: the directory TensorBoard reads (``tensorboard --logdir log_dir``).
        histogram_freq: write weight histograms every this many epochs (0: never).
        write_graph: accepted for Keras compatibility; no graph is written (XLA has none to
            show in TensorBoard's graph view).
        write_images: must be False (weights as images are not written).
        write_steps_per_second: also log ``epoch_steps_per_second``.
        update_freq: ``"epoch"``, ``"batch"`` or N: also log ``batch_<name>`` every N batches.
        profile_batch: must be 0 (use ``jax.profiler`` to profile).
        embeddings_freq: must be 0 (the projector is not written).
        embeddings_metadata: must be None.

    Raises:
        ValueError: for options unrolled does not write (images, profiling, embeddings).
        ImportError: at the first write, when the ``tensorboard`` package is missing.

    Example:
        >>> import tempfile
        >>> from unrolled import callbacks
        >>> tb = callbacks.TensorBoard(log_dir=tempfile.mkdtemp(), histogram_freq=1)

    """

    def __init__(self, log_dir="logs", histogram_freq: int = 0, write_graph: bool = True,
                 write_images: bool = False, write_steps_per_second: bool = False,
                 update_freq="epoch", profile_batch=0, embeddings_freq: int = 0,
                 embeddings_metadata=None):
        super().__init__()
        for name, value in (("write_images", write_images), ("profile_batch", profile_batch),
                            ("embeddings_freq", embeddings_freq),
                            ("embeddings_metadata", embeddings_metadata)):
            if value:
                raise ValueError(f"TensorBoard: {name}={value!r} is not supported by unrolled; "
                                 "leave it at its default (profile with jax.profiler).")
        update_freq = 1 if update_freq == "batch" else update_freq
        if update_freq != "epoch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive "
                             f"number of batches; received {update_freq!r}.")
        if not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be a non-negative integer; "
                             f"received {histogram_freq!r}.")
        self.log_dir, self.histogram_freq = os.fspath(log_dir), histogram_freq
        self.write_graph, self.write_steps_per_second = write_graph, write_steps_per_second
        self.update_freq = update_freq
        self._writers: dict = {}
        self._global_train_batch = 0
        self._epoch_start = 0.0
        self._epoch_iterations = 0

    # ------------------------------------------------------------ writing
    def _writer(self, which: str):
        if which not in self._writers:
            _, _, writer_cls = _tensorboard()
            self._writers[which] = writer_cls(os.path.join(self.log_dir, which))
        return self._writers[which]

    def _write(self, which: str, step: int, values) -> None:
        event_pb2, summary_pb2, _ = _tensorboard()
        summary = summary_pb2.Summary(value=[v(summary_pb2) for v in values])
        self._writer(which).add_event(event_pb2.Event(wall_time=time.time(), step=int(step),
                                                      summary=summary))

    def _scalars(self, which: str, step: int, items: dict) -> None:
        values = [lambda pb, t=tag, v=value: pb.Summary.Value(tag=t, simple_value=float(v))
                  for tag, value in items.items() if np.ndim(value) == 0]
        if values:
            self._write(which, step, values)

    # ------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        """Start counting batches."""
        self._global_train_batch = 0

    def on_epoch_begin(self, epoch, logs=None):
        """Note the time and iteration for ``steps_per_second``."""
        self._epoch_start = time.time()
        self._epoch_iterations = int(getattr(self.model.optimizer, "iterations", 0))

    def on_train_batch_begin(self, batch, logs=None):
        """Count the batch."""
        self._global_train_batch += 1

    def on_train_batch_end(self, batch, logs=None):
        """Write ``batch_<name>`` every ``update_freq`` batches."""
        if self.update_freq != "epoch" and self._global_train_batch % self.update_freq == 0:
            self._scalars("train", self._global_train_batch,
                          {f"batch_{k}": v for k, v in (logs or {}).items()})

    def on_epoch_end(self, epoch, logs=None):
        """Write the epoch's scalars, and the weight histograms every ``histogram_freq``."""
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = self.model.optimizer
        if getattr(optimizer, "_lr", None) is not None or getattr(optimizer, "_schedule", None):
            train["learning_rate"] = float(optimizer.learning_rate)  # not an optax one's
        if self.write_steps_per_second:
            steps = int(optimizer.iterations) - self._epoch_iterations
            train["steps_per_second"] = steps / max(time.time() - self._epoch_start, 1e-9)
        self._scalars("train", epoch, {f"epoch_{k}": v for k, v in train.items()})
        if val:
            self._scalars("validation", epoch, {f"epoch_{k}": v for k, v in val.items()})
            self._scalars("validation", int(optimizer.iterations),
                          {f"evaluation_{k}_vs_iterations": v for k, v in val.items()})
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write("train", epoch, [
                lambda pb, w=w: pb.Summary.Value(
                    tag=f"{w.path.replace(':', '_')}/histogram",
                    histo=histogram_proto(np.asarray(w.value), pb))
                for layer in self.model.layers for w in layer.weights])
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        """Close the event files."""
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


