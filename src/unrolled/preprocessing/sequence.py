"""``keras.preprocessing.sequence``: ``pad_sequences`` (Keras's semantics, NumPy out)."""

from unrolled.data.sequences import pad_sequences

__all__ = ["pad_sequences"]
