"""Atomic file writes: a reader sees the old complete file or the new complete one, never a part.

Every file unrolled writes goes through `atomic_write`: the bytes go to a temporary file in the
target's own directory (so the final rename never crosses a file system), are flushed and
``fsync``-ed, and then ``os.replace`` swaps the temporary file in under the target name in one
step. The directory is ``fsync``-ed too, so the rename itself survives a power cut. If the
process dies mid-save (even by ``SIGKILL``), the target is untouched and at worst a stray
``.<name>.*.tmp`` file is left beside it.

Permissions and links: a new file gets the mode ``open()`` would give it (``0o666`` less the
process's umask; ``mkstemp`` alone would leave ``0o600``), and replacing an existing file keeps
that file's mode. A symbolic link is followed: its final target is written (atomically, in the
target's directory) and the link itself stays a link.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from unrolled.io import checks


def _umask() -> int:
    """Return the process's umask without changing it (Linux reads it from /proc)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting; restored at once
    os.umask(mask)
    return mask


def _mode_for(target: Path) -> int:
    """Return the permission bits for the written file: the old file's, or 0o666 less the umask."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    Args:
        path: the final file name.
        overwrite: when ``False``, refuse to replace an existing file.

    Raises:
        FileExistsError: if ``path`` exists and ``overwrite`` is ``False``.
        FileNotFoundError: if the directory of ``path`` does not exist.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "notes.txt")
        >>> with atomic_path(target) as tmp:
        ...     _ = tmp.write_text("complete")
        >>> from pathlib import Path
        >>> Path(target).read_text()
        'complete'

    """
    target = Path(os.fspath(path))
    if target.is_symlink():  # write the link's final target; the link stays as it is
        target = Path(os.path.realpath(target))
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(
            f"Cannot save to {str(target)!r}: the directory {str(directory)!r} does not exist. "
            "Create it first (e.g. os.makedirs(directory, exist_ok=True))."
        )
    if not overwrite and target.exists():
        raise FileExistsError(
            f"{str(target)!r} already exists and overwrite=False; pass overwrite=True to "
            "replace it or choose another file name."
        )
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _mode_for(target))
        with open(tmp, "rb+") as f:
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(directory)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None] | bytes,
                 overwrite: bool = True) -> None:
    """Write ``path`` atomically from bytes, or by calling ``write(temporary_path)``.

    Args:
        path: the final file name.
        write: the file's bytes, or a function that writes the file at the path it is given.
        overwrite: when ``False``, refuse to replace an existing file.

    Raises:
        OSError: naming ``path`` and the cause when the disk is full or a size limit or quota
            is exceeded (errno ``ENOSPC``, ``EFBIG``, ``EDQUOT``, ``EIO``); ``path`` is unchanged.

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "data.bin")
        >>> atomic_write(target, b"abc")
        >>> from pathlib import Path
        >>> Path(target).read_bytes()
        b'abc'

    """
    try:
        with atomic_path(path, overwrite=overwrite) as tmp:
            if isinstance(write, (bytes, bytearray, memoryview)):
                tmp.write_bytes(bytes(write))
            else:
                write(tmp)
    except OSError as exc:
        if exc.errno not in checks.DISK_ERRNOS:
            raise
        raise checks.write_error(exc, path) from exc
