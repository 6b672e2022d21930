"""Reading the user's data for every command: .ts, .csv, .npy/.npz, bundled names and ``-``.

`read_data` returns a `Data`: inputs padded with the model's mask value, labels (found in the
file or stated with ``--labels/--no-labels``), what kind of target they are, and one-line notes
for the summary printed before training. Missing values are refused unless ``--missing`` says
what to do with them.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import sys
from dataclasses import dataclass, field

import numpy as np

from unrolled.cli.errors import CommandError, UsageError

LABEL_NAMES = ("label", "labels", "class", "classes", "target", "targets", "y", "category")
X_KEYS = ("x", "X", "inputs")
Y_KEYS = ("y", "Y", "labels", "targets")
FORMATS = ".ts, .csv (or .txt), .npy, .npz (each optionally .gz), a bundled dataset name " \
          "(ItalyPowerDemand, JapaneseVowels; add :train or :test) or - for standard input"


@dataclass
class Data:
    """What a command reads: ``x (N, T, F)`` float32 padded with ``pad_value``, and labels.

    ``task`` is ``"classes"`` (``y`` strings), ``"regression"`` (``y`` float ``(N,)`` or
    ``(N, k)``), ``"multilabel"`` (``y`` 0/1 ``(N, k)``) or ``None`` (no labels).
    """

    x: np.ndarray
    y: np.ndarray | None
    task: str | None
    lengths: np.ndarray
    source: str
    kind: str
    pad_value: float
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ sources
def _open_source(spec: str) -> tuple[bytes | None, str]:
    """Return ``(bytes, name)`` for a file or ``-``; ``(None, spec)`` for a dataset name."""
    if spec == "-":
        data = sys.stdin.buffer.read()
        if not data:
            raise UsageError("standard input is empty; pipe a .ts, .csv, .npy or .npz file in.")
        return data, "<stdin>"
    if os.path.isdir(spec):
        raise UsageError(f"data {spec!r} is a directory; expected a file ({FORMATS}).")
    if os.path.isfile(spec):
        with open(spec, "rb") as f:
            return f.read(), spec
    return None, spec


def _sniff(data: bytes, name: str) -> str:
    lower = name.lower().removesuffix(".gz")
    for ext, kind in ((".ts", "ts"), (".csv", "csv"), (".txt", "csv"), (".npy", "npy"),
                      (".npz", "npz")):
        if lower.endswith(ext):
            return kind
    if data.startswith(b"\x93NUMPY"):
        return "npy"
    if data.startswith(b"PK"):
        return "npz"
    head = data[:4096].decode("utf-8", "replace").lower()
    lines = [ln.strip() for ln in head.splitlines() if ln.strip()]
    if name != "<stdin>" and (not lines or "\x00" in head):
        raise UsageError(f"{name!r}: cannot tell its format; expected {FORMATS}.")
    if lines and (lines[0].startswith(("@", "#")) or "@data" in head):
        return "ts"
    if name != "<stdin>":
        raise UsageError(f"{name!r}: expected {FORMATS}; the file name ends otherwise.")
    return "csv"


def _bundled(spec: str, split: str, pad_value: float):
    from unrolled import datasets

    looks_like_file = os.sep in spec or "." in os.path.basename(spec)
    if looks_like_file:
        raise UsageError(f"data file {spec!r} does not exist. Expected {FORMATS}.")
    name, _, which = spec.partition(":")
    which = which or split
    if which not in ("train", "test"):
        raise UsageError(f"{spec!r}: after the dataset name expected :train or :test.")
    try:
        x, y, info = datasets.load_split(name, which, pad_value=pad_value)
    except ValueError as exc:
        raise UsageError(f"data {spec!r} is neither an existing file nor a bundled dataset "
                         f"({exc}). Expected {FORMATS}.") from exc
    return x, y, info.lengths, f"bundled dataset {info.problem_name or name} ({which} split)"


# ------------------------------------------------------------------------------- labels
def _cells(text: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]


def _is_number(cell: str) -> bool:
    cell = cell.strip()
    if cell in ("", "?"):
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


def csv_has_labels(text: str, name: str, labels: bool | None, need_labels: bool) -> bool:
    """Decide whether a CSV's last column is a label (see ``--labels`` in the help)."""
    if labels is not None:
        return labels
    rows = _cells(text)
    if not rows:
        return False
    header = not all(_is_number(c) for c in rows[0][:-1])
    if header:
        if rows[0][-1].strip().lower() in LABEL_NAMES:
            return True
        rows = rows[1:]
    if any(not _is_number(row[-1]) for row in rows if row):
        return True
    if header:
        return False
    if need_labels:
        return True
    raise UsageError(
        f"{name!r}: cannot tell whether the last number of each row is a label or the "
        "sequence's last value. Pass --labels (the last column is a label and is not read as "
        "data) or --no-labels (every column is data), or give the file a header row whose "
        f"last name is one of {', '.join(LABEL_NAMES)}.")


def _task_of(y: np.ndarray) -> tuple[np.ndarray, str]:
    """Classify raw labels: names and whole numbers -> classes, fractions -> regression.

    A ``(N, k)`` array of 0/1 is one-hot classes when every row has one 1, else multi-label.
    """
    if y.dtype.kind in "USO":
        y = y.astype(str)
        try:
            values = y.astype(np.float64)
        except ValueError:
            return y, "classes"
        if np.all(np.isfinite(values)) and np.any(values != np.round(values)):
            return values.astype(np.float32), "regression"  # e.g. a CSV of real targets
        return y, "classes"
    if y.ndim == 2 and y.shape[1] > 1:
        binary = np.isin(y, (0, 1)).all()
        if binary and np.all(y.sum(1) == 1):
            return np.argmax(y, 1).astype(str), "classes"
        return (y.astype(np.float32), "multilabel" if binary else "regression")
    y = y.reshape(len(y))
    if y.dtype.kind in "iub" or y.dtype == bool:
        return y.astype(np.int64).astype(str), "classes"
    return y.astype(np.float32), "regression"


# --------------------------------------------------------------------------------- read
def _lengths_from_tail(x: np.ndarray, pad_value: float) -> np.ndarray:
    """Return each sequence's length: trailing all-NaN or all-``pad_value`` steps are padding."""
    real = ~(np.all(np.isnan(x), axis=-1) | np.all(x == np.float32(pad_value), axis=-1))
    last = np.where(real.any(1), x.shape[1] - np.argmax(real[:, ::-1], axis=1), 0)
    return last.astype(np.int64)


def _read_numpy(data: bytes, kind: str, name: str, split: str, labels: bool | None,
                pad_value: float):
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        raise CommandError(f"{name!r}: not a readable NumPy {kind} file ({exc}).") from exc
    y = None
    if isinstance(loaded, np.ndarray):
        x = loaded
        if labels:
            raise UsageError(f"{name!r} is one .npy array (inputs only); --labels needs a .npz "
                             "with arrays x and y.")
    else:
        keys = loaded.files
        xk = next((k for k in (*X_KEYS, f"x_{split}") if k in keys), None)
        yk = next((k for k in (*Y_KEYS, f"y_{split}") if k in keys), None)
        if xk is None:
            raise CommandError(f"{name!r} holds arrays {keys}; expected one named "
                               f"{' or '.join((*X_KEYS, f'x_{split}'))}.")
        x = loaded[xk]
        if labels is not False and yk is not None:
            y = loaded[yk]
        elif labels:
            raise UsageError(f"{name!r} has no label array (expected one named "
                             f"{' or '.join((*Y_KEYS, f'y_{split}'))}).")
    if x.ndim == 2:
        x = x[:, :, None]  # (N, T) univariate
    if x.ndim != 3 or x.dtype.kind not in "fiub":
        raise CommandError(f"{name!r}: expected numbers shaped (N, T, F) or (N, T); found "
                           f"{x.dtype} {x.shape}.")
    x = x.astype(np.float32)
    return x, y, _lengths_from_tail(x, pad_value)


def read_data(spec: str, *, labels: bool | None = None, need_labels: bool = False,
              pad_value: float = 0.0, missing: str = "error", split: str = "test") -> Data:
    """Read a data argument (see `FORMATS`) for a command.

    Args:
        spec: a path, a bundled dataset name (``Name`` or ``Name:train``) or ``-``.
        labels: ``True``/``False`` as ``--labels/--no-labels``; ``None`` detects.
        need_labels: the command needs labels (train, evaluate): an unlabelled file is refused
            and an undecidable CSV is taken as labelled (and said so in the notes).
        pad_value: the value after each shorter sequence's end: the model's mask value.
        missing: ``"error"``, ``"mask"`` or a number (see ``--missing``).
        split: the split of a bundled dataset or a .npz with ``x_train``/``x_test``.

    Returns:
        A `Data`.

    Raises:
        UsageError: the file does not exist, the format is unknown, labels are ambiguous.
        CommandError: the content is malformed or has missing values and ``missing="error"``.

    """
    data, name = _open_source(spec)
    notes: list[str] = []
    if data is None:
        x, y, lengths, kind = _bundled(spec, split, pad_value)
    else:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        kind = _sniff(data, name)
        try:
            x, y, lengths = _read_kind(data, kind, name, split, labels, need_labels, pad_value)
        except UnicodeDecodeError as exc:
            raise CommandError(f"{name!r} is not a text file ({exc}).") from exc
        except ValueError as exc:
            if isinstance(exc, CommandError):
                raise
            raise CommandError(str(exc)) from exc
    if labels is False:
        y = None
    if labels and y is None:
        raise UsageError(f"{name!r} has no labels but --labels was given.")
    if need_labels and y is None:
        raise UsageError(f"{name!r} has no labels; this command needs them (a .ts file with "
                         "@classLabel or @targetLabel, a CSV label column, or y in a .npz).")
    task = None
    if y is not None:
        y, task = _task_of(np.asarray(y))
    x = _fill_missing(x, lengths, name, missing, pad_value, notes)
    _pad_tail(x, lengths, pad_value)
    _warn_collisions(x, lengths, name, pad_value)
    return Data(x=x, y=y, task=task, lengths=lengths, source=name, kind=kind,
                pad_value=pad_value, notes=notes)


def _read_kind(data, kind, name, split, labels, need_labels, pad_value):
    from unrolled import datasets

    if kind in ("npy", "npz"):
        return _read_numpy(data, kind, name, split, labels, pad_value)
    stream = io.BytesIO(data)
    stream.name = name
    if kind == "ts":
        x, y, info = datasets.read_ts(stream, pad_value=pad_value)
        return x, y, info.lengths
    text = data.decode("utf-8-sig")
    has = csv_has_labels(text, name, labels, need_labels)
    x, y, info = datasets.read_csv(io.StringIO(text), label_column=-1 if has else None,
                                   pad_value=pad_value)
    return x, y, info.lengths


def _fill_missing(x, lengths, name, missing, pad_value, notes):
    real = np.arange(x.shape[1])[None, :] < lengths[:, None]  # (N, T)
    holes = np.isnan(x) & real[:, :, None]
    count = int(holes.sum())
    if not count:
        return x
    if missing == "error":
        raise CommandError(
            f"{name!r} has {count} missing value(s) (empty, NaN or '?') inside its sequences. "
            "Pass --missing mask (a step whose features are all missing is skipped; a single "
            f"missing feature becomes the mask value {pad_value:g}) or --missing VALUE (fill "
            "them with VALUE, e.g. --missing 0).")
    fill = pad_value if missing == "mask" else float(missing)
    x = np.where(holes, np.float32(fill), x)
    notes.append(f"missing values: {count} filled with {fill:g} (--missing {missing})")
    return x


def _pad_tail(x, lengths, pad_value):
    for i, length in enumerate(lengths):
        x[i, length:] = pad_value


def _warn_collisions(x, lengths, name, pad_value):
    real = np.arange(x.shape[1])[None, :] < lengths[:, None]  # (N, T)
    same = np.all(x == np.float32(pad_value), axis=-1) & real
    count = int(same.sum())
    if count:
        print(f"unrolled: warning: {count} real time step(s) of {name!r} equal the mask value "
              f"{pad_value:g} in every feature; the model skips them as padding. If they are "
              "data, choose another mask value: --mask-value -999 (or start the model spec "
              "with masking:-999).", file=sys.stderr)


def describe(data: Data) -> str:
    """One paragraph for the summary printed before training."""
    n, _, f = data.x.shape
    lo, hi = int(data.lengths.min()), int(data.lengths.max())
    steps = f"length {lo}" if lo == hi else f"lengths {lo}-{hi}"
    lines = [f"data: {data.source} ({data.kind}): {n} sequences, {steps}, {f} feature(s)"]
    if data.task == "classes":
        names, counts = np.unique(data.y, return_counts=True)
        shown = ", ".join(f"{a}: {b}" for a, b in list(zip(names, counts, strict=True))[:10])
        lines.append(f"labels: {len(names)} classes ({shown}{', ...' if len(names) > 10 else ''})")
    elif data.task == "regression":
        k = 1 if data.y.ndim == 1 else data.y.shape[1]
        lines.append(f"targets: {k} real value(s) per sequence (regression)")
    elif data.task == "multilabel":
        lines.append(f"labels: {data.y.shape[1]} yes/no labels per sequence (multi-label)")
    if lo != hi:
        lines.append(f"padding: shorter sequences end with {data.pad_value:g}, the model's mask "
                     "value")
    lines += data.notes
    return "\n".join(lines)
