"""``keras.preprocessing``'s names for sequences: ``sequence.pad_sequences`` and time series.

Example:
    >>> from unrolled import preprocessing
    >>> preprocessing.sequence.pad_sequences([[1, 2], [3]], padding="post").tolist()
    [[1, 2], [3, 0]]

"""

from unrolled.data.timeseries import timeseries_dataset_from_array
from unrolled.preprocessing import sequence

__all__ = ["sequence", "timeseries_dataset_from_array"]
