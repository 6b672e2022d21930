"""Host-side data for training: coercion, input and label checks, weights and batch plans.

Everything here runs in NumPy before a step is called, on the plain data a model describes
(`unrolled.training.spec.ModelSpec`): input names and shapes, output shapes, losses. Several
inputs (or the labels of several outputs) travel together as `Arrays`, indexed by sample.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


class Arrays:
    """Several arrays with the same number of rows, indexed together (a JAX pytree)."""

    def __init__(self, arrays):
        self.arrays = list(arrays)

    @property
    def shape(self) -> tuple[int]:
        """``(rows,)``: enough of a shape for the batch loop."""
        return (self.arrays[0].shape[0],)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> Arrays:
        return Arrays([a[index] for a in self.arrays])


jax.tree_util.register_pytree_node(Arrays, lambda b: (b.arrays, None),
                                   lambda _, children: Arrays(children))


def fmt_shape(shape) -> str:
    """Format a shape with ``None`` for unknown sizes, as Keras prints them."""
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")")


def as_float_array(a, what: str) -> np.ndarray:
    """Return ``a`` as a finite float32 array; ``what`` names it in the errors."""
    try:
        arr = np.asarray(a, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{what} must be numeric arrays (padded to equal length; see "
            f"unrolled.utils.pad_sequences); could not convert: {exc}"
        ) from None
    if arr.size and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        kind = "NaN" if np.isnan(arr[tuple(bad)]) else "inf"
        count = int(np.sum(~np.isfinite(arr)))
        raise ValueError(
            f"{what} contains {count} non-finite value(s) (first: {kind} at index "
            f"{tuple(int(i) for i in bad)}). Replace NaN/inf before training, e.g. pad with 0 and "
            "use a Masking(0.0) layer for missing steps."
        )
    return arr


def check_inputs(x, spec, what: str):
    """Return ``x`` checked against the model's inputs: an array, or `Arrays` for several."""
    if isinstance(x, Arrays):
        return x
    if not spec.multi_input:
        if (isinstance(x, (list, tuple)) and len(x) == 1 and spec.inputs
                and np.ndim(x[0]) == len(spec.inputs[0][1])):
            x = x[0]  # a list holding the one input's array (not a list of one sample)
        x = as_float_array(x, f"The input x passed to {what}")
        if spec.inputs:
            _check_shape(x, spec.inputs[0][1], what)
        _run_input_checks([x], spec, what)
        return x
    names = [name for name, _ in spec.inputs]
    shapes = [shape for _, shape in spec.inputs]
    if isinstance(x, dict):
        missing = [n for n in names if n not in x]
        if missing:
            raise ValueError(f"{what}: the input dict lacks {missing}; the model's inputs "
                             f"are {names}.")
        x = [x[n] for n in names]
    if not isinstance(x, (list, tuple)) or len(x) != len(names):
        got = len(x) if isinstance(x, (list, tuple)) else f"1 array of shape {np.shape(x)}"
        raise ValueError(
            f"{what}: model {spec.name!r} has {len(names)} inputs with shapes {shapes}; "
            f"received {got}. Pass a list with one array per input, in the order of "
            "`model.inputs`."
        )
    arrays = []
    for i, (name, want, a) in enumerate(zip(names, shapes, x, strict=True)):
        a = as_float_array(a, f"Input {i} ({name}) passed to {what}")
        if a.ndim != len(want) or any(w is not None and w != g
                                      for w, g in zip(want[1:], a.shape[1:], strict=True)):
            raise ValueError(f"{what}: input {i} ({name}) expects shape {want}; "
                             f"received {a.shape}.")
        arrays.append(a)
    counts = {a.shape[0] for a in arrays}
    if len(counts) > 1:
        raise ValueError(f"{what}: all inputs need the same number of samples; received "
                         f"{[a.shape[0] for a in arrays]}.")
    _run_input_checks(arrays, spec, what)
    return Arrays(arrays)


def _run_input_checks(arrays: list, spec, what: str) -> None:
    for a in arrays:
        if 0 in a.shape[1:]:
            raise ValueError(
                f"{what}: received inputs of shape {a.shape}, with an axis of length 0 (axis "
                f"{a.shape.index(0, 1)}; axis 1 is time): zero-length sequences cannot be "
                "processed. Drop empty sequences, or pad them to one step and mask it."
            )
    for index, check in spec.input_checks:
        check(arrays[index], what)


def _check_shape(x: np.ndarray, expected, what: str) -> None:
    if x.ndim != len(expected):
        raise ValueError(
            f"{what}: the model expects inputs of rank {len(expected)} with shape "
            f"{fmt_shape(expected)}, but received x with shape {x.shape}. Sequence data is "
            "(samples, timesteps, features)."
        )
    for i, (want, got) in enumerate(zip(expected, x.shape, strict=False)):
        if i > 0 and want is not None and want != got:
            raise ValueError(
                f"{what}: the model expects inputs of shape {fmt_shape(expected)}, but "
                f"received x with shape {x.shape} (axis {i}: expected {want}, got {got})."
            )


def output_shapes(spec, x) -> list[tuple]:
    """Return the output shapes (batch axis None); sizes left open are traced for ``x``."""
    shapes = list(spec.output_shapes)
    if all(s is not None and all(d is not None for d in s[1:]) for s in shapes):
        return [(None, *s[1:]) for s in shapes]
    rows = x.arrays if isinstance(x, Arrays) else [x]
    specs = [jax.ShapeDtypeStruct((1, *np.shape(a)[1:]), jnp.float32) for a in rows]
    x_spec = Arrays(specs) if isinstance(x, Arrays) else specs[0]
    tv = [w.value for w in spec.trainable]
    ntv = [w.value for w in spec.non_trainable]
    outs = jax.eval_shape(lambda v: spec.forward(tv, ntv, v, False, None)[0], x_spec)
    outs = outs if spec.multi_output else [outs]  # shapes only: nothing runs or compiles
    return [(None, *o.shape[1:]) for o in outs]


def check_batch_size(batch_size, what: str, n: int | None = None) -> int:
    """Return ``batch_size`` as a positive int (32 for None), clipped to ``n`` rows as Keras.

    Refuses 0, negative, bool and float values (``2.5``) with a ValueError naming ``what``:
    ``int()`` would truncate them silently.
    """
    if batch_size is None:
        batch_size = 32
    if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
            or batch_size <= 0):
        raise ValueError(f"{what}: batch_size must be a positive integer (or None for 32); "
                         f"received {batch_size!r}.")
    batch_size = int(batch_size)
    return batch_size if not n else min(batch_size, n)


def evaluation_batch_size(batch_size: int, n: int) -> int:
    """``batch_size`` bounded for evaluating ``n`` rows: at most the power of two >= ``n``.

    A batch size far above the data would pad every step to it (memory for nothing); bounding
    it by a power of two rather than ``n`` itself keeps a small validation set on the batch
    shape already compiled (padded rows weigh 0, so the numbers are the same).
    """
    return batch_size if batch_size <= n else min(batch_size, 1 << max(n - 1, 0).bit_length())


def batches(n: int, batch_size: int, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return row indices ``(steps, batch_size)`` in ``order`` and their validity (0: padding).

    The last partial batch is padded with row 0 and weight 0, so every step has the same shape
    and an epoch compiles one step.
    """
    steps = max(1, math.ceil(n / batch_size))
    pad = steps * batch_size - n
    idx = np.concatenate([order, np.zeros(pad, order.dtype)]).reshape(steps, batch_size)
    valid = np.ones(steps * batch_size, np.float32)
    valid[n:] = 0.0
    return idx.astype(np.int32), valid.reshape(steps, batch_size)


def split_validation(x, y, sw, validation_split: float):
    """Hold out the LAST ``validation_split`` of the samples, as Keras (before shuffling)."""
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be in (0, 1); got {validation_split}.")
    n = x.shape[0]
    split = int(math.floor(n * (1.0 - validation_split)))  # as Keras
    if split in (0, n):
        raise ValueError(
            f"validation_split={validation_split} leaves no samples on one side of "
            f"the split of {n} samples; use more data or another fraction."
        )
    return (x[:split], y[:split], sw[:split]), (x[split:], y[split:], sw[split:])


def num_samples(x) -> int:
    """Return the number of samples in ``x`` (an array or a list/tuple/dict of arrays)."""
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, (list, tuple)):
        return len(x[0])
    return len(x)
