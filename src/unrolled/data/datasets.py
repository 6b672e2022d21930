"""Small real datasets bundled with the package (no network): load, list, describe.

The files live in `unrolled/data/bundled/` as gzip-compressed UCR/UEA `.ts` files and are read
with `importlib.resources`, so they load from a source tree or an installed wheel alike. Sources
and citations are in `bundled/CITATION.md` and in `info(name).citation`.
"""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from unrolled.data.sequences import to_categorical
from unrolled.data.ts import TSInfo, read_ts

_UCR = (
    "H. A. Dau, A. Bagnall, K. Kamgar, C.-C. M. Yeh, Y. Zhu, S. Gharghabi, C. A. Ratanamahatana "
    "and E. Keogh. The UCR time series archive. IEEE/CAA Journal of Automatica Sinica, "
    "6(6):1293-1305, 2019."
)
_UEA = (
    "A. Bagnall, H. A. Dau, J. Lines, M. Flynn, J. Large, A. Bostrom, P. Southam and E. Keogh. "
    "The UEA multivariate time series classification archive, 2018. arXiv:1811.00075, 2018."
)
_AEON = "Files taken from the aeon package (BSD-3-Clause), https://github.com/aeon-toolkit/aeon."


@dataclass(frozen=True)
class _Spec:
    name: str
    description: str
    citation: str


_SPECS = (
    _Spec(
        name="ItalyPowerDemand",
        description=(
            "Daily Italian electrical power demand, 24 hourly values per day (univariate). "
            "Two classes ('1', '2'): days from October to March vs days from April to "
            "September. "
            "67 train / 1029 test sequences."
        ),
        citation=(
            f"{_UCR} Original source: E. Keogh, L. Wei, X. Xi, S. Lonardi, J. Shieh and "
            "S. Sirowy. Intelligent Icons: Integrating Lite-Weight Data Mining and Visualization "
            "into GUI Operating Systems. ICDM 2006. " + _AEON
        ),
    ),
    _Spec(
        name="JapaneseVowels",
        description=(
            "Nine male speakers uttering the Japanese vowels /ae/: 12 LPC cepstrum coefficients "
            "per frame, 7 to 29 frames per utterance (unequal lengths, zero-padded at the end). "
            "Classes '1'..'9' = the speaker. 270 train / 370 test sequences."
        ),
        citation=(
            f"{_UEA} Original source: M. Kudo, J. Toyama and M. Shimbo. Multidimensional Curve "
            "Classification Using Passing-Through Regions. Pattern Recognition Letters, "
            "20(11-13):1103-1111, 1999 (UCI Machine Learning Repository, Japanese Vowels). " + _AEON
        ),
    ),
)


@dataclass(frozen=True, eq=False)
class DatasetInfo:
    """Description of a bundled dataset, as returned by `info`.

    Args:
        name: the dataset's canonical name.
        description: what the sequences and classes are.
        class_labels: the raw class labels; class index `k` of `load` is `class_labels[k]`.
        citation: whom to cite (archive, original source, file provenance).
        train_shape: `x_train.shape` as returned by `load`, `(N, T, F)`.
        test_shape: `x_test.shape` as returned by `load`.
        train_lengths: `(N,)` int64, the true (unpadded) length of each training sequence.
        test_lengths: `(N,)` int64, the true length of each test sequence.

    """

    name: str
    description: str
    class_labels: tuple[str, ...]
    citation: str
    train_shape: tuple[int, int, int]
    test_shape: tuple[int, int, int]
    train_lengths: np.ndarray = field(repr=False)
    test_lengths: np.ndarray = field(repr=False)

    @property
    def num_classes(self) -> int:
        """The number of classes `C`."""
        return len(self.class_labels)


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _spec(name: str) -> _Spec:
    if not isinstance(name, str):
        raise TypeError(f"Dataset name must be a string, found {type(name).__name__}.")
    for spec in _SPECS:
        if _key(spec.name) == _key(name):
            return spec
    raise ValueError(f"Unknown dataset {name!r}. Available datasets: {available()}.")


@functools.cache
def _read(filename: str) -> tuple[np.ndarray, np.ndarray, TSInfo]:
    resource = resources.files(__package__).joinpath("bundled").joinpath(filename)
    stream = io.BytesIO(resource.read_bytes())
    stream.name = filename
    return read_ts(stream)


def _splits(spec: _Spec) -> tuple[tuple[np.ndarray, np.ndarray, TSInfo], ...]:
    return _read(f"{spec.name}_TRAIN.ts.gz"), _read(f"{spec.name}_TEST.ts.gz")


def load_split(
    name: str, split: str = "train", pad_value: float = 0.0
) -> tuple[np.ndarray, np.ndarray, TSInfo]:
    """Return one split of a bundled dataset as `read_ts` reads it: raw labels, own length.

    Args:
        name: a name from `available()` (as in `load`).
        split: `"train"` or `"test"`.
        pad_value: the value after each shorter sequence's end (default 0.0).

    Returns:
        `(x, y, info)`: `x` float32 `(N, T, F)` padded to this split's longest sequence, `y` the
        class labels as strings, `info` the `TSInfo` (lengths, class labels).

    Raises:
        ValueError: unknown `name` or `split`.

    Example:
    >>> x, y, info = load_split("JapaneseVowels", "test", pad_value=-1.0)
    >>> x.shape, float(x[0, info.lengths[0], 0])
    ((370, 29, 12), -1.0)

    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', found {split!r}.")
    x, y, info = _splits(_spec(name))[split == "test"]
    x = x.copy()  # the cache stays intact
    for i, length in enumerate(info.lengths):
        x[i, length:] = pad_value
    return x, y.copy(), info


def available() -> list[str]:
    """List the bundled datasets.

    Returns:
        The canonical dataset names, e.g. `["ItalyPowerDemand", "JapaneseVowels"]`.

    Example:
    >>> "ItalyPowerDemand" in available()
    True

    """
    return [spec.name for spec in _SPECS]


def load(
    name: str, one_hot: bool = False
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load a bundled dataset's train and test splits.

    Both splits are zero-padded at the end to the same length `T` (the longest sequence over both
    splits), so a `Masking(0.0)` layer recovers the true lengths (also in `info(name)`).

    Args:
        name: a name from `available()`, any case, `_`/`-`/spaces ignored
            (`"italy_power_demand"` works).
        one_hot: return float32 one-hot labels `(N, C)` instead of int64 class indices `(N,)`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` float32 `(N, T, F)`; `y` int64 class indices
        `0..C-1` in the order of `info(name).class_labels`, or float32 one-hot rows.

    Raises:
        ValueError: `name` is not a bundled dataset (the message lists the available ones).

    Example:
    >>> (x_train, y_train), (x_test, y_test) = load("ItalyPowerDemand")
    >>> x_train.shape, y_train[:4].tolist()
    ((67, 24, 1), [0, 0, 1, 1])

    """
    spec = _spec(name)
    (x_train, raw_train, info_train), (x_test, raw_test, _) = _splits(spec)
    labels = info_train.class_labels
    steps = max(x_train.shape[1], x_test.shape[1])
    out = []
    for x, raw in ((x_train, raw_train), (x_test, raw_test)):
        x = np.pad(x, ((0, 0), (0, steps - x.shape[1]), (0, 0)))  # a copy: the cache stays intact
        y = np.array([labels.index(label) for label in raw], dtype=np.int64)
        if one_hot:
            y = to_categorical(y, num_classes=len(labels)).astype(np.float32)
        out.append((x, y))
    return out[0], out[1]


def info(name: str) -> DatasetInfo:
    """Describe a bundled dataset.

    Args:
        name: a name from `available()` (same matching as `load`).

    Returns:
        A `DatasetInfo` with the description, class labels, citation, shapes and lengths.

    Raises:
        ValueError: `name` is not a bundled dataset.

    Example:
    >>> info("JapaneseVowels").num_classes
    9

    """
    spec = _spec(name)
    (x_train, _, info_train), (x_test, _, info_test) = _splits(spec)
    steps = max(x_train.shape[1], x_test.shape[1])
    return DatasetInfo(
        name=spec.name,
        description=spec.description,
        class_labels=info_train.class_labels,
        citation=spec.citation,
        train_shape=(x_train.shape[0], steps, x_train.shape[2]),
        test_shape=(x_test.shape[0], steps, x_test.shape[2]),
        train_lengths=info_train.lengths.copy(),
        test_lengths=info_test.lengths.copy(),
    )
