"""`Sequential`: a plain stack of layers, each feeding the next."""

from __future__ import annotations

from unrolled.layers.base import KerasTensor, Layer
from unrolled.layers.core import InputLayer
from unrolled.layers.embedding import Embedding
from unrolled.layers.variables import name_scope
from unrolled.models.functional_config import model_layer_spec
from unrolled.models.model import Model
from unrolled.saving.serialization_lib import deserialize_layer


class Sequential(Model):
    """A linear stack of layers, as ``keras.Sequential``.

    Args:
        layers: optional list of layers (an `Input` tensor may come first).
        name: model name (``sequential``, ``sequential_1``, ... by default).

    Example:
        >>> from unrolled.models import Sequential
        >>> from unrolled.layers import Masking, LSTM, Dense, Activation
        >>> model = Sequential()
        >>> model.add(Masking(mask_value=0.0, input_shape=(24, 1)))
        >>> model.add(LSTM(16))
        >>> model.add(Dense(units=2))
        >>> model.add(Activation("sigmoid"))
        >>> model.count_params()
        1186

    """

    def __init__(self, layers=None, name: str | None = None, trainable: bool = True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._layers: list[Layer] = []
        self._input_batch_shape = None
        self._output_shapes: list = []
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        """The model's layers, in order (without the input layer, as Keras)."""
        return list(self._layers)

    @property
    def weights(self):
        """All weights of the layers, in layer order."""
        out = []
        for layer in self._layers:
            out.extend(layer.weights)
        return out

    def _variable_children(self) -> list:
        return list(self._layers)

    @property
    def trainable_weights(self):
        """The layers' trainable weights, or none if the model is frozen."""
        if not self.trainable:
            return []
        out = []
        for layer in self._layers:
            out.extend(layer.trainable_weights)
        return out

    @property
    def non_trainable_weights(self):
        """The layers' non-trainable weights, or all weights if the model is frozen."""
        if not self.trainable:
            return self.weights
        out = []
        for layer in self._layers:
            out.extend(layer.non_trainable_weights)
        return out

    def add(self, layer) -> None:
        """Append a layer; an `Input` tensor or `InputLayer` sets the input shape.

        Raises:
            TypeError: if ``layer`` is not a layer.

        """
        if isinstance(layer, KerasTensor) and isinstance(layer._layer, InputLayer):
            layer = layer._layer
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError("An Input must be the first element of a Sequential model.")
            self._input_batch_shape = layer.batch_shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add expects a layer (e.g. unrolled.layers.LSTM(16)); received "
                f"{layer!r} of type {type(layer).__name__}."
            )
        if any(existing is layer for existing in self._layers):
            raise ValueError(f"Layer {layer.name!r} was already added to this model.")
        if not self._layers and self._input_batch_shape is None and \
                layer._batch_input_shape is not None:
            self._input_batch_shape = layer._batch_input_shape
        self._layers.append(layer)
        if self._input_batch_shape is not None:
            self.build(self._input_batch_shape)

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise ValueError("pop() on an empty Sequential model.")
        layer = self._layers.pop()
        self._output_shapes = self._output_shapes[: len(self._layers)]
        return layer

    def build(self, input_shape=None) -> None:
        """Create every layer's weights for inputs of ``input_shape`` (batch axis included).

        Raises:
            ValueError: if no input shape is known or a layer rejects it.

        """
        if input_shape is None:
            input_shape = self._input_batch_shape
        if input_shape is None:
            raise ValueError(
                "Sequential.build needs an input shape, e.g. model.build((None, 24, 1)), or "
                "pass input_shape= to the first layer / start with layers.Input(shape=...)."
            )
        input_shape = tuple(input_shape)
        if not self._layers:
            raise ValueError("Sequential.build: the model has no layers; add some first.")
        self._input_batch_shape = input_shape
        shapes = []
        shape = input_shape
        with name_scope(self.name, owner=self):  # the build wrapper opened it
            for layer in self._layers:
                layer._maybe_build(shape)
                shape = layer.compute_output_shape(shape)
                shapes.append(shape)
        self._output_shapes = shapes
        self.built = True

    def _input_specs(self) -> list:
        if self._input_batch_shape is None:
            return []
        return [("input_layer", tuple(self._input_batch_shape))]

    def _input_checks(self) -> list:
        """Return the host checks of inputs: a first `Embedding`'s ids (`Embedding.check_ids`)."""
        first = self.layers[0] if self.layers else None
        return [(0, first.check_ids)] if isinstance(first, Embedding) else []

    def _output_names(self) -> list[str]:
        return [self._layers[-1].name] if self._layers else []

    def _output_shape_list(self) -> list:
        return [self._output_shapes[-1]] if self.built and self._output_shapes else []

    def _check_x(self, x, what: str):
        x = super()._check_x(x, what)
        if self.layers and isinstance(self.layers[0], Embedding):  # ids checked on the host
            self.layers[0].check_ids(x, what)
        return x

    def _output_shape(self):
        return self._output_shapes[-1]

    def _summary_rows(self):
        if not self.built:
            return [(layer, ("?",)) for layer in self._layers]
        # strict=False: a failed build() after add() leaves one more layer than output shape.
        return list(zip(self._layers, self._output_shapes, strict=False))

    def _forward_layers(self, x, training: bool):
        mask = None
        for layer in self._layers:
            x, mask = layer._forward(x, mask, training)
        return x, mask

    def call(self, inputs, mask=None, training=False):
        """Run the inputs through every layer in order and return the output."""
        y, _ = self._forward_layers(inputs, training)
        return y

    def compute_output_shape(self, input_shape):
        """Return the last layer's output shape, building the model first if needed."""
        if not self.built:
            self.build(input_shape)
        return self._output_shapes[-1]

    def get_config(self) -> dict:
        """Return Keras 3's config of the model.

        Its keys are ``name``, ``trainable``, ``dtype``, ``layers`` (serialized, the input layer
        first when the input shape is known) and ``build_input_shape`` (once built).
        """
        layers = []
        if self._input_batch_shape is not None:
            layers.append({"module": "keras.layers", "class_name": "InputLayer", "config": {
                "batch_shape": list(self._input_batch_shape), "dtype": "float32",
                "sparse": False, "name": "input_layer"}, "registered_name": None})
        layers += [model_layer_spec(layer) for layer in self._layers]
        config = {"name": self.name, "trainable": self.trainable, "dtype": "float32",
                  "layers": layers}
        if self._input_batch_shape is not None and self.built:
            config["build_input_shape"] = list(self._input_batch_shape)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Sequential:
        """Rebuild the model (new weights) from `get_config`'s output.

        The model is built when ``build_input_shape`` (or an input layer) gives its input shape.

        Raises:
            ValueError: for a config without a ``layers`` list, or any layer problem.

        """
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"the Sequential config has no 'layers' list; received "
                             f"{config!r:.200}")
        model = cls(name=config.get("name"))
        for spec in config["layers"]:
            model.add(deserialize_layer(spec, custom_objects))
        shape = config.get("build_input_shape")
        if not model.built and shape is not None and model.layers:
            model.build(tuple(shape))
        return model

