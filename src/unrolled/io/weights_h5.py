"""Keras 3's ``.weights.h5`` layout: where every weight and optimizer slot lives in the file.

Keras addresses a layer by the snake-case name of its CLASS, numbered in model order (``dense``,
``dense_1``, ...; never the layer's own name, which changes between sessions), and a sub-layer
by the attribute that holds it::

    layers/lstm/cell/vars/0          kernel (D, 4u)      (the LSTM's cell is its ``cell``)
    layers/lstm/cell/vars/1          recurrent_kernel (u, 4u)
    layers/lstm/cell/vars/2          bias (4u,)
    layers/bidirectional/forward_layer/cell/vars/0 ...
    optimizer/vars/0, 1              iterations, learning_rate
    optimizer/vars/2, 3, ...         per trainable weight, Keras's slots (Adam: m, v interleaved;
                                     then v_hat for amsgrad)

Each ``vars`` group carries a ``name`` attribute; a layer's own weights are numbered trainable
first. The same layout is ``model.weights.h5`` inside a ``.keras`` zip. unrolled adds a SHA-256
checksum to every array it writes (`unrolled.io.checks`; Keras ignores the attributes) and
verifies it on load; files without checksums (from Keras) load unverified.
"""

from __future__ import annotations

import io
import os
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from unrolled.distribution.placement import on_process_zero
from unrolled.io import atomic, checks, legacy_weights
from unrolled.io.serialization import UnreadableFileError, layer_key
from unrolled.layers.base import Layer
from unrolled.ops.compile import to_host
from unrolled.training.optimizers import OptaxOptimizer

#: Keras creates an optimizer's slots in groups; slots in one group alternate per weight.
#: Optimizers not listed keep their slot dict's order, one group per key.
_SLOT_GROUPS = {"Adam": [("m", "v"), ("v_hat",)], "AdamW": [("m", "v"), ("v_hat",)],
                "RMSprop": [("velocity",), ("momentum",), ("average_gradient",)]}


def h5py():
    """Import h5py, or say how to install it."""
    try:
        import h5py as module
    except ImportError:  # pragma: no cover - h5py is a dependency; a broken install lacks it
        raise ImportError("Reading and writing Keras files needs h5py, a dependency of "
                          "unrolled that is missing here: pip install 'h5py>=3.11' (or "
                          "reinstall unrolled).") from None
    return module


# ------------------------------------------------------------------- layout
def _name_key(attr: str) -> str:
    return f"~{attr}" if attr.startswith("_") else attr


#: attributes that are unrolled's own bookkeeping, not Keras's tracked state
_NOT_STATE = frozenset({"_sublayers", "_inbound_nodes", "_own_weights", "_layers"})


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def _walk(layer: Layer, path: str, out: list, seen: set, extra=()) -> None:
    """Keras's ``_walk_saveable``: attributes by name (private last), lists as containers."""
    if id(layer) in seen:
        return
    seen.add(id(layer))
    own = [w for w in layer._own_weights if w.trainable] + \
          [w for w in layer._own_weights if not w.trainable]
    if path:
        out.append((path, layer.name, own))
    elif own:  # the root's own group is the file's "vars", which holds no weights here
        raise ValueError(f"model {layer.name!r} holds weights of its own (not in a layer); "
                         "the Keras layout of such a subclassed model is not supported.")
    items = [(k, v) for k, v in vars(layer).items() if k not in _NOT_STATE] + list(extra)
    for attr, child in sorted(items, key=lambda kv: _name_key(kv[0])):
        if isinstance(child, Layer):
            _walk(child, _join(path, attr), out, seen)
        elif isinstance(child, (list, tuple, dict)):
            members = list(child.values()) if isinstance(child, dict) else list(child)
            used: dict[str, int] = {}
            for member in members:
                if isinstance(member, Layer):
                    key = layer_key(member)
                    used[key] = used.get(key, -1) + 1
                    name = key + (f"_{used[key]}" if used[key] else "")
                    _walk(member, _join(_join(path, attr), name), out, seen)


def weight_groups(model) -> list[tuple[str, str, list]]:
    """Return ``(h5 group path, layer name, [Variable])`` for every layer, in Keras order.

    Raises:
        ValueError: if a layer holds weights in a sub-layer Keras could not address.

    """
    out: list = []
    used: dict[str, int] = {}
    seen: set = set()
    if not hasattr(model, "_layers"):  # a subclassed model: walked as Keras walks any layer
        _walk(model, "", out, seen, extra=[("layers", model.layers)])
        layers_of = []
    else:
        layers_of = model.layers
    for layer in layers_of:
        key = layer_key(layer)
        used[key] = used.get(key, -1) + 1
        _walk(layer, f"layers/{key}" + (f"_{used[key]}" if used[key] else ""), out, seen)
    covered = {id(w) for _, _, ws in out for w in ws}
    missing = [w.path for w in model.weights if id(w) not in covered]
    if missing:
        raise ValueError(f"weights {missing} sit in sub-layers without a public attribute, so "
                         "the Keras layout has no place for them.")
    return out


# ---------------------------------------------------------------- optimizer
def _has_lr(optimizer) -> bool:
    # Keras stores the learning rate as a variable unless it comes from a schedule
    return getattr(optimizer, "_schedule", None) is None


def _slot_groups(optimizer, slots) -> list[tuple]:
    """Keys of ``slots`` in Keras's creation order; ``None`` stands for a plain per-weight list."""
    if isinstance(slots, dict):
        table = _SLOT_GROUPS.get(type(optimizer).__name__) or [(k,) for k in slots]
        return [g for g in table if all(slots.get(k) is not None for k in g)]
    if isinstance(slots, (list, tuple)) and len(slots):
        return [(None,)]
    return []


def _slot(slots, key):
    return slots if key is None else slots[key]


def _fresh_state(model):
    return model.optimizer.transformation().init([w.value for w in model.trainable_weights])


def optimizer_arrays(model) -> list[np.ndarray] | None:
    """Keras's optimizer variables for ``model``: iterations, learning rate, then the slots."""
    if not getattr(model, "compiled", False) or not model.built:
        return None
    state = getattr(model, "_opt_state", None)
    if state is None:
        state = _fresh_state(model)
    if not hasattr(state, "slots") or not hasattr(state, "iterations"):
        return None
    if _is_optax(model.optimizer):  # iterations, then the transformation's state's leaves
        return [np.asarray(to_host(state.iterations), np.int64),
                *(np.asarray(to_host(leaf)) for leaf in jax.tree.leaves(state.slots))]
    arrays = [np.asarray(to_host(state.iterations), np.int64)]
    if _has_lr(model.optimizer):
        arrays.append(np.asarray(to_host(state.learning_rate), np.float32))
    for group in _slot_groups(model.optimizer, state.slots):
        for i in range(len(model.trainable_weights)):
            arrays += [np.asarray(to_host(_slot(state.slots, k)[i]), np.float32) for k in group]
    return arrays


def restore_optimizer(model, arrays: list[np.ndarray], source: str) -> None:
    """Set ``model``'s optimizer state from Keras's optimizer variables (validated first)."""
    optimizer = model.optimizer
    if _is_optax(optimizer):
        _restore_optax(model, arrays, source)
        return
    head = 2 if _has_lr(optimizer) else 1
    if len(arrays) < head:
        return
    if head == 2:
        lr = float(np.asarray(arrays[1]))
        if not np.isfinite(lr) or lr < 0:
            raise UnreadableFileError(f"{source}: the stored learning rate {lr} is not valid.")
        optimizer.learning_rate = lr
    model._opt_state = None
    model._prepare_optimizer()
    if len(arrays) == head:  # Keras writes only these before the first training step
        return
    expected = optimizer_arrays(model)
    if expected is None or len(expected) != len(arrays) or any(
            np.shape(a) != np.shape(e) for a, e in zip(arrays, expected, strict=True)):
        warnings.warn(
            f"{source}: the stored optimizer state ({len(arrays)} arrays) does not fit "
            f"{type(optimizer).__name__} on this model "
            f"({0 if expected is None else len(expected)} arrays); training starts the "
            "optimizer afresh.", UserWarning, stacklevel=3)
        return
    state = model._opt_state
    slots = state.slots
    new = {k: list(_slot(slots, k)) for g in _slot_groups(optimizer, slots) for k in g}
    pos = head
    for group in _slot_groups(optimizer, slots):
        for i in range(len(model.trainable_weights)):
            for k in group:
                new[k][i] = jnp.asarray(arrays[pos], jnp.float32)
                pos += 1
    if isinstance(slots, dict):
        slots = {**slots, **new}
    elif None in new:
        slots = type(slots)(new[None])
    iterations = jnp.asarray(int(np.asarray(arrays[0])), state.iterations.dtype)
    model._opt_state = state._replace(iterations=iterations, slots=slots)
    optimizer.iterations = int(iterations)


def _is_optax(optimizer) -> bool:
    return isinstance(optimizer, OptaxOptimizer)


def _restore_optax(model, arrays, source: str) -> None:
    """Set a wrapped optax transformation's state from the leaves `optimizer_arrays` wrote."""
    model._opt_state = None
    model._prepare_optimizer()
    state = model._opt_state
    leaves, treedef = jax.tree.flatten(state.slots)
    if len(arrays) != 1 + len(leaves) or any(
            np.shape(a) != np.shape(b) for a, b in zip(arrays[1:], leaves, strict=True)):
        warnings.warn(f"{source}: the stored optimizer state ({len(arrays)} arrays) does not fit "
                      f"this optax transformation ({1 + len(leaves)} arrays); training starts "
                      "the optimizer afresh.", UserWarning, stacklevel=4)
        return
    slots = treedef.unflatten([jnp.asarray(a, b.dtype)
                               for a, b in zip(arrays[1:], leaves, strict=True)])
    iterations = jnp.asarray(int(np.asarray(arrays[0])), state.iterations.dtype)
    model._opt_state = state._replace(iterations=iterations, slots=slots)
    model.optimizer.iterations = int(iterations)


# ------------------------------------------------------------- read / write
def write_weights(f, model, include_optimizer: bool = True) -> None:
    """Write ``model``'s weights (and optimizer state) into an open, writable h5py File."""
    for path, name, variables in weight_groups(model):
        group = f.require_group(path).create_group("vars")
        group.attrs["name"] = name
        for i, var in enumerate(variables):
            data = var.numpy()
            checks.add_checksum(group.create_dataset(str(i), data=data), data)
    f.create_group("vars").attrs["name"] = model.name
    arrays = optimizer_arrays(model) if include_optimizer else None
    if arrays is not None:
        group = f.create_group("optimizer").create_group("vars")
        group.attrs["name"] = model.optimizer.name
        for i, a in enumerate(arrays):
            checks.add_checksum(group.create_dataset(str(i), data=a), a)


def _read_vars(f, path: str, count: int, what: str, source: str) -> list[np.ndarray]:
    h5 = h5py()
    group = f.get(path)
    group = group.get("vars") if isinstance(group, h5.Group) else None
    if not isinstance(group, h5.Group):
        if count == 0:
            return []
        raise UnreadableFileError(
            f"{source}: no weights for {what} (expected the group '{path}/vars' with {count} "
            "arrays). The file was saved from a different model; build the same layers first.")
    names = sorted(group.keys(), key=lambda k: (len(k), k))
    if names != [str(i) for i in range(count)]:
        raise UnreadableFileError(
            f"{source}: {what} has {len(names)} stored arrays at '{path}/vars' but the model's "
            f"layer has {count} weights. The file was saved from a different architecture.")
    out = []
    for i in range(count):
        ds = group[str(i)]
        if not isinstance(ds, h5.Dataset):
            raise UnreadableFileError(f"{source}: '{path}/vars/{i}' is not an array.")
        out.append(np.asarray(ds[()]))
        checks.verify_checksum(ds, out[-1], source, f"weight {i} of {what}")
    return out


def read_weights(f, model, source: str, include_optimizer: bool = True) -> None:
    """Load weights (and optimizer state) from an open h5py File, checking all before assigning.

    Raises:
        UnreadableFileError: (a ValueError) for a missing layer, a count or shape mismatch,
            non-finite weights, or an array that fails the checksum unrolled stored with it
            (`unrolled.io.checks`), naming the file, layer and weight.

    """
    pending = []
    for path, name, variables in weight_groups(model):
        what = f"layer {name!r}"
        arrays = _read_vars(f, path, len(variables), what, source)
        for var, arr in zip(variables, arrays, strict=True):
            if tuple(arr.shape) != var.shape:
                raise UnreadableFileError(
                    f"{source}: weight {var.path!r} of {what} has shape {tuple(arr.shape)} in "
                    f"the file but {var.shape} in the model. The file was saved from a model "
                    "with different sizes; build the same layers first.")
            if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
                raise UnreadableFileError(
                    f"{source}: weight {var.path!r} of {what} holds non-numeric, NaN or "
                    "infinite values; the model was broken (diverged) when it was saved.")
            pending.append((var, arr))
    optimizer = None
    if include_optimizer and getattr(model, "compiled", False) and "optimizer" in f:
        group = f["optimizer"].get("vars")
        if group is not None:
            optimizer = _read_vars(f, "optimizer", len(group.keys()), "the optimizer", source)
    for var, arr in pending:
        var.assign(np.asarray(arr, np.float32))
    if optimizer is not None:
        restore_optimizer(model, optimizer, source)


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Write ``model``'s weights to ``filepath`` (``.weights.h5``) atomically, Keras layout.

    Raises:
        ValueError: if the name does not end in ``.weights.h5``, the model is not built, or a
            weight holds NaN or infinity (named; loading would refuse the file).
        OSError: naming the file when the disk is full (the old file stays as it was).

    """
    path = os.fspath(filepath)
    if not str(path).endswith(".weights.h5"):
        raise ValueError(f"save_weights writes Keras's '.weights.h5' format; the file name must "
                         f"end in '.weights.h5'. Received: {path!r}.")
    model._require_built("save_weights")
    checks.require_finite_weights(model, path)
    buffer = io.BytesIO()  # built in memory: a full disk then fails a plain write, named
    with h5py().File(buffer, "w") as f:
        write_weights(f, model)
    on_process_zero(lambda: atomic.atomic_write(path, buffer.getvalue(), overwrite=overwrite))


def open_h5(fileobj, source: str):
    """Open an HDF5 file (path or file object) for reading, or raise `UnreadableFileError`."""
    h5 = h5py()
    try:
        return h5.File(fileobj, "r")
    except Exception as exc:  # h5py raises OSError, ValueError, KeyError... on damaged files
        raise UnreadableFileError(
            f"{source} is not a readable HDF5 weights file (it is truncated, damaged or of "
            f"another format): {type(exc).__name__}: {exc}") from None


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load ``.weights.h5`` weights into ``model`` (built to the same architecture).

    Raises:
        ValueError: for a missing, damaged or mismatching file, naming it and the problem.

    """
    if skip_mismatch:
        raise ValueError("skip_mismatch=True is not supported; load into the same architecture.")
    source = f"Weights file {os.fspath(filepath)!r}"
    if not os.path.isfile(filepath):
        raise FileNotFoundError(f"{source} does not exist.")
    model._require_built("load_weights")
    with open_h5(filepath, source) as f:
        if "layer_names" in f.attrs or "model_weights" in f:  # legacy Keras 2 layout
            group = f["model_weights"] if "model_weights" in f else f
            guarded(lambda: legacy_weights.load_weights_group(group, model, source), source)
        else:
            guarded(lambda: read_weights(f, model, source), source)


def guarded(fn, source: str):
    """Run ``fn``; turn any low-level error from a damaged file into `UnreadableFileError`."""
    try:
        return fn()
    except (UnreadableFileError, ImportError, MemoryError):
        raise
    except Exception as exc:
        raise UnreadableFileError(
            f"{source} is damaged or not in the expected layout: {type(exc).__name__}: "
            f"{exc}") from None

