"""Merge layers for several inputs, with Keras's mask rules.

`Concatenate`, `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`.
"""

from __future__ import annotations

from functools import reduce

import jax.numpy as jnp

from unrolled.layers.base import Layer


def _check_list(layer: Layer, inputs, minimum: int = 2) -> list:
    if not isinstance(inputs, (list, tuple)) or len(inputs) < minimum:
        raise ValueError(
            f"{type(layer).__name__} {layer.name!r} must be called on a list of at least "
            f"{minimum} tensors, e.g. layer([a, b]); received {type(inputs).__name__}"
            f"{'' if not isinstance(inputs, (list, tuple)) else f' of length {len(inputs)}'}."
        )
    return list(inputs)


class _Merge(Layer):
    supports_masking = True

    def _merge(self, inputs: list):
        raise NotImplementedError

    def call(self, inputs, mask=None, training=False):
        inputs = _check_list(self, inputs)
        shapes = {tuple(x.shape[1:]) for x in inputs}
        if len(shapes) > 1:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} needs inputs of the same shape; received "
                f"shapes {[tuple(x.shape) for x in inputs]}."
            )
        return self._merge(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def compute_mask(self, inputs, mask=None):
        """Keras's rule: no mask unless every input has one; then their logical OR."""
        if mask is None:
            return None
        mask = list(mask)
        if any(m is None for m in mask):
            return None
        return reduce(jnp.logical_or, [jnp.asarray(m).astype(bool) for m in mask])  # (B, T)


class Add(_Merge):
    """Elementwise sum of a list of same-shape inputs.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> layers.Add()([np.ones((1, 2), "float32"), np.ones((1, 2), "float32")]).tolist()
        [[2.0, 2.0]]

    """

    def _merge(self, inputs):
        return reduce(jnp.add, inputs)


class Subtract(_Merge):
    """``a - b`` for exactly two same-shape inputs."""

    def _merge(self, inputs):
        if len(inputs) != 2:
            raise ValueError(f"Subtract {self.name!r} takes exactly 2 inputs; received "
                             f"{len(inputs)}.")
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    """Elementwise product of a list of same-shape inputs."""

    def _merge(self, inputs):
        return reduce(jnp.multiply, inputs)


class Average(_Merge):
    """Elementwise mean of a list of same-shape inputs."""

    def _merge(self, inputs):
        return reduce(jnp.add, inputs) / len(inputs)


class Maximum(_Merge):
    """Elementwise maximum of a list of same-shape inputs."""

    def _merge(self, inputs):
        return reduce(jnp.maximum, inputs)


class Minimum(_Merge):
    """Elementwise minimum of a list of same-shape inputs."""

    def _merge(self, inputs):
        return reduce(jnp.minimum, inputs)


class Concatenate(Layer):
    """Join a list of inputs along ``axis`` (all other dimensions must agree).

    Masks follow Keras: with no mask anywhere the output has none; otherwise each unmasked input
    counts as all-valid, the per-input masks are joined along ``axis``, and the output mask is
    ``any`` over the last axis (so on ``axis=-1`` a step is valid if it is valid in any input,
    and on the time axis the masks are placed one after the other).

    Args:
        axis: the axis to join along (default ``-1``, the features).

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> a, b = np.zeros((2, 5, 3), "float32"), np.ones((2, 5, 4), "float32")
        >>> layers.Concatenate()([a, b]).shape
        (2, 5, 7)

    """

    supports_masking = True

    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, mask=None, training=False):
        """Compute the outputs from JAX arrays."""
        inputs = _check_list(self, inputs, minimum=1)
        ndim = inputs[0].ndim
        axis = self.axis % ndim
        ref = [d for i, d in enumerate(inputs[0].shape) if i != axis]
        for x in inputs[1:]:
            if x.ndim != ndim or [d for i, d in enumerate(x.shape) if i != axis] != ref:
                raise ValueError(
                    f"Concatenate {self.name!r} needs inputs whose shapes agree except on the "
                    f"concatenation axis {self.axis}; received shapes "
                    f"{[tuple(i.shape) for i in inputs]}."
                )
        return jnp.concatenate(inputs, axis=axis)

    def compute_mask(self, inputs, mask=None):
        """Return the mask the outputs carry."""
        if mask is None or all(m is None for m in mask):
            return None
        parts = []
        for x, m in zip(inputs, mask, strict=True):
            if m is None:
                parts.append(jnp.ones(x.shape, bool))  # (B, ..., F)
            else:
                m = jnp.asarray(m).astype(bool)
                if m.ndim < x.ndim:
                    m = jnp.broadcast_to(m[..., None], x.shape)  # (B, ..., F)
                parts.append(m)
        return jnp.any(jnp.concatenate(parts, axis=self.axis), axis=-1)  # (B, ...)

    def compute_output_shape(self, input_shape):
        """Return the output shape for ``input_shape``."""
        shapes = [tuple(s) for s in input_shape]
        axis = self.axis % len(shapes[0])
        out = list(shapes[0])
        sizes = [s[axis] for s in shapes]
        out[axis] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(out)

    def get_config(self):
        """Return the constructor arguments (Keras keys)."""
        return {**super().get_config(), "axis": self.axis}
