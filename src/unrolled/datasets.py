"""Bundled real datasets and readers for the time series files users already have.

Example:
>>> from unrolled import datasets
>>> (x_train, y_train), (x_test, y_test) = datasets.load("JapaneseVowels")
>>> x_train.shape, x_test.shape
((270, 29, 12), (370, 29, 12))

"""

from unrolled.data.csv import read_csv
from unrolled.data.datasets import available, info, load, load_split
from unrolled.data.ts import read_ts

__all__ = ["available", "info", "load", "load_split", "read_csv", "read_ts"]
