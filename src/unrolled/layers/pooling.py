"""Global pooling over time: `GlobalAveragePooling1D` (mask-aware), `GlobalMaxPooling1D`."""

from __future__ import annotations

import jax.numpy as jnp

from unrolled.layers.base import Layer


class _GlobalPooling1D(Layer):
    def __init__(self, data_format=None, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        data_format = data_format or "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"{type(self).__name__}: data_format must be 'channels_last' or "
                             f"'channels_first'; received {data_format!r}.")
        self.data_format = data_format
        self.keepdims = bool(keepdims)

    @property
    def _steps_axis(self) -> int:
        return 1 if self.data_format == "channels_last" else 2

    def _check(self, inputs) -> None:
        if inputs.ndim != 3:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects inputs of rank 3 (batch, steps, "
                f"features); received shape {tuple(inputs.shape)}."
            )

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if self.keepdims:
            shape[self._steps_axis] = 1
        else:
            shape.pop(self._steps_axis)
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Average over the time axis; with a mask, the mean of the valid steps only.

    ``(B, T, F)`` -> ``(B, F)`` (``(B, 1, F)`` with ``keepdims=True``). With a ``(B, T)`` mask the
    result is ``sum(x * mask) / sum(mask)`` over time, as Keras: a row whose steps are all
    masked divides 0 by 0 and gives NaN, exactly as in Keras. The mask stops here.

    Args:
        data_format: ``"channels_last"`` (default, ``(B, T, F)``) or ``"channels_first"``.
        keepdims: keep the time axis with length 1.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> x = np.array([[[1.0], [3.0], [9.0]]], "float32")
        >>> layers.GlobalAveragePooling1D()(x, mask=np.array([[True, True, False]])).tolist()
        [[2.0]]

    """

    supports_masking = True

    def call(self, inputs, mask=None, training=False):
        """Compute the outputs from JAX arrays."""
        self._check(inputs)
        axis = self._steps_axis
        if mask is None:
            return jnp.mean(inputs, axis=axis, keepdims=self.keepdims)  # (B, F)
        keep = jnp.expand_dims(jnp.asarray(mask).astype(bool), 2 if axis == 1 else 1)
        total = jnp.sum(jnp.where(keep, inputs, 0.0), axis=axis, keepdims=self.keepdims)
        count = jnp.sum(keep.astype(inputs.dtype), axis=axis, keepdims=self.keepdims)
        return total / count  # (B, F)


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Maximum over the time axis: ``(B, T, F)`` -> ``(B, F)``.

    Like Keras 3, it takes the maximum over ALL steps and ignores a mask (padded steps count);
    the mask stops here. Put `GlobalAveragePooling1D` or an LSTM first if padding must not count.

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: keep the time axis with length 1.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> layers.GlobalMaxPooling1D()(np.array([[[1.0], [3.0]]], "float32")).tolist()
        [[3.0]]

    """

    def call(self, inputs, mask=None, training=False):
        """Compute the outputs from JAX arrays."""
        self._check(inputs)
        return jnp.max(inputs, axis=self._steps_axis, keepdims=self.keepdims)  # (B, F)
