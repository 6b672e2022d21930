"""Core layers: Input, Masking, Dense, Activation."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from unrolled.layers import initializers, regularizers
from unrolled.layers.base import KerasTensor, Layer
from unrolled.ops import activations


def _no_extras(layer: str, **extras) -> None:
    given = {k: v for k, v in extras.items() if v is not None}
    if given:
        raise ValueError(
            f"{layer}: {sorted(given)} are not supported by unrolled yet; pass None "
            "(regularizers and constraints are supported)."
        )


class InputLayer(Layer):
    """The entry point of a model: holds the batch input shape.

    Args:
        shape: per-sample shape, e.g. ``(24, 1)``; ``None`` for a variable dimension.
        batch_size: optional fixed batch size.
        sparse: must be ``False`` (Keras writes it in every config; unrolled inputs are dense).

    """

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None,
                 sparse: bool = False, **kwargs):
        if sparse:
            raise ValueError("InputLayer: sparse=True inputs are not supported by unrolled; "
                             "pass dense arrays and leave sparse=False.")
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input needs `shape=` (per-sample shape), e.g. shape=(24, 1).")
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size, *shape)
        if any(d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer))
                                  or d <= 0) for d in tuple(batch_shape)[1:]):
            raise ValueError(f"Input: every dimension of shape must be a positive integer or "
                             f"None; received batch shape {tuple(batch_shape)}. A sequence needs "
                             "at least one time step.")
        super().__init__(name=name, batch_input_shape=batch_shape, **kwargs)
        # Integer inputs (token ids for Embedding) are allowed; they reach the model as float32
        # arrays holding exact integers, which Embedding casts back.
        self.input_dtype = str(np.dtype(dtype or "float32"))
        self.batch_shape = tuple(batch_shape)
        self.built = True
        self._output_tensor = KerasTensor(self.batch_shape, dtype=self.input_dtype, layer=self,
                                          name=self.name)

    @property
    def input(self) -> list:
        """An input layer has no inputs (``[]``, as Keras's)."""
        return []

    @property
    def output(self) -> KerasTensor:
        """The symbolic tensor this input layer provides."""
        return self._output_tensor

    def get_config(self):
        """Return the batch shape, dtype and name of this input."""
        return {"batch_shape": list(self.batch_shape), "dtype": self.input_dtype, "sparse": False,
                "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None) -> KerasTensor:  # noqa: N802
    """Return a symbolic input tensor, as ``keras.Input``.

    Example:
        >>> from unrolled import layers
        >>> x = layers.Input(shape=(24, 1))
        >>> x.shape
        (None, 24, 1)

    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name,
                      batch_shape=batch_shape).output


class Masking(Layer):
    """Mask time steps whose features all equal ``mask_value``.

    Downstream layers that support masking (LSTM, Dense, ...) skip those steps.

    Args:
        mask_value: the padding value.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> x = np.array([[[1.0], [0.0]]], dtype="float32")
        >>> layers.Masking(0.0).compute_mask(x).tolist()
        [[True, False]]

    """

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, (bool, np.bool_)) or not isinstance(
                mask_value, (int, float, np.integer, np.floating)):
            raise ValueError(f"Masking: mask_value must be a number (the padding value of the "
                             f"inputs, e.g. 0.0); received {mask_value!r}.")
        self.mask_value = mask_value

    def compute_mask(self, inputs, mask=None):
        """Return a ``(B, T)`` mask, True where any feature differs from ``mask_value``."""
        keep = jnp.any(jnp.not_equal(jnp.asarray(inputs), self.mask_value), axis=-1)  # (B, T)
        return keep

    def call(self, inputs, mask=None, training=False):
        """Zero the masked time steps, leaving the others unchanged."""
        keep = jnp.any(jnp.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        return inputs * keep.astype(inputs.dtype)  # (B, T, F)

    def compute_output_shape(self, input_shape):
        """Return ``input_shape`` unchanged: masking keeps the shape."""
        return tuple(input_shape)

    def get_config(self):
        """Return the base config plus ``mask_value``."""
        return {**super().get_config(), "mask_value": self.mask_value}


class Dense(Layer):
    """Densely connected layer: ``activation(x @ kernel + bias)`` on the last axis.

    Args:
        units: output size.
        activation: Keras activation name or callable; ``None`` is linear.
        use_bias: add a bias vector.
        kernel_initializer: for the ``(input_dim, units)`` kernel.
        bias_initializer: for the ``(units,)`` bias.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> layers.Dense(2)(np.ones((3, 4), "float32")).shape
        (3, 2)

    """

    supports_masking = True

    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense expects a positive integer `units`; received {units!r}.")
        _no_extras("Dense", lora_rank=lora_rank)
        regularizers.set_options(self, kernel_regularizer=kernel_regularizer,
                                 bias_regularizer=bias_regularizer,
                                 kernel_constraint=kernel_constraint,
                                 bias_constraint=bias_constraint)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        """Create the ``(input_dim, units)`` kernel and, if ``use_bias``, the ``(units,)`` bias."""
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Dense {self.name!r} needs a known last input dimension; got "
                             f"input shape {input_shape}.")
        self.kernel = self.add_weight("kernel", (input_dim, self.units), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = (self.add_weight("bias", (self.units,), self.bias_initializer,
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs, mask=None, training=False):
        """Return ``activation(inputs @ kernel + bias)`` on the last axis."""
        expected = self.kernel.shape[0]
        if inputs.shape[-1] != expected:
            raise ValueError(
                f"Input of layer {self.name!r} is incompatible: expected last dimension "
                f"{expected}, received input with shape {tuple(inputs.shape)}."
            )
        y = inputs @ self.kernel.value  # (..., units)
        if self.bias is not None:
            y = y + self.bias.value  # (..., units)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        """Return ``input_shape`` with the last axis replaced by ``units``."""
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self):
        """Return the base config plus units, activation, bias and initializers."""
        return {
            **super().get_config(), "units": self.units,
            "activation": activations.name_of(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            **regularizers.options_config(self, "kernel_regularizer", "bias_regularizer"),
            **regularizers.options_config(self, "kernel_constraint", "bias_constraint"),
        }


class Activation(Layer):
    """Apply an activation function elementwise.

    Args:
        activation: Keras activation name (``"sigmoid"``, ``"softmax"``, ...) or callable.

    """

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs, mask=None, training=False):
        """Apply the activation elementwise."""
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        """Return ``input_shape`` unchanged: activations are elementwise."""
        return tuple(input_shape)

    def get_config(self):
        """Return the base config plus the activation's name."""
        return {**super().get_config(), "activation": activations.name_of(self.activation)}
