"""Read a text data file from a path or an open file, gzip-transparent, with clear errors.

Shared by the `.ts` and CSV readers. A file is gzip-compressed when its first two bytes are the
gzip magic number, whatever its name. Text is decoded as UTF-8 (a byte-order mark is dropped);
bytes that are not UTF-8 fall back to Latin-1 so that an accented name in a comment does not
stop a read. Content with NUL bytes is binary, not text, and is refused.
"""

from __future__ import annotations

import gzip
import os
import zlib
from typing import IO, Union

import numpy as np

PathOrFile = Union[str, "os.PathLike[str]", IO[str], IO[bytes]]

_GZIP_MAGIC = b"\x1f\x8b"


def source_name(path_or_file: PathOrFile) -> str:
    """Return a name for `path_or_file` to use in error messages.

    Args:
        path_or_file: a path or an open file object.

    Returns:
        The path as a string, the file object's `name` attribute, or `"<file object>"`.

    """
    if isinstance(path_or_file, (str, os.PathLike)):
        return os.fspath(path_or_file)
    name = getattr(path_or_file, "name", None)
    return str(name) if isinstance(name, (str, os.PathLike)) else "<file object>"


def read_text(path_or_file: PathOrFile, kind: str) -> str:
    """Read the whole text of a (possibly gzip-compressed) file.

    Args:
        path_or_file: a path (`str` or `os.PathLike`) or a file object opened in text or binary
            mode.
        kind: what the file should be, for error messages (e.g. `"UCR/UEA .ts"`).

    Returns:
        The decoded text.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: the file is empty, is a corrupt gzip stream, or holds binary data.

    """
    name = source_name(path_or_file)
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "rb") as f:
            raw: bytes | str = f.read()
    elif hasattr(path_or_file, "read"):
        raw = path_or_file.read()
    else:
        raise TypeError(
            f"Expected a path or an open file object for a {kind} file, "
            f"found {type(path_or_file).__name__}."
        )
    if isinstance(raw, str):
        text = raw
    else:
        raw = bytes(raw)
        if raw[:2] == _GZIP_MAGIC:
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as e:
                raise ValueError(
                    f"{name}: looks gzip-compressed (starts with the gzip magic bytes) but "
                    f"could not be decompressed: {e}. Expected a valid .gz archive of a {kind} "
                    "file; re-download or re-compress it."
                ) from e
        if b"\x00" in raw:
            raise ValueError(
                f"{name}: is not a {kind} text file: it holds binary data (NUL bytes). "
                f"Expected plain text (optionally gzip-compressed)."
            )
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise ValueError(f"{name}: the file is empty; expected a {kind} file.")
    return text


FLOAT32_MAX = float(np.finfo(np.float32).max)


def float32_overflow(values: np.ndarray, cells) -> int | None:
    """Return the index of the first value too large for float32, or `None`.

    A value written as a number whose magnitude exceeds float32's largest (``1e300``, or
    ``1e400``, which Python already reads as inf) would silently become inf in `x`; a cell that
    spells ``inf`` itself is left to the caller's rules.
    """
    for k in np.flatnonzero(np.abs(values) > FLOAT32_MAX):  # NaN compares False
        if "inf" not in str(cells[k]).lower():
            return int(k)
    return None
