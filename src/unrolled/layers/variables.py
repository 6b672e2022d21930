"""Named weights and the stateless scope that lets jitted code substitute their values.

A `Variable` holds a device array plus Keras's ``name`` (``"kernel"``) and ``path``
(``"sequential/lstm/lstm_cell/kernel"``). Inside a `StatelessScope`, reading a variable returns
the array the scope maps it to (a tracer under ``jax.jit``) and ``assign`` records an update in
the scope instead of mutating, which is how layers stay ordinary Python objects while the model's
train step stays a pure function.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import jax
import numpy as np

from unrolled.ops.compile import to_device, to_host

_local = threading.local()
#: automatic names per base (``lstm``, ``lstm_1``, ...); `layers.base.clear_session` clears it
_name_counts: defaultdict[str, int] = defaultdict(int)


def unique_name(base: str) -> str:
    """Return ``base``, then ``base_1``, ``base_2``, ... on later calls."""
    count = _name_counts[base]
    _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def _stack(name: str) -> list:
    if not hasattr(_local, name):
        setattr(_local, name, [])
    return getattr(_local, name)


@contextmanager
def name_scope(name: str, owner=None) -> Iterator[None]:
    """Prefix the paths of variables created inside with ``name/``.

    With an ``owner`` (a layer), a scope the same owner already holds innermost is not opened
    again (Keras's deduplication), so ``_maybe_build`` and a ``build`` both may open it.
    """
    stack, owners = _stack("names"), _stack("owners")
    if owner is not None and owners and owners[-1] is owner:
        yield
        return
    stack.append(name)
    owners.append(owner)
    try:
        yield
    finally:
        stack.pop()
        owners.pop()


def current_path(name: str) -> str:
    """Return ``name`` prefixed with the open name scopes."""
    return "/".join([*_stack("names"), name])


class StatelessScope:
    """Map variables to replacement values; collect assignments instead of applying them."""

    def __init__(self, mapping: Iterable[tuple[Variable, jax.Array]] = (), rng=None,
                 collect_losses: bool = False):
        self.values = {id(v): a for v, a in mapping}
        self.updates: dict[int, jax.Array] = {}
        #: with ``collect_losses``, `Layer.add_loss` appends here (else losses are dropped)
        self.collect_losses = collect_losses
        self.losses: list = []
        self.rng = rng
        self._rng_count = 0

    def __enter__(self) -> StatelessScope:
        _stack("scopes").append(self)
        return self

    def __exit__(self, *exc) -> None:
        _stack("scopes").pop()

    def get(self, variable: Variable) -> jax.Array:
        """Return the current value of ``variable`` in this scope."""
        return self.values.get(id(variable), variable._value)

    def next_key(self) -> jax.Array | None:
        """Return a fresh PRNG key derived from the scope's key (``None`` without one)."""
        if self.rng is None:
            return None
        self._rng_count += 1
        return jax.random.fold_in(self.rng, self._rng_count)


def current_scope() -> StatelessScope | None:
    """Return the innermost open `StatelessScope`, if any."""
    stack = _stack("scopes")
    return stack[-1] if stack else None


class Variable:
    """A named, optionally trainable weight.

    Args:
        value: initial value (array-like).
        name: short Keras name, e.g. ``"kernel"``.
        path: full path, e.g. ``"sequential/dense/kernel"``.
        trainable: whether optimizers update it.

    """

    #: Keras's weight regularizer and constraint (`Layer.add_weight` sets them)
    regularizer = None
    constraint = None

    def __init__(self, value, name: str, path: str | None = None, trainable: bool = True):
        self._value = to_device(value)
        self.name = name
        self.path = path or name
        self.trainable = trainable

    @property
    def value(self) -> jax.Array:
        """The current value (the scope's replacement inside a `StatelessScope`)."""
        scope = current_scope()
        return self._value if scope is None else scope.get(self)

    def assign(self, value) -> None:
        """Set a new value of the same shape (recorded, not applied, inside a scope)."""
        value = to_device(value, self._value.dtype)
        if value.shape != self._value.shape:
            raise ValueError(
                f"Cannot assign a value of shape {value.shape} to variable {self.path!r} of "
                f"shape {self._value.shape}."
            )
        scope = current_scope()
        if scope is None:
            self._value = value
        else:
            scope.values[id(self)] = value
            scope.updates[id(self)] = value

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the weight."""
        return tuple(self._value.shape)

    @property
    def dtype(self) -> str:
        """Dtype name, e.g. ``"float32"``."""
        return str(self._value.dtype)

    def numpy(self) -> np.ndarray:
        """Return the value as a NumPy array (gathered when split over several processes)."""
        return to_host(self._value)

    def __array__(self, dtype=None, copy=None):
        a = to_host(self._value)
        return a.astype(dtype) if dtype is not None else a

    # Arithmetic reads the current value, so custom cells can write ``inputs @ self.kernel``
    # (and `unrolled.ops` functions accept variables, as ``keras.ops`` does).
    _unrolled_variable = True

    def __matmul__(self, other):
        return self.value @ _unwrap(other)

    def __rmatmul__(self, other):
        return _unwrap(other) @ self.value

    def __add__(self, other):
        return self.value + _unwrap(other)

    def __radd__(self, other):
        return _unwrap(other) + self.value

    def __sub__(self, other):
        return self.value - _unwrap(other)

    def __rsub__(self, other):
        return _unwrap(other) - self.value

    def __mul__(self, other):
        return self.value * _unwrap(other)

    def __rmul__(self, other):
        return _unwrap(other) * self.value

    def __truediv__(self, other):
        return self.value / _unwrap(other)

    def __rtruediv__(self, other):
        return _unwrap(other) / self.value

    def __neg__(self):
        return -self.value

    def __pos__(self):
        return +self.value

    def __abs__(self):
        return abs(self.value)

    def __pow__(self, other):
        return self.value ** _unwrap(other)

    def __rpow__(self, other):
        return _unwrap(other) ** self.value

    def __mod__(self, other):
        return self.value % _unwrap(other)

    def __rmod__(self, other):
        return _unwrap(other) % self.value

    def __floordiv__(self, other):
        return self.value // _unwrap(other)

    def __rfloordiv__(self, other):
        return _unwrap(other) // self.value

    # Ordering compares values (an array), as keras.Variable; ``==`` and hashing stay by
    # identity, because variables key dicts and are found in lists by identity here.
    def __lt__(self, other):
        return self.value < _unwrap(other)

    def __le__(self, other):
        return self.value <= _unwrap(other)

    def __gt__(self, other):
        return self.value > _unwrap(other)

    def __ge__(self, other):
        return self.value >= _unwrap(other)

    def __float__(self) -> float:
        return float(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __getitem__(self, index):
        return self.value[index]

    def __jax_array__(self) -> jax.Array:
        """Return the current value, for ``jnp.asarray(variable)`` (as keras.Variable on JAX).

        JAX 0.10 no longer converts such objects inside ``jnp`` functions (``jnp.dot(x,
        variable)`` raises there for Keras's variables too); operators (``x @ variable``) and
        ``variable.value`` work everywhere, also under ``jax.jit``.
        """
        return self.value

    @property
    def ndim(self) -> int:
        """Rank of the weight."""
        return len(self._value.shape)

    def __repr__(self) -> str:
        return (
            f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
            f"trainable={self.trainable}>"
        )


def _unwrap(x):
    """Return the array behind a `Variable`; anything else unchanged."""
    return x.value if isinstance(x, Variable) else x
