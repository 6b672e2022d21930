"""Data room: readers (UCR/UEA `.ts`, CSV), padding and one-hot helpers, bundled datasets.

Imports only NumPy and the standard library.
"""

from unrolled.data.csv import CSVInfo, read_csv
from unrolled.data.datasets import DatasetInfo, available, info, load, load_split
from unrolled.data.sequences import pad_sequences, to_categorical
from unrolled.data.ts import TSInfo, read_ts

__all__ = [
    "CSVInfo",
    "DatasetInfo",
    "TSInfo",
    "available",
    "info",
    "load",
    "load_split",
    "pad_sequences",
    "read_csv",
    "read_ts",
    "to_categorical",
]
