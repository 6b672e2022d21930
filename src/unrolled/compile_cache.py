"""JAX's persistent compilation cache: compiled XLA programs kept on disk between processes.

The first epoch of a fresh process is mostly XLA compilation; with the cache on, a second run
of the same model shapes loads the compiled programs instead. The ``unrolled`` command line turns
it on by default (``--no-compile-cache`` or ``UNROLLED_COMPILE_CACHE=0`` turn it off); library
users call `enable_compile_cache` once.

Location: ``path`` if given, else ``$UNROLLED_CACHE_DIR``, else
``$XDG_CACHE_HOME/unrolled/jax`` (``~/.cache/unrolled/jax`` when ``XDG_CACHE_HOME`` is unset).
The cache only ever holds compiled programs; deleting the folder is always safe.
"""

from __future__ import annotations

import os

ENV_SWITCH = "UNROLLED_COMPILE_CACHE"
ENV_DIR = "UNROLLED_CACHE_DIR"


def default_cache_dir() -> str:
    """Return where the cache lives when no path is given (see the module docstring)."""
    if os.environ.get(ENV_DIR):
        return os.path.expanduser(os.environ[ENV_DIR])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "unrolled", "jax")


def cache_disabled_by_env() -> bool:
    """Return whether ``UNROLLED_COMPILE_CACHE`` says off (``0``, ``false``, ``no``, ``off``)."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off")


def enable_compile_cache(path: str | os.PathLike | None = None,
                         min_compile_time_secs: float = 0.2) -> str:
    """Turn on JAX's persistent compilation cache for this process; return its folder.

    Args:
        path: the cache folder (created if missing); default `default_cache_dir()`.
        min_compile_time_secs: only programs that took at least this long to compile are
            stored (JAX's own default is 1 s, which leaves out most of a small LSTM's steps).

    Returns:
        The absolute path of the cache folder.

    Raises:
        OSError: the folder cannot be created.

    Example:
        >>> import tempfile
        >>> from unrolled.utils import enable_compile_cache
        >>> folder = enable_compile_cache(tempfile.mkdtemp())

    """
    import jax

    folder = os.path.abspath(os.fspath(path) if path is not None else default_cache_dir())
    os.makedirs(folder, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_secs))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
