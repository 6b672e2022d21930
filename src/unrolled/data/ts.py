"""Reader for the UCR/UEA time series classification archive's `.ts` format.

A `.ts` file is `#` comment lines, `@` header lines (`@problemName`, `@timeStamps`, `@missing`,
`@univariate`, `@dimensions`, `@equalLength`, `@seriesLength`, `@classLabel`, `@targetLabel`), then
`@data` and one case per line: the dimensions separated by `:`, the values of one dimension by
`,`, the label (when the file has one) as the last `:` field. `?` marks a missing value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from unrolled.data._text import (
    FLOAT32_MAX,
    PathOrFile,
    float32_overflow,
    read_text,
    source_name,
)

_KIND = "UCR/UEA .ts"
_BOOL_TAGS = ("timestamps", "missing", "univariate", "equallength", "targetlabel")


@dataclass(frozen=True, eq=False)
class TSInfo:
    """What a `.ts` file says about its data.

    Args:
        problem_name: the `@problemName` header, or `None` when absent.
        class_labels: the `@classLabel` labels in header order (empty when unlabelled or a
            regression file).
        lengths: `(N,)` int64, the number of time steps of each case.
        univariate: `True` when each case has one dimension.
        dimensions: the number of dimensions (features) `F`.
        equal_length: `True` when every case has the same length.
        series_length: the `@seriesLength` header, or `None` when absent.
        missing: `True` when the data holds missing values (`?` or NaN).
        target_label: `True` for a regression file (`@targetLabel true`): `y` holds floats.
        source: the file's path or name.

    """

    problem_name: str | None
    class_labels: tuple[str, ...]
    lengths: np.ndarray = field(repr=False)
    univariate: bool
    dimensions: int
    equal_length: bool
    series_length: int | None
    missing: bool
    target_label: bool
    source: str


def _shorten(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _error(name: str, lineno: int, expected: str, found: str, hint: str = "") -> ValueError:
    message = f"{name}, line {lineno}: expected {expected}, found {found}."
    return ValueError(message + (f" {hint}" if hint else ""))


def _parse_header(name: str, lines: list[str]) -> tuple[dict[str, tuple[str, int]], int]:
    """Return `{tag: (value, line number)}` and the index of the first line after `@data`."""
    header: dict[str, tuple[str, int]] = {}
    for index, line in enumerate(lines):
        lineno, text = index + 1, line.strip()
        if not text or text.startswith("#"):
            continue
        if not text.startswith("@"):
            raise _error(
                name,
                lineno,
                "a '#' comment or an '@' header line before '@data'",
                _shorten(text),
                f"This does not look like a {_KIND} file.",
            )
        parts = text[1:].split(maxsplit=1)
        tag = parts[0].lower() if parts else ""
        value = parts[1].strip() if len(parts) > 1 else ""
        if tag == "data":
            if value:
                raise _error(name, lineno, "nothing after '@data'", _shorten(value))
            return header, index + 1
        if tag in header:
            raise _error(
                name,
                lineno,
                "each header once",
                f"a second '@{parts[0]}' (first on line {header[tag][1]})",
            )
        header[tag] = (value, lineno)
    if not header:
        raise ValueError(f"{name}: no '@' header lines; this does not look like a {_KIND} file.")
    raise ValueError(
        f"{name}: no '@data' line; expected the header lines to end with '@data' followed by one "
        "case per line."
    )


def _header_bool(name: str, header: dict[str, tuple[str, int]], tag: str) -> bool | None:
    if tag not in header:
        return None
    value, lineno = header[tag]
    if value.lower() not in ("true", "false"):
        raise _error(name, lineno, f"'true' or 'false' after '@{tag}'", _shorten(value))
    return value.lower() == "true"


def _header_int(name: str, header: dict[str, tuple[str, int]], tag: str, low: int) -> int | None:
    if tag not in header:
        return None
    value, lineno = header[tag]
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if number < low:
        raise _error(name, lineno, f"an integer >= {low} after '@{tag}'", _shorten(value))
    return number


def _class_labels(name: str, header: dict[str, tuple[str, int]]) -> tuple[bool, tuple[str, ...]]:
    if "classlabel" not in header:
        return False, ()
    value, lineno = header["classlabel"]
    parts = value.split()
    flag = parts[0].lower() if parts else ""
    if flag == "false":
        return False, ()
    if flag != "true":
        raise _error(
            name, lineno, "'@classLabel true <labels...>' or '@classLabel false'", _shorten(value)
        )
    labels = tuple(parts[1:])
    if not labels:
        raise _error(name, lineno, "the class labels after '@classLabel true'", "none")
    if len(set(labels)) != len(labels):
        raise _error(name, lineno, "distinct class labels", f"duplicates in {list(labels)}")
    return True, labels


def _parse_values(name: str, lineno: int, chunk: str, dim: int) -> np.ndarray:
    """Parse one dimension's comma-separated values; `?` becomes NaN."""
    if not chunk.strip():
        return np.empty(0, np.float64)
    tokens = chunk.split(",")
    try:
        return _in_float32(name, lineno, np.array(tokens, dtype=np.float64), tokens, dim)
    except ValueError as e:
        if "float32" in str(e):
            raise
    values = np.empty(len(tokens), np.float64)
    for j, token in enumerate(tokens):
        token = token.strip()
        if token == "?":
            values[j] = np.nan
            continue
        try:
            values[j] = float(token)
        except ValueError:
            raise _error(
                name,
                lineno,
                f"a number or '?' at dimension {dim}, value {j}",
                _shorten(token) if token else "an empty value",
            ) from None
    return _in_float32(name, lineno, values, tokens, dim)


def _in_float32(name: str, lineno: int, values: np.ndarray, tokens, dim: int) -> np.ndarray:
    """Refuse a value too large for float32: it would silently become inf in `x`."""
    big = float32_overflow(values, tokens)
    if big is not None:
        raise _error(
            name,
            lineno,
            f"a value within float32's range (|v| <= {FLOAT32_MAX:.4g}) at dimension {dim}, "
            f"value {big}",
            _shorten(tokens[big].strip()),
            "It would become inf; rescale the data before reading it.",
        )
    return values


def _match_label(label: str, labels: tuple[str, ...]) -> str | None:
    if label in labels:
        return label
    try:  # '1.0' in the data for '1' in the header: same class, header spelling wins.
        number = float(label)
    except ValueError:
        return None
    for candidate in labels:
        try:
            if float(candidate) == number:
                return candidate
        except ValueError:
            continue
    return None


def read_ts(
    path_or_file: PathOrFile, pad_value: float = 0.0
) -> tuple[np.ndarray, np.ndarray | None, TSInfo]:
    r"""Read a UCR/UEA `.ts` time series file (plain or gzip-compressed).

    Handles univariate and multivariate files, equal and unequal lengths, missing values (`?`
    becomes NaN), `#` comments, and header tags in any letter case. Unequal-length cases are
    zero-padded at the end; their lengths are in `info.lengths`.

    Args:
        path_or_file: a path (`str` or `os.PathLike`) or an open file object (text or binary).
            Gzip-compressed content (e.g. a `.ts.gz` file) is detected by its magic bytes.
        pad_value: the value after each shorter case's end (default 0.0). Pass the mask value
            of the model that will read `x`, so that padding never collides with real values.

    Returns:
        A tuple `(x, y, info)`: `x` float32 `(N, T, F)` (batch, time, features) zero-padded at the
        end; `y` the labels as a string array `(N,)` (a float64 array for `@targetLabel true`
        files, `None` for unlabelled files); `info` a `TSInfo`.

    Raises:
        ValueError: the file is empty or binary, is not a `.ts` file, has no `@data` section, has
            a malformed header, a case with the wrong number of dimensions, dimensions of unequal
            length within a case, a non-numeric value, a label not in `@classLabel`, or lengths
            that contradict `@equalLength true` / `@seriesLength`. The message names the file and
            line.

    Example:
    >>> import io
    >>> text = "@problemName toy\n@classLabel true a b\n@data\n1,2,3:a\n4,?:b\n"
    >>> x, y, info = read_ts(io.StringIO(text))
    >>> x.shape, y.tolist(), info.lengths.tolist()
    ((2, 3, 1), ['a', 'b'], [3, 2])

    """
    name = source_name(path_or_file)
    lines = read_text(path_or_file, _KIND).splitlines()
    header, start = _parse_header(name, lines)

    flags = {tag: _header_bool(name, header, tag) for tag in _BOOL_TAGS}
    if flags["timestamps"]:
        raise _error(
            name,
            header["timestamps"][1],
            "'@timeStamps false'",
            "'true'",
            "Time-stamped .ts files are not supported; drop the timestamps first.",
        )
    dims = _header_int(name, header, "dimensions", 1)
    length_header = _header_int(name, header, "serieslength", 0)
    has_classes, labels = _class_labels(name, header)
    is_regression = bool(flags["targetlabel"])
    if has_classes and is_regression:
        raise _error(
            name,
            header["targetlabel"][1],
            "either '@classLabel true' or '@targetLabel true'",
            "both",
        )
    labelled = has_classes or is_regression
    if flags["univariate"] and dims not in (None, 1):
        raise _error(
            name,
            header["dimensions"][1],
            "'@dimensions 1' for '@univariate true'",
            f"'@dimensions {dims}'",
        )
    if dims is None and flags["univariate"]:
        dims = 1

    cases: list[np.ndarray] = []
    targets: list[str] = []
    first_lineno = 0
    for index in range(start, len(lines)):
        lineno, text = index + 1, lines[index].strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("@"):
            raise _error(
                name,
                lineno,
                "a data line after '@data'",
                _shorten(text),
                "Header lines must come before '@data'.",
            )
        fields = text.split(":")
        if dims is None:
            dims = len(fields) - labelled
            if dims < 1:
                raise _error(
                    name, lineno, "at least one dimension before the label", _shorten(text)
                )
        if len(fields) != dims + labelled:
            what = f"{dims} dimension(s)" + (" plus a label" if labelled else "")
            raise _error(
                name,
                lineno,
                f"{what}, i.e. {dims + labelled} ':'-separated field(s)",
                f"{len(fields)} field(s)",
                "Every case must have the same number of dimensions (see '@dimensions').",
            )
        if labelled:
            label = fields.pop().strip()
            if has_classes:
                matched = _match_label(label, labels)
                if matched is None:
                    raise _error(
                        name,
                        lineno,
                        f"a class label from @classLabel {list(labels)}",
                        _shorten(label) if label else "an empty label",
                    )
                label = matched
            else:
                try:
                    float(label)
                except ValueError:
                    raise _error(
                        name, lineno, "a numeric regression target", _shorten(label)
                    ) from None
            targets.append(label)
        series = [_parse_values(name, lineno, chunk, d) for d, chunk in enumerate(fields)]
        sizes = [len(s) for s in series]
        if len(set(sizes)) > 1:
            raise _error(
                name,
                lineno,
                "every dimension of a case to have the same length",
                f"lengths {sizes}",
            )
        if flags["equallength"] and cases and sizes[0] != len(cases[0]):
            raise _error(
                name,
                lineno,
                f"length {len(cases[0])} ('@equalLength true'; the first "
                f"case on line {first_lineno} has it)",
                f"length {sizes[0]}",
            )
        if flags["equallength"] and length_header is not None and sizes[0] != length_header:
            raise _error(
                name, lineno, f"length {length_header} ('@seriesLength')", f"length {sizes[0]}"
            )
        if length_header is not None and sizes[0] > length_header:
            raise _error(
                name,
                lineno,
                f"at most {length_header} values per dimension ('@seriesLength')",
                f"length {sizes[0]}",
            )
        first_lineno = first_lineno or lineno
        cases.append(np.stack(series, axis=1))  # (T_i, F)
    if not cases:
        raise ValueError(
            f"{name}: '@data' is followed by no data lines; expected one case per line."
        )

    lengths = np.array([len(c) for c in cases], dtype=np.int64)
    x = np.full((len(cases), int(lengths.max()), dims), pad_value, dtype=np.float32)
    for i, case in enumerate(cases):
        x[i, : len(case)] = case
    if not labelled:
        y = None
    elif has_classes:
        y = np.array(targets, dtype=str)
    else:
        y = np.array(targets, dtype=np.float64)
    info = TSInfo(
        problem_name=header["problemname"][0] if "problemname" in header else None,
        class_labels=labels,
        lengths=lengths,
        univariate=dims == 1,
        dimensions=dims,
        equal_length=bool(np.all(lengths == lengths[0])),
        series_length=length_header,
        missing=any(bool(np.isnan(c).any()) for c in cases),
        target_label=is_regression,
        source=name,
    )
    return x, y, info
