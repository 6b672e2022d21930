"""Names and configs, below every other room (as Keras's ``keras.saving``).

- `object_registration`: one registry of names by kind (layers, activations, initializers,
  losses, metrics, optimizers, schedules); every ``get`` resolves names through it.
- `serialization_lib`: the one layer serializer (``serialize_layer``/``deserialize_layer``).

Neither imports anything else from unrolled: ops, layers, training, models and io all use
them. Files (``.keras``, Keras 2 ``.h5``) are read and written by `unrolled.io`.
"""

from unrolled.saving import object_registration, serialization_lib
from unrolled.saving.serialization_lib import deserialize_layer, serialize_layer

__all__ = ["deserialize_layer", "object_registration", "serialization_lib", "serialize_layer"]
