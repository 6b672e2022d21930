"""read_ts on hand-written .ts files: exact parsed values, and every error path.

Oracle: the values written into each file by hand (invariant: the parsed array equals the text).
"""

import gzip
import io

import numpy as np
import pytest

from unrolled.data import read_ts

UNIVARIATE = """\
# A hand-written univariate file.
#Second comment line, no space.

@problemName Toy
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 4
@classLabel true neg pos
@data
1.0,2.5,-3,4e-1:pos
# a comment inside the data section

0,0.125,7,8:neg
"""

MULTIVARIATE = """\
@problemName Multi
@univariate false
@dimensions 2
@equalLength true
@classLabel true 1 2 3
@data
1,2,3:10,20,30:3
4,5,6:40,50,60:1
"""

UNEQUAL = """\
@problemName Ragged
@univariate false
@dimensions 3
@equalLength false
@classLabel true a b
@data
1,2:3,4:5,6:b
7,8,9,10:11,12,13,14:15,16,17,18:a
-1:-2:-3:a
"""

MISSING = """\
@problemName Holes
@missing true
@univariate true
@equalLength true
@seriesLength 3
@classLabel true x y
@data
1,?,3:x
?,5,NaN:y
"""


def write(tmp_path, text, name="data.ts"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_univariate(tmp_path):
    x, y, info = read_ts(write(tmp_path, UNIVARIATE))
    assert x.dtype == np.float32 and x.shape == (2, 4, 1)
    np.testing.assert_array_equal(
        x[..., 0], np.array([[1.0, 2.5, -3.0, 0.4], [0.0, 0.125, 7.0, 8.0]], np.float32)
    )
    assert y.tolist() == ["pos", "neg"]
    assert info.problem_name == "Toy"
    assert info.class_labels == ("neg", "pos")
    assert info.lengths.tolist() == [4, 4]
    assert info.univariate and info.dimensions == 1 and info.equal_length
    assert info.series_length == 4 and not info.missing and not info.target_label


def test_multivariate(tmp_path):
    x, y, info = read_ts(write(tmp_path, MULTIVARIATE))
    assert x.shape == (2, 3, 2)
    np.testing.assert_array_equal(x[0], [[1, 10], [2, 20], [3, 30]])
    np.testing.assert_array_equal(x[1], [[4, 40], [5, 50], [6, 60]])
    assert y.tolist() == ["3", "1"]
    assert info.class_labels == ("1", "2", "3")
    assert info.dimensions == 2 and not info.univariate


def test_unequal_length_is_zero_padded_at_the_end(tmp_path):
    x, y, info = read_ts(write(tmp_path, UNEQUAL))
    assert x.shape == (3, 4, 3)
    assert info.lengths.tolist() == [2, 4, 1]
    assert not info.equal_length
    np.testing.assert_array_equal(x[0], [[1, 3, 5], [2, 4, 6], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(x[1].T, [[7, 8, 9, 10], [11, 12, 13, 14], [15, 16, 17, 18]])
    np.testing.assert_array_equal(x[2], [[-1, -2, -3], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    assert y.tolist() == ["b", "a", "a"]


def test_missing_values_become_nan(tmp_path):
    x, y, info = read_ts(write(tmp_path, MISSING))
    np.testing.assert_array_equal(x[..., 0], [[1, np.nan, 3], [np.nan, 5, np.nan]])
    assert info.missing
    assert y.tolist() == ["x", "y"]


@pytest.mark.parametrize("text", [UNIVARIATE, MULTIVARIATE, UNEQUAL, MISSING])
def test_gzip_and_file_objects_read_the_same(tmp_path, text):
    x, y, _ = read_ts(write(tmp_path, text))
    gz = tmp_path / "data.ts.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    no_suffix = tmp_path / "compressed.ts"  # detected by magic bytes, not by name
    no_suffix.write_bytes(gzip.compress(text.encode()))
    sources = [
        gz,
        str(no_suffix),
        io.StringIO(text),
        io.BytesIO(text.encode()),
        io.BytesIO(gzip.compress(text.encode())),
    ]
    with open(tmp_path / "data.ts", "rb") as binary, open(tmp_path / "data.ts") as plain:
        for source in [*sources, binary, plain]:
            x2, y2, _ = read_ts(source)
            np.testing.assert_array_equal(x2, x)
            np.testing.assert_array_equal(y2, y)


def test_crlf_bom_and_case_insensitive_tags(tmp_path):
    text = "\ufeff@PROBLEMNAME p\r\n@Univariate TRUE\r\n@classlabel True 0 1\r\n@DATA\r\n5,6:1\r\n"
    path = tmp_path / "crlf.ts"
    path.write_bytes(text.encode("utf-8"))
    x, y, info = read_ts(path)
    np.testing.assert_array_equal(x[..., 0], [[5, 6]])
    assert y.tolist() == ["1"] and info.problem_name == "p"


def test_latin1_comment_is_tolerated(tmp_path):
    path = tmp_path / "latin1.ts"
    path.write_bytes("# caf\xe9\n@classLabel true 1\n@data\n1,2:1\n".encode("latin-1"))
    x, _, _ = read_ts(path)
    np.testing.assert_array_equal(x[..., 0], [[1, 2]])


def test_dimensions_inferred_without_header(tmp_path):
    x, _, info = read_ts(write(tmp_path, "@univariate false\n@classLabel true 1\n@data\n1:2:3:1\n"))
    assert x.shape == (1, 1, 3) and info.dimensions == 3


def test_numeric_label_spelling_maps_to_header_label(tmp_path):
    _, y, _ = read_ts(write(tmp_path, "@classLabel true 1 2\n@data\n1,2:2.0\n3,4:1\n"))
    assert y.tolist() == ["2", "1"]


def test_regression_targets_are_floats(tmp_path):
    _, y, info = read_ts(write(tmp_path, "@targetLabel true\n@data\n1,2:0.5\n3,4:-2\n"))
    assert y.dtype == np.float64 and y.tolist() == [0.5, -2.0]
    assert info.target_label and info.class_labels == ()


def test_unlabelled_file_has_no_y(tmp_path):
    x, y, _ = read_ts(write(tmp_path, "@classLabel false\n@dimensions 2\n@data\n1,2:3,4\n"))
    assert y is None
    np.testing.assert_array_equal(x[0], [[1, 3], [2, 4]])


ERRORS = [
    # (name, file text, line named in the message or None, fragments expected in the message)
    ("no_data", "@problemName x\n@classLabel true 1\n", None, ["no '@data'"]),
    ("only_comments", "# nothing here\n", None, ["no '@' header"]),
    ("nothing_after_data", "@classLabel true 1\n@data\n\n", None, ["no data lines"]),
    (
        "dims_too_many",
        MULTIVARIATE.replace("4,5,6:40,50,60:1", "4,5,6:40,50,60:7,8,9:1"),
        8,
        ["2 dimension(s) plus a label", "found 4 field(s)"],
    ),
    ("dims_too_few", UNEQUAL.replace("-1:-2:-3:a", "-1:-2:a"), 9, ["3 dimension(s)", "found 3"]),
    ("dims_inferred_then_wrong", "@classLabel true 1\n@data\n1:2:1\n1:1\n", 4, ["found 2"]),
    (
        "label_not_declared",
        UNIVARIATE.replace("8:neg", "8:maybe"),
        15,
        ["class label from @classLabel ['neg', 'pos']", "'maybe'"],
    ),
    ("empty_label", "@classLabel true 1\n@data\n1,2:\n", 3, ["an empty label"]),
    ("non_numeric", UNIVARIATE.replace("0.125", "abc"), 15, ["dimension 0, value 1", "'abc'"]),
    ("empty_value", MULTIVARIATE.replace("40,50", "40,,50"), 8, ["dimension 1, value 1"]),
    (
        "unequal_dims_in_case",
        MULTIVARIATE.replace("10,20,30", "10,20"),
        7,
        ["same length", "[3, 2]"],
    ),
    (
        "equal_length_violated",
        UNIVARIATE.replace("7,8:neg", "7:neg").replace("@seriesLength 4\n", ""),
        14,
        ["length 4", "found length 3"],
    ),
    (
        "series_length_violated",
        UNIVARIATE.replace("@seriesLength 4", "@seriesLength 5"),
        12,
        ["length 5 ('@seriesLength')", "found length 4"],
    ),
    ("header_after_data", UNIVARIATE + "@missing true\n", 16, ["a data line after '@data'"]),
    (
        "bad_bool",
        UNIVARIATE.replace("@univariate true", "@univariate maybe"),
        7,
        ["'true' or 'false'"],
    ),
    ("bad_dimensions", "@dimensions zero\n@data\n1:1\n", 1, ["integer >= 1"]),
    ("timestamps", "@timeStamps true\n@data\n(0,1),(1,2):1\n", 1, ["not supported"]),
    ("no_labels_listed", "@classLabel true\n@data\n1:1\n", 1, ["class labels after"]),
    ("bad_class_flag", "@classLabel yes 1 2\n@data\n1:1\n", 1, ["'@classLabel true <labels"]),
    ("duplicate_labels", "@classLabel true 1 1\n@data\n1:1\n", 1, ["distinct"]),
    ("duplicate_header", "@univariate true\n@univariate true\n@data\n1\n", 2, ["first on line 1"]),
    ("univariate_with_dims", "@univariate true\n@dimensions 3\n@data\n1\n", 2, ["@dimensions 1"]),
    ("both_targets", "@classLabel true 1\n@targetLabel true\n@data\n1:1\n", 2, ["both"]),
    ("bad_target", "@targetLabel true\n@data\n1,2:high\n", 3, ["numeric regression target"]),
    ("data_with_args", "@classLabel true 1\n@data 1,2:1\n", 2, ["nothing after '@data'"]),
    ("csv_not_ts", "a,b,c\n1,2,3\n", 1, ["does not look like a UCR/UEA .ts file"]),
]


@pytest.mark.parametrize(
    "text,lineno,fragments", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_errors_name_file_line_expected_and_found(tmp_path, text, lineno, fragments):
    path = write(tmp_path, text, "bad.ts")
    with pytest.raises(ValueError) as excinfo:
        read_ts(path)
    message = str(excinfo.value)
    assert str(path) in message
    if lineno is not None:
        assert f"line {lineno}:" in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("content", [b"", b"   \n\n\t\n"], ids=["empty", "blank"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.ts"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="the file is empty"):
        read_ts(path)


def test_empty_gzip_file(tmp_path):
    path = tmp_path / "empty.ts.gz"
    path.write_bytes(gzip.compress(b""))
    with pytest.raises(ValueError, match="empty"):
        read_ts(path)


def test_binary_garbage(tmp_path):
    path = tmp_path / "garbage.ts"
    path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    with pytest.raises(ValueError, match="binary data"):
        read_ts(path)


def test_binary_without_nul_is_not_a_ts_file(tmp_path):
    path = tmp_path / "garbage.ts"
    path.write_bytes(bytes(range(1, 256)) * 4)
    with pytest.raises(ValueError, match="does not look like a UCR/UEA .ts file"):
        read_ts(path)


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "broken.ts.gz"
    path.write_bytes(gzip.compress(UNIVARIATE.encode())[:40])
    with pytest.raises(ValueError, match="could not be decompressed"):
        read_ts(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_ts(tmp_path / "nope.ts")


def test_not_a_path():
    with pytest.raises(TypeError, match="Expected a path or an open file"):
        read_ts(42)


# ------------------------------------------- issue 15, class 5: nothing read wrongly in silence
@pytest.mark.parametrize("value", ["1e300", "-4e38", "1e400"])
def test_a_value_beyond_float32_is_refused(tmp_path, value):
    for row in (f"4,{value}:b", f"4,?,{value}:b"):  # the fast and the '?' parsing paths
        path = tmp_path / "big.ts"
        path.write_text(f"@classLabel true a b\n@data\n1,2,3:a\n{row}\n")
        with pytest.raises(ValueError, match=rf"big\.ts, line 4: expected a value within "
                                             rf"float32's range.*dimension 0.*found '{value}'"):
            read_ts(path)


def test_a_case_longer_than_series_length_is_refused(tmp_path):
    path = tmp_path / "long.ts"
    path.write_text("@seriesLength 2\n@classLabel true a b\n@data\n1,2:a\n4,5,6:b\n")
    with pytest.raises(ValueError, match=r"long\.ts, line 5: expected at most 2 values per "
                                         r"dimension \('@seriesLength'\), found length 3"):
        read_ts(path)
