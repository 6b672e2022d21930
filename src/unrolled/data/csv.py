"""Reader for sequences stored one per row in a CSV file, with a label column.

Each row is one univariate sequence plus a label cell. Sequences of different lengths end with
empty cells or `NaN` (or simply have fewer cells); those trailing cells are padding, not data.
An empty, `NaN` or `?` cell inside a sequence is a missing value and reads as NaN.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from unrolled.data._text import (
    FLOAT32_MAX,
    PathOrFile,
    float32_overflow,
    read_text,
    source_name,
)

_KIND = "CSV"


@dataclass(frozen=True, eq=False)
class CSVInfo:
    """What `read_csv` found in a CSV file.

    Args:
        lengths: `(N,)` int64, the number of time steps of each row's sequence.
        columns: the header row's names, or `None` when the file has no header.
        label_column: the label column's index in a row (negative counts from the row's end), or
            `None` when there are no labels.
        equal_length: `True` when every sequence has the same length.
        source: the file's path or name.

    """

    lengths: np.ndarray = field(repr=False)
    columns: tuple[str, ...] | None
    label_column: int | None
    equal_length: bool
    source: str


def _to_float(cell: str) -> float | None:
    """Return the cell's value, NaN for a missing mark, or `None` when it is not a number."""
    cell = cell.strip()
    if cell in ("", "?"):
        return math.nan
    try:
        return float(cell)
    except ValueError:
        return None


def _label_index(
    label_column: int | str | None, columns: tuple[str, ...] | None, name: str
) -> int | None:
    if isinstance(label_column, str):
        if columns is None:
            raise ValueError(
                f"{name}: label_column={label_column!r} names a column, but the "
                "file has no header row; pass an integer index or header=True."
            )
        if label_column not in columns:
            raise ValueError(
                f"{name}: label_column={label_column!r} is not in the header "
                f"columns {list(columns)}."
            )
        return columns.index(label_column)
    return None if label_column is None else int(label_column)


def _numbered_header(
    name: str, rows: list[tuple[int, list[str]]], label_at: int | None, label_column: int | None
) -> bool:
    """Whether an all-numeric first row is a header that numbers the columns (`0,1,2,class`).

    With a label column whose first cell is not a number: when every other row's label is a
    number, non-label cells numbering the columns (0..n-1 or 1..n) make a header. With text
    labels elsewhere, cells 0..n-1 (n >= 3) and a label no other row has make a header, with a
    warning naming the way to read it as data. Without labels such a row cannot be told from a
    sample: it stays data, with a warning.
    """
    lineno, first = rows[0]
    cells = [c.strip() for k, c in enumerate(first) if k != label_at]
    from_zero = cells == [str(i) for i in range(len(cells))] and len(cells) >= 3
    if label_column is None or label_at is None:
        if from_zero:
            warnings.warn(
                f"{name}, line {lineno}: the first row {first!r} numbers the columns and may be "
                "a header; it is read as data. Pass header=True to skip it.", UserWarning,
                stacklevel=3)
        return False
    label = first[label_at].strip()
    if _to_float(label) is not None:
        return False
    column = int(label_column)
    others = {row[column].strip() for _, row in rows[1:] if -len(row) <= column < len(row)}
    if others and all(_to_float(other) is not None for other in others):
        return cells in ([str(i) for i in range(len(cells))],
                         [str(i + 1) for i in range(len(cells))])
    if not from_zero or label in others:
        return False
    warnings.warn(
        f"{name}, line {lineno}: read {first!r} as a header (it numbers the columns 0..n-1 and "
        f"its label {label!r} occurs in no other row). Pass header=False to read it as data.",
        UserWarning, stacklevel=3)
    return True


def read_csv(
    path: PathOrFile,
    label_column: int | str | None = -1,
    header: bool | str | None = "infer",
    delimiter: str = ",",
    pad_value: float = 0.0,
) -> tuple[np.ndarray, np.ndarray | None, CSVInfo]:
    r"""Read univariate sequences stored one per row, each with a label cell.

    Args:
        path: a path or an open file object (text or binary); gzip content is detected.
        label_column: index of the label cell in each row (negative counts from the row's end;
            default: the last cell), a header column name, or `None` when there are no labels.
        header: `"infer"` (the first row is a header when one of its non-label cells is not a
            number), `True`, or `False`/`None`.
        delimiter: the one-character cell separator.
        pad_value: the value after each shorter sequence's end (default 0.0). Pass the mask
            value of the model that will read `x`, so that padding never collides with real
            values.

    Returns:
        A tuple `(x, y, info)`: `x` float32 `(N, T, 1)` zero-padded at the end, `y` a string array
        `(N,)` of the raw labels (`None` when `label_column=None`), `info` a `CSVInfo` whose
        `lengths` give each sequence's length.

    Raises:
        ValueError: the file is empty or binary, has no data rows, a row lacks the label column or
            has an empty label, or a cell is not a number. The message names the file and line.
        TypeError: `label_column` is neither an int, a string nor `None`.

    Example:
    >>> import io
    >>> x, y, info = read_csv(io.StringIO("t0,t1,t2,label\n1,2,3,a\n4,5,,b\n"))
    >>> x.shape, y.tolist(), info.lengths.tolist()
    ((2, 3, 1), ['a', 'b'], [3, 2])

    """
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(f"delimiter must be a single character, found {delimiter!r}.")
    if label_column is not None and (
        isinstance(label_column, bool) or not isinstance(label_column, (int, np.integer, str))
    ):
        raise TypeError(
            f"label_column must be an int, a column name or None, found {label_column!r}."
        )
    if header not in ("infer", True, False, None):
        raise ValueError(f"header must be 'infer', True, False or None, found {header!r}.")
    name = source_name(path)
    text = read_text(path, _KIND)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((reader.line_num, row))
    except csv.Error as e:
        raise ValueError(f"{name}, line {reader.line_num}: not readable as {_KIND}: {e}.") from e

    columns: tuple[str, ...] | None = None
    if rows and header is not False and header is not None:
        first = rows[0][1]
        if header is True:
            is_header = True
        else:
            label_at = (
                int(label_column) % len(first)
                if isinstance(label_column, (int, np.integer))
                else None
            )
            is_header = isinstance(label_column, str) or any(
                _to_float(cell) is None for k, cell in enumerate(first) if k != label_at
            )
            if not is_header:
                is_header = _numbered_header(name, rows, label_at, label_column)
        if is_header:
            columns = tuple(cell.strip() for cell in first)
            rows = rows[1:]
    if not rows:
        raise ValueError(f"{name}: no data rows; expected one sequence per row.")
    index = _label_index(label_column, columns, name)

    sequences: list[np.ndarray] = []
    labels: list[str] = []
    for lineno, row in rows:
        cells = list(row)
        if columns is not None and len(cells) > len(columns):
            raise ValueError(
                f"{name}, line {lineno}: expected at most {len(columns)} cells (the header's "
                f"columns), found {len(cells)}; a cell too many shifts the label column. Check "
                "the delimiter and for stray separators on this row."
            )
        if index is not None:
            if not -len(cells) <= index < len(cells):
                raise ValueError(
                    f"{name}, line {lineno}: expected a label in column {index}, "
                    f"found a row of only {len(cells)} cell(s)."
                )
            label = cells.pop(index).strip()
            if not label:
                raise ValueError(
                    f"{name}, line {lineno}: expected a label in column {index}, "
                    "found an empty cell."
                )
            labels.append(label)
        values = np.empty(len(cells), np.float64)
        for k, cell in enumerate(cells):
            value = _to_float(cell)
            if value is None:
                column = k + (1 if index is not None and index % len(row) <= k else 0)
                raise ValueError(
                    f"{name}, line {lineno}, column index {column}: expected a number "
                    f"(empty, NaN or '?' for missing), found {cell.strip()!r}."
                )
            values[k] = value
        big = float32_overflow(values, cells)
        if big is not None:
            column = big + (1 if index is not None and index % len(row) <= big else 0)
            raise ValueError(
                f"{name}, line {lineno}, column index {column}: {cells[big].strip()!r} does not "
                f"fit in float32 (largest {FLOAT32_MAX:.4g}) and would become inf. Rescale the "
                "data before reading it."
            )
        valid = np.flatnonzero(~np.isnan(values))
        sequences.append(values[: valid[-1] + 1 if valid.size else 0])

    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    x = np.full((len(sequences), int(lengths.max()), 1), pad_value, dtype=np.float32)
    for i, seq in enumerate(sequences):
        x[i, : len(seq), 0] = seq
    info = CSVInfo(
        lengths=lengths,
        columns=columns,
        label_column=index,
        equal_length=bool(np.all(lengths == lengths[0])),
        source=name,
    )
    return x, (np.array(labels, dtype=str) if index is not None else None), info
