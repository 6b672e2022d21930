"""Process-level settings that make XLA on CPU faster, applied once before the first compiled step.

XLA on CPU allocates the temporaries of every call of a compiled function afresh (for an LSTM
train step at 128 units: the saved gates, the per-step inputs of the weight gradient, the
gradient of every gate, tens of MB). glibc serves allocations that large with ``mmap`` and gives
them back to the kernel on ``free``, so every call touches fresh pages and pays one page fault
per 4 KiB: at the medium benchmark size that was a fifth of the train step (BENCHMARKS.md).
Raising glibc's mmap threshold to 64 MiB and its trim threshold to 128 MiB keeps those pages in
the process from one call to the next. Measured and rejected: 1 GiB thresholds (peak memory at
the large benchmark size 1.1-1.3 GiB instead of ~0.8), one malloc arena (XLA's compiler threads
then contend for it: first trained batch ~0.5 s later).

This changes the allocator of the whole process (as ``MALLOC_MMAP_THRESHOLD_`` and friends
would), so it is documented, done once, and can be switched off with the environment variable
``UNROLLED_TUNE_MALLOC=0`` (read when unrolled is imported). Elsewhere than glibc it does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

# glibc's mallopt parameter numbers (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 64 << 20  # allocations below 64 MiB come from the heap, not from fresh mmaps
TRIM_THRESHOLD = 128 << 20  # give memory back to the kernel once 128 MiB lie free on top

_state: dict[str, object] = {"done": False, "applied": False}


def _glibc():
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - raises AttributeError outside glibc
    except (OSError, AttributeError):
        return None
    return libc


def tune_allocator(force: bool = False) -> bool:
    """Apply the allocator settings once per process; return whether they are in effect.

    Called when ``unrolled`` is imported. ``UNROLLED_TUNE_MALLOC=0`` in the environment turns it
    off (``force=True`` applies it anyway).

    Example:
        >>> from unrolled._runtime import tune_allocator
        >>> isinstance(tune_allocator(), bool)
        True

    """
    if _state["done"] and not force:
        return bool(_state["applied"])
    _state["done"] = True
    if not force and os.environ.get("UNROLLED_TUNE_MALLOC", "1").strip().lower() in (
            "0", "false", "no", "off"):
        return False
    libc = _glibc()
    if libc is None:
        return False
    ok = all(libc.mallopt(param, value) == 1 for param, value in (
        (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD)))
    _state["applied"] = ok
    return ok
