"""Data room: readers, padding and one-hot helpers, bundled datasets, streaming batches.

Readers for UCR/UEA `.ts` and CSV; `BatchStream`, `PyDataset` and `Prefetcher` for input that
comes as batches from generators or Python datasets.

Imports only NumPy and the standard library.
"""

from unrolled.data.csv import CSVInfo, read_csv
from unrolled.data.datasets import DatasetInfo, available, info, load, load_split
from unrolled.data.padding import Batch, bucket_length, pad_to_length
from unrolled.data.prefetch import Prefetcher
from unrolled.data.py_dataset import PyDataset
from unrolled.data.sequences import pad_sequences, to_categorical
from unrolled.data.streaming import BatchStream
from unrolled.data.ts import TSInfo, read_ts

__all__ = [
    "Batch",
    "BatchStream",
    "CSVInfo",
    "DatasetInfo",
    "Prefetcher",
    "PyDataset",
    "TSInfo",
    "available",
    "bucket_length",
    "info",
    "load",
    "load_split",
    "pad_sequences",
    "pad_to_length",
    "read_csv",
    "read_ts",
    "to_categorical",
]
