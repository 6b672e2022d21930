"""``--verbose 2`` as Keras prints it: ``Epoch i/N`` then one line per epoch, no bar.

Keras 3's format (``keras.utils.Progbar`` with ``verbose=2``)::

    Epoch 1/10
    3/3 - 1s - 412ms/step - loss: 0.6931 - val_loss: 0.6929

Values above 1e-3 print with 4 decimals, smaller ones in scientific notation, in
Keras's order: loss, the metrics, then val_loss and the validation metrics.
"""

from __future__ import annotations

import sys
import time


def _per_step(seconds: float) -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _value(v: float) -> str:
    return f"{v:.4f}" if v > 1e-3 else f"{v:.4e}"


def keras_epoch_lines(stream=None):
    """Return a callback that prints Keras's ``verbose=2`` lines (fit with ``verbose=0``)."""
    from unrolled.callbacks import Callback

    class EpochLines(Callback):
        """Keras's ``verbose=2`` epoch lines."""

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()
            out = stream or sys.stdout
            out.write(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}\n")
            out.flush()

        def on_epoch_end(self, epoch, logs=None):
            elapsed = time.perf_counter() - self._start
            steps = int(self.params.get("steps") or 1)
            parts = [f"{steps}/{steps}", f"{elapsed:.0f}s", _per_step(elapsed / steps)]
            logs = logs or {}
            order = sorted(logs, key=lambda k: (k.startswith("val_"), k not in ("loss",
                                                                             "val_loss")))
            parts += [f"{k}: {_value(float(logs[k]))}" for k in order]
            out = stream or sys.stdout
            out.write(" - ".join(parts) + "\n")
            out.flush()

    return EpochLines()
