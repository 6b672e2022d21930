"""read_csv on hand-written CSV files: exact parsed values, and every error path.

Oracle: the values written into each file by hand.
"""

import gzip
import io

import numpy as np
import pytest

from unrolled.data import read_csv


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_equal_length_with_inferred_header(tmp_path):
    x, y, info = read_csv(write(tmp_path, "t0,t1,t2,label\n1,2.5,-3,cat\n4,5,6e-1,dog\n"))
    assert x.dtype == np.float32 and x.shape == (2, 3, 1)
    np.testing.assert_array_equal(x[..., 0], np.array([[1, 2.5, -3], [4, 5, 0.6]], np.float32))
    assert y.tolist() == ["cat", "dog"]
    assert info.columns == ("t0", "t1", "t2", "label")
    assert info.lengths.tolist() == [3, 3] and info.equal_length
    assert info.label_column == -1


def test_no_header_is_inferred_for_numeric_first_row(tmp_path):
    x, y, info = read_csv(write(tmp_path, "1,2,0\n3,4,1\n"))
    np.testing.assert_array_equal(x[..., 0], [[1, 2], [3, 4]])
    assert y.tolist() == ["0", "1"] and info.columns is None


def test_header_forced(tmp_path):
    x, y, info = read_csv(write(tmp_path, "0,1,2\n3,4,1\n"), header=True)
    assert info.columns == ("0", "1", "2")
    np.testing.assert_array_equal(x[..., 0], [[3, 4]])
    assert y.tolist() == ["1"]


def test_header_false_makes_a_text_first_row_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"line 1, column index 0: expected a number"):
        read_csv(write(tmp_path, "a,b,label\n1,2,x\n"), header=False)


def test_variable_length_trailing_empty_and_nan_cells(tmp_path):
    text = "label,t0,t1,t2,t3\nA,1,2,3,4\nB,5,6,,\nC,7,NaN,nan,\nD,8,,9,NaN\n"
    x, y, info = read_csv(write(tmp_path, text), label_column=0)
    assert info.lengths.tolist() == [4, 2, 1, 3]
    assert not info.equal_length
    np.testing.assert_array_equal(
        x[..., 0], [[1, 2, 3, 4], [5, 6, 0, 0], [7, 0, 0, 0], [8, np.nan, 9, 0]]
    )
    assert y.tolist() == ["A", "B", "C", "D"]


def test_ragged_rows_without_header_label_first(tmp_path):
    x, y, info = read_csv(write(tmp_path, "1,0.5,0.25\n2,1,2,3,4\n1,9\n"), label_column=0)
    assert info.lengths.tolist() == [2, 4, 1]
    np.testing.assert_array_equal(x[..., 0], [[0.5, 0.25, 0, 0], [1, 2, 3, 4], [9, 0, 0, 0]])
    assert y.tolist() == ["1", "2", "1"]


def test_label_column_by_name_in_the_middle(tmp_path):
    x, y, info = read_csv(write(tmp_path, "a,cls,b\n1,yes,2\n3,no,4\n"), label_column="cls")
    np.testing.assert_array_equal(x[..., 0], [[1, 2], [3, 4]])
    assert y.tolist() == ["yes", "no"] and info.label_column == 1


def test_no_labels(tmp_path):
    x, y, info = read_csv(write(tmp_path, "1,2,3\n4,5\n"), label_column=None)
    assert y is None and info.label_column is None
    np.testing.assert_array_equal(x[..., 0], [[1, 2, 3], [4, 5, 0]])


@pytest.mark.parametrize("delimiter", ["\t", ";", " "])
def test_delimiters(tmp_path, delimiter):
    text = "\n".join(delimiter.join(row) for row in [["1", "2", "a"], ["3", "4", "b"]]) + "\n"
    x, y, _ = read_csv(write(tmp_path, text), delimiter=delimiter)
    np.testing.assert_array_equal(x[..., 0], [[1, 2], [3, 4]])
    assert y.tolist() == ["a", "b"]


def test_quoted_labels_blank_lines_and_missing_marks(tmp_path):
    x, y, _ = read_csv(write(tmp_path, '1,?,3,"x, y"\n\n4,5,6,"z"\n'))
    np.testing.assert_array_equal(x[..., 0], [[1, np.nan, 3], [4, 5, 6]])
    assert y.tolist() == ["x, y", "z"]


def test_gzip_and_file_objects(tmp_path):
    text = "t0,t1,label\n1,2,a\n3,,b\n"
    x, y, _ = read_csv(write(tmp_path, text))
    gz = tmp_path / "data.csv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    for source in [gz, io.StringIO(text), io.BytesIO(gzip.compress(text.encode()))]:
        x2, y2, _ = read_csv(source)
        np.testing.assert_array_equal(x2, x)
        np.testing.assert_array_equal(y2, y)


@pytest.mark.parametrize(
    "text,kwargs,fragments",
    [
        ("a,b,label\n1,oops,x\n", {}, ["line 2, column index 1", "expected a number", "'oops'"]),
        ("label,a,b\nx,1,oops\n", dict(label_column=0), ["line 2, column index 2", "'oops'"]),
        ("1,2,3,x\n4,y\n", dict(label_column=3), ["line 2", "label in column 3", "only 2 cell"]),
        ("1,2,x\n3,4,\n", {}, ["line 2", "empty cell"]),
        ("t0,t1,label\n", {}, ["no data rows"]),
        ("t0,label\n1,a\n", dict(label_column="cls"), ["'cls' is not in the header"]),
        ("1,a\n", dict(label_column="cls", header=False), ["has no header row"]),
    ],
)
def test_errors_name_file_line_expected_and_found(tmp_path, text, kwargs, fragments):
    path = write(tmp_path, text, "bad.csv")
    with pytest.raises(ValueError) as excinfo:
        read_csv(path, **kwargs)
    message = str(excinfo.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("content", [b"", b"\n \n"], ids=["empty", "blank"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="the file is empty"):
        read_csv(path)


def test_binary_garbage(tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    with pytest.raises(ValueError, match="binary data"):
        read_csv(path)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(delimiter=",,"), ValueError, "single character"),
        (dict(header="yes"), ValueError, "header must be"),
        (dict(label_column=1.5), TypeError, "label_column must be"),
        (dict(label_column=True), TypeError, "label_column must be"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        read_csv(write(tmp_path, "1,2,a\n"), **kwargs)


# ------------------------------------------- issue 15, class 5: nothing read wrongly in silence
@pytest.mark.parametrize("first", ["0,1,2,class", "1,2,3,class"])
def test_numbered_header_with_numeric_labels_is_a_header(tmp_path, first):
    x, y, info = read_csv(write(tmp_path, first + "\n1.5,2,3,0\n4,5,6,1\n"))
    assert info.columns == tuple(first.split(","))
    np.testing.assert_array_equal(x[..., 0], [[1.5, 2, 3], [4, 5, 6]])
    assert y.tolist() == ["0", "1"]


def test_numbered_header_with_text_labels_is_a_header_with_a_warning(tmp_path):
    path = write(tmp_path, "0,1,2,class\n1.5,2,3,a\n4,5,6,b\n")
    with pytest.warns(UserWarning, match=r"line 1: read \['0', '1', '2', 'class'\] as a header.*"
                                         "'class' occurs in no other row.*header=False"):
        x, y, info = read_csv(path)
    assert info.columns[-1] == "class" and y.tolist() == ["a", "b"] and len(x) == 2
    x, y, _ = read_csv(path, header=False)  # the way out the warning names
    assert y.tolist() == ["class", "a", "b"]


@pytest.mark.parametrize("text", ["0,1,2,a\n1.5,2,3,a\n4,5,6,b\n",  # its label recurs
                                  "1,2,3,c\n1.5,2,3,a\n4,5,6,b\n",  # 1..n with text labels
                                  "0,1,c\n1.5,2,a\n"])  # too short to tell
def test_a_numbered_first_row_that_may_be_data_is_data(tmp_path, text):
    x, y, info = read_csv(write(tmp_path, text))
    assert info.columns is None and len(y) == text.count("\n")
    first = [float(v) for v in text.split("\n")[0].split(",")[:-1]]
    np.testing.assert_array_equal(x[0, :, 0], first)


def test_a_numbered_first_row_without_labels_warns(tmp_path):
    with pytest.warns(UserWarning, match=r"line 1: the first row .* may be a header; it is read "
                                         "as data. Pass header=True"):
        x, _, info = read_csv(write(tmp_path, "0,1,2\n1.5,2,3\n"), label_column=None)
    assert info.columns is None and len(x) == 2


def test_a_row_longer_than_the_header_is_refused(tmp_path):
    path = write(tmp_path, "t0,t1,label\n1,2,a\n1,2,3,b\n", "long.csv")
    with pytest.raises(ValueError, match=r"long\.csv, line 3: expected at most 3 cells \(the "
                                         r"header's columns\), found 4"):
        read_csv(path)


@pytest.mark.parametrize("cell, column", [("1e300", 1), ("-1e39", 1), ("1e400", 1)])
def test_a_value_beyond_float32_is_refused(tmp_path, cell, column):
    path = write(tmp_path, f"label,t0,t1\na,1,2\nb,3,{cell}\n", "big.csv")
    with pytest.raises(ValueError, match=rf"big\.csv, line 3, column index 2: '{cell}' does not "
                                         r"fit in float32.*would become inf"):
        read_csv(path, label_column=0)
    x, _, _ = read_csv(write(tmp_path, "a,1,3.4e38\n"), label_column=0)  # the largest still fit
    assert np.isfinite(x).all()
