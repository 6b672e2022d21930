"""Checks that run before any work: argument types and output paths.

Everything a command will need at its end (a writable ``--out``, matplotlib for ``--plots``,
onnx for ``--to onnx``) is checked before data is read or a model is trained.
"""

from __future__ import annotations

import argparse
import importlib.util
import os

from unrolled.cli.errors import UsageError

EXTRAS = {"matplotlib": "plot", "onnx": "onnx", "torch": "torch", "sklearn": "sklearn"}


def positive_int(text: str) -> int:
    """Argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, found {value}")
    return value


def fraction(text: str) -> float:
    """Argparse type: a float in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, found {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), found {value:g}")
    return value


def positive_float(text: str) -> float:
    """Argparse type: a float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, found {text!r}") from None
    if not value > 0.0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, found {value:g}")
    return value


def missing_mode(text: str) -> str:
    """Argparse type for ``--missing``: error, mask or a number."""
    if text in ("error", "mask"):
        return text
    try:
        float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected error, mask or a number, found {text!r}") from None
    return text


def writable_file(path: str, option: str = "--out", suffixes: tuple[str, ...] = ()) -> None:
    """Refuse an output file that could not be written, before any work is done."""
    if os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is a directory; expected a file name inside it, "
                         f"e.g. {os.path.join(path, 'out' + (suffixes[0] if suffixes else ''))}.")
    if suffixes and not path.endswith(suffixes):
        raise UsageError(f"{option} must name a {' or '.join(suffixes)} file; received "
                         f"{path!r}.")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"{option} {path!r}: the directory {directory!r} does not exist; "
                         "create it first (mkdir -p).")
    if not os.access(directory, os.W_OK | os.X_OK) or (
            os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"{option} {path!r} is not writable here (permissions); choose "
                         "another place.")


def writable_dir(path: str, option: str) -> None:
    """Refuse an output folder that could not be created or written."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is a file; expected a folder.")
    probe = path
    while not os.path.exists(probe):
        parent = os.path.dirname(os.path.abspath(probe))
        if parent == os.path.abspath(probe):
            break
        probe = parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path!r} cannot be written ({probe!r} is not writable); "
                         "choose another folder.")


def package(module: str, what: str) -> None:
    """Refuse early when an optional package is missing, naming the extra to install."""
    if importlib.util.find_spec(module) is None:
        extra = EXTRAS.get(module, module)
        raise UsageError(f"{what} needs {module}, which is not installed: pip install "
                         f"'unrolled[{extra}]' (or pip install {module}).")


def existing_file(path: str, what: str) -> None:
    """Refuse a missing input file (a usage error)."""
    if not os.path.isfile(path):
        raise UsageError(f"{what} {path!r} does not exist" +
                         (" (it is a directory)." if os.path.isdir(path) else "."))
