"""What unrolled checks when it writes and reads files (the README's "What is checked" table).

- Saving refuses NaN or infinite weights (`require_finite_weights`): loading refuses them, so a
  file that could not be loaded back is never written.
- Every weight array unrolled writes to HDF5 carries a SHA-256 checksum of its dtype, shape and
  bytes (the dataset attribute ``unrolled_sha256``; the root attribute ``unrolled_checksums``
  says the whole file has them); `verify_checksum` refuses an array that no longer matches, so a
  bit flip on disk or in a copy is an error, not a silent change of the model. Files written by
  Keras or another program have no checksums; they load as before (HDF5 itself does not
  checksum data, so damage inside their arrays cannot be detected).
- A member of a ``.keras`` zip is read in chunks and refused once its real inflated size passes
  a limit (`read_member`), whatever size the archive declares.
- A write that fails for lack of space or a file-size limit raises an `OSError` naming the file
  and the cause (`write_error`); the previous file is left as it was.
"""

from __future__ import annotations

import errno
import hashlib
import os

import numpy as np

from unrolled.io.serialization import UnreadableFileError

#: largest ``config.json`` read from a ``.keras`` file; a real config is a few kilobytes
MAX_CONFIG_BYTES = 64 << 20
#: largest other member (``model.weights.h5``)
MAX_MEMBER_BYTES = 1 << 34
CHECKSUM_ATTR = "unrolled_sha256"
MANIFEST_ATTR = "unrolled_checksums"
_CHUNK = 1 << 20
#: errors of a full disk or an exceeded size limit or quota, reported with the file's name
DISK_ERRNOS = frozenset(getattr(errno, n) for n in ("ENOSPC", "EFBIG", "EDQUOT", "EIO")
                        if hasattr(errno, n))


# -------------------------------------------------------------- non-finite
def require_finite_weights(model, path) -> None:
    """Refuse to save ``model`` to ``path`` when a weight holds NaN or infinity.

    Raises:
        ValueError: naming the file and the first non-finite weight (its layer is in the path).

    """
    for var in model.weights:
        arr = var.numpy()
        finite = np.isfinite(arr)
        if not finite.all():
            raise ValueError(
                f"Cannot save {os.fspath(path)!r}: weight {var.path!r} holds "
                f"{int(finite.size - np.count_nonzero(finite))} NaN or infinite value(s) of "
                f"{finite.size}, and a file holding them would be refused when loaded. The "
                "model diverged (e.g. after a NaNLossError): restore the weights from an "
                "earlier checkpoint, or train again with a lower learning rate.")


# ------------------------------------------------------------------ zip bombs
def read_member(zf, name: str, limit: int, source: str) -> bytes:
    """Read member ``name`` of the open zip ``zf`` in chunks; refuse it past ``limit`` bytes.

    The size the archive declares is not trusted: the inflated bytes are counted as they come.

    Raises:
        UnreadableFileError: naming ``source``, the member and the limit.

    """
    setting = "MAX_CONFIG_BYTES" if limit == MAX_CONFIG_BYTES else "MAX_MEMBER_BYTES"
    chunks, total = [], 0
    with zf.open(name) as member:
        while chunk := member.read(_CHUNK):
            total += len(chunk)
            if total > limit:
                raise UnreadableFileError(
                    f"{source}: {name} inflates to more than {limit} bytes (the archive "
                    f"declares {zf.getinfo(name).file_size}); refusing to unpack it, as it is "
                    "damaged or a zip bomb. If the file is genuine, raise the limit "
                    f"unrolled.io.checks.{setting}.")
            chunks.append(chunk)
    return b"".join(chunks)


# ----------------------------------------------------------------- checksums
def digest(arr) -> str:
    """SHA-256 (hex) of an array's dtype, shape and little-endian bytes."""
    a = np.ascontiguousarray(arr)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def add_checksum(dataset, arr) -> None:
    """Store ``arr``'s checksum on the HDF5 ``dataset`` that holds it."""
    dataset.attrs[CHECKSUM_ATTR] = digest(arr)
    dataset.file.attrs[MANIFEST_ATTR] = "sha256"


def verify_checksum(dataset, arr, source: str, what: str) -> None:
    """Compare ``arr`` (read from ``dataset``) with the checksum stored when it was written.

    A dataset without a checksum passes, unless its file says all its datasets have one.

    Raises:
        UnreadableFileError: naming ``source``, ``what`` and the dataset.

    """
    stored = dataset.attrs.get(CHECKSUM_ATTR)
    if stored is None:
        if dataset.file.attrs.get(MANIFEST_ATTR) is not None:
            raise UnreadableFileError(
                f"{source}: {what} ('{dataset.name}') has lost its checksum although the file "
                "was written with one for every weight; the file was damaged after it was "
                "saved. Restore it from a backup or save the model again.")
        return
    if isinstance(stored, bytes):
        stored = stored.decode("ascii", "replace")
    if stored != digest(arr):
        raise UnreadableFileError(
            f"{source}: the values of {what} ('{dataset.name}') do not match the checksum "
            "stored when unrolled wrote them: the file was damaged after it was saved (a bad "
            "disk, a faulty copy or an edit). Restore it from a backup or save the model again.")


# ------------------------------------------------------------------ disk full
def write_error(exc: OSError, path) -> OSError:
    """Return an `OSError` with ``exc``'s errno that names ``path`` and says what to do."""
    code = errno.errorcode.get(exc.errno, str(exc.errno))
    return OSError(exc.errno, f"Could not save the file: {os.strerror(exc.errno)} ({code}) "
                   "while writing it; the previous file, if any, is unchanged and no partial "
                   "file is left. Free disk space (or raise the file size limit or quota) and "
                   "save again", os.fspath(path))
