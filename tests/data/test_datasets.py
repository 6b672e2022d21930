"""Bundled datasets: sizes, classes, lengths, and rows equal to the raw text parsed independently.

Oracle: the bundled `.ts.gz` text, split by hand in this file (no `read_ts`), and the sizes
published with the UCR/UEA archives.
"""

import ast
import gzip
import hashlib
import re
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import unrolled.datasets
from unrolled.data import available, info, load

BUNDLED = resources.files("unrolled.data").joinpath("bundled")
DATA_ROOM = Path(__file__).resolve().parents[2] / "src" / "unrolled" / "data"

EXPECTED = {
    # name: (n_train, n_test, T, F, n_classes, min length, max length)
    "ItalyPowerDemand": (67, 1029, 24, 1, 2, 24, 24),
    "JapaneseVowels": (270, 370, 29, 12, 9, 7, 29),
}


def raw_split(name, split):
    """Hand-split the bundled file: header labels and a list of (dimension lists, label)."""
    text = gzip.decompress(BUNDLED.joinpath(f"{name}_{split}.ts.gz").read_bytes()).decode()
    lines = [line.strip() for line in text.splitlines()]
    labels = next(line.split()[2:] for line in lines if line.startswith("@classLabel"))
    body = lines[lines.index("@data") + 1 :]
    cases = []
    for line in body:
        if line:
            *dims, label = line.split(":")
            cases.append(([[float(v) for v in dim.split(",")] for dim in dims], label))
    return labels, cases


def test_available():
    assert available() == ["ItalyPowerDemand", "JapaneseVowels"]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_sizes_classes_lengths(name):
    n_train, n_test, steps, features, n_classes, low, high = EXPECTED[name]
    (x_train, y_train), (x_test, y_test) = load(name)
    assert x_train.shape == (n_train, steps, features) and x_train.dtype == np.float32
    assert x_test.shape == (n_test, steps, features) and x_test.dtype == np.float32
    assert y_train.shape == (n_train,) and y_train.dtype == np.int64
    assert y_test.shape == (n_test,) and y_test.dtype == np.int64
    assert set(y_train.tolist()) == set(range(n_classes))
    assert set(y_test.tolist()) == set(range(n_classes))
    meta = info(name)
    assert meta.num_classes == n_classes
    assert meta.class_labels == tuple(str(k) for k in range(1, n_classes + 1))
    assert meta.train_shape == x_train.shape and meta.test_shape == x_test.shape
    lengths = np.concatenate([meta.train_lengths, meta.test_lengths])
    assert lengths.min() == low and lengths.max() == high
    # Zero padding at the end: every step past a sequence's length is exactly zero.
    for x, split_lengths in ((x_train, meta.train_lengths), (x_test, meta.test_lengths)):
        steps_index = np.arange(steps)[None, :]
        assert not x[steps_index >= split_lengths[:, None]].any()


@pytest.mark.parametrize("name", list(EXPECTED))
@pytest.mark.parametrize("split", ["TRAIN", "TEST"])
def test_rows_equal_the_raw_text(name, split):
    labels, cases = raw_split(name, split)
    (x_train, y_train), (x_test, y_test) = load(name)
    x, y = (x_train, y_train) if split == "TRAIN" else (x_test, y_test)
    assert len(cases) == len(x)
    longest = max(range(len(cases)), key=lambda i: len(cases[i][0][0]))
    for i in sorted({0, 1, len(cases) // 2, longest, len(cases) - 1}):
        dims, label = cases[i]
        expected = np.array(dims, dtype=np.float32).T  # (T_i, F)
        np.testing.assert_array_equal(x[i, : len(expected)], expected)
        assert y[i] == labels.index(label)
    assert [labels[k] for k in y] == [label for _, label in cases]
    assert [len(dims[0]) for dims, _ in cases] == getattr(
        info(name), f"{split.lower()}_lengths"
    ).tolist()


@pytest.mark.parametrize("name", list(EXPECTED))
def test_one_hot(name):
    (_, y_train), (_, y_test) = load(name)
    (_, h_train), (_, h_test) = load(name, one_hot=True)
    n_classes = EXPECTED[name][4]
    for y, h in ((y_train, h_train), (y_test, h_test)):
        assert h.dtype == np.float32 and h.shape == (len(y), n_classes)
        np.testing.assert_array_equal(h.sum(axis=1), 1.0)
        np.testing.assert_array_equal(h.argmax(axis=1), y)


@pytest.mark.parametrize(
    "alias,name",
    [
        ("italy_power_demand", "ItalyPowerDemand"),
        ("ITALYPOWERDEMAND", "ItalyPowerDemand"),
        ("japanese-vowels", "JapaneseVowels"),
        ("Japanese Vowels", "JapaneseVowels"),
    ],
)
def test_name_forms(alias, name):
    assert info(alias).name == name
    np.testing.assert_array_equal(load(alias)[0][0], load(name)[0][0])


def test_unknown_name_lists_available():
    with pytest.raises(ValueError, match=r"Unknown dataset 'mnist'.*ItalyPowerDemand.*Japanese"):
        load("mnist")
    with pytest.raises(ValueError, match="Available datasets"):
        info("mnist")


def test_load_returns_fresh_copies():
    (x_train, y_train), _ = load("ItalyPowerDemand")
    x_train[:] = 123.0
    y_train[:] = 7
    (x_again, y_again), _ = load("ItalyPowerDemand")
    assert not (x_again == 123.0).any() and not (y_again == 7).any()


@pytest.mark.parametrize(
    "name,fragments",
    [
        ("ItalyPowerDemand", ["UCR time series archive", "Dau", "Intelligent Icons", "aeon"]),
        ("JapaneseVowels", ["UEA multivariate", "1811.00075", "Kudo", "aeon"]),
    ],
)
def test_info_citation_and_description(name, fragments):
    meta = info(name)
    for fragment in fragments:
        assert fragment in meta.citation
    assert meta.description


def test_citation_file_lists_sources_and_checksums():
    citation = BUNDLED.joinpath("CITATION.md").read_text()
    for fragment in ["Dau", "1811.00075", "Intelligent Icons", "Kudo", "aeon", "BSD-3-Clause"]:
        assert fragment in citation
    sums = dict(
        (file, digest) for digest, file in re.findall(r"^([0-9a-f]{64})  (\S+)$", citation, re.M)
    )
    bundled = sorted(p.name for p in BUNDLED.iterdir() if p.name.endswith(".ts.gz"))
    assert sorted(f"{f}.gz" for f in sums) == bundled
    for file, digest in sums.items():
        raw = gzip.decompress(BUNDLED.joinpath(f"{file}.gz").read_bytes())
        assert hashlib.sha256(raw).hexdigest() == digest
        assert raw.startswith(b"#")  # the original comment header is kept


def test_top_level_module_reexports():
    from unrolled.data import read_csv, read_ts

    assert unrolled.datasets.load is load
    assert unrolled.datasets.available is available
    assert unrolled.datasets.info is info
    assert unrolled.datasets.read_ts is read_ts
    assert unrolled.datasets.read_csv is read_csv


def test_data_room_imports_only_numpy_and_stdlib():
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    for path in DATA_ROOM.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for module in names:
                assert module.split(".")[0] in allowed or module.startswith("unrolled.data"), (
                    f"{path.name} imports {module}"
                )
