"""`Embedding`: integer token ids -> dense vectors, with ``mask_zero`` padding masks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from unrolled.layers import initializers, regularizers
from unrolled.layers.base import Layer
from unrolled.layers.core import _no_extras


def _positive_int(layer: str, name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{layer} expects a positive integer `{name}`; received {value!r}.")
    return value


class Embedding(Layer):
    """Turn non-negative integer ids into dense vectors, as ``keras.layers.Embedding``.

    ``output[b, t] = embeddings[ids[b, t]]``. Ids arrive as ints or as floats holding ints (the
    training loop feeds float32); they are cast to int32 first. Ids outside ``[0, input_dim)``
    raise a `ValueError` in eager calls and in `predict`/`fit`/`evaluate` (checked on the host,
    see `check_ids`); inside your own ``jax.jit`` they cannot be checked: ids in
    ``[-input_dim, 0)`` wrap to the end of the table and all others give NaN vectors, as in
    Keras on JAX.

    Args:
        input_dim: vocabulary size (largest id + 1).
        output_dim: size of each vector.
        embeddings_initializer: for ``embeddings (input_dim, output_dim)``; ``"uniform"`` is
            Keras's ``RandomUniform(-0.05, 0.05)``.
        mask_zero: treat id 0 as padding: `compute_mask` returns ``ids != 0`` and downstream
            layers (LSTM, pooling, ...) skip those steps. Id 0 then cannot be a real token.
        weights: optional initial ``[embeddings]`` array list.

    Input shape:
        ``(batch, ...)`` integer ids. Output shape: ``(batch, ..., output_dim)``.

    Example:
        >>> import numpy as np
        >>> from unrolled import layers
        >>> emb = layers.Embedding(10, 4, mask_zero=True)
        >>> ids = np.array([[3, 1, 0]])
        >>> emb(ids).shape
        (1, 3, 4)
        >>> emb.compute_mask(ids).tolist()
        [[True, True, False]]

    """

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero: bool = False,
                 weights=None, lora_rank=None, activity_regularizer=None, input_length=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.input_dim = _positive_int("Embedding", "input_dim", input_dim)
        self.output_dim = _positive_int("Embedding", "output_dim", output_dim)
        _no_extras("Embedding", lora_rank=lora_rank)
        regularizers.set_options(self, embeddings_regularizer=embeddings_regularizer,
                                 embeddings_constraint=embeddings_constraint)
        if embeddings_initializer == "uniform":
            embeddings_initializer = initializers.RandomUniform(minval=-0.05, maxval=0.05)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self._initial_weights = weights
        self.input_length = input_length

    def build(self, input_shape=None):
        """Create the layer's weights for inputs of ``input_shape``."""
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs, mask=None, training=False):
        """Compute the outputs from JAX arrays."""
        ids = jnp.asarray(inputs)
        if not jnp.issubdtype(ids.dtype, jnp.integer):
            ids = ids.astype(jnp.int32)
        if not isinstance(ids, jax.core.Tracer):
            self.check_ids(ids)
        return jnp.take(self.embeddings.value, ids, axis=0)  # (B, ..., output_dim)

    def check_ids(self, ids, what: str = "") -> None:
        """Refuse concrete ids outside ``[0, input_dim)`` (cast to int as `call` does).

        Models run this on the host before `predict`, `fit`, `evaluate` and `train_on_batch`
        when the layer takes a model input directly; an eager call runs it too. Inside
        ``jax.jit`` the ids cannot be checked: an id in ``[-input_dim, 0)`` then wraps to the end
        of the table and any other out-of-range id gives a NaN vector (as in Keras on JAX).

        Raises:
            ValueError: naming the layer, ``input_dim`` and the range received.

        """
        ids = np.asarray(ids)
        if not ids.size:
            return
        if not np.issubdtype(ids.dtype, np.integer):
            if not np.all(np.isfinite(ids)):
                raise ValueError(f"{what}{': ' if what else ''}Embedding {self.name!r} received "
                                 "NaN or infinite ids; ids must be integers in "
                                 f"[0, {self.input_dim - 1}].")
            ids = ids.astype(np.int64)
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= self.input_dim:
            raise ValueError(
                f"{what}{': ' if what else ''}Embedding {self.name!r} has "
                f"input_dim={self.input_dim}, so ids must be in [0, {self.input_dim - 1}]; "
                f"received ids in [{low}, {high}]. Increase input_dim to the vocabulary size or "
                "remap the ids (out-of-range ids would give NaN or another token's vector)."
            )

    def compute_mask(self, inputs, mask=None):
        """Return the mask the outputs carry."""
        if not self.mask_zero:
            return None
        return jnp.not_equal(jnp.asarray(inputs), 0)  # (B, ...)

    def compute_output_shape(self, input_shape):
        """Return the output shape for ``input_shape``."""
        return (*tuple(input_shape), self.output_dim)

    def get_config(self):
        """Return the constructor arguments (Keras keys)."""
        return {
            **super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            **regularizers.options_config(self, "embeddings_regularizer"),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **regularizers.options_config(self, "embeddings_constraint"),
            "mask_zero": self.mask_zero,
        }
