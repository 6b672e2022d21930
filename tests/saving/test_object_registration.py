"""The one registry of names (no oracle: lookup rules and error messages, each able to fail)."""

import pytest

import unrolled
from unrolled.saving import object_registration as registry
from unrolled.saving import serialization_lib


@pytest.mark.parametrize(("get", "typo", "meant"), [
    (unrolled.losses.get, "binary_crossentropi", "binary_crossentropy"),
    (unrolled.optimizers.get, "adma", "adam"),
    (unrolled.activations.get, "sigmiod", "sigmoid"),
    (unrolled.initializers.get, "glorot_unifrom", "glorot_uniform"),
    (unrolled.layers.get, "LTSM", "LSTM"),
    (unrolled.metrics.get, "binary_acuracy", "binary_accuracy"),
])
def test_unknown_names_list_valid_ones_and_suggest_the_closest(get, typo, meant):
    with pytest.raises(ValueError, match=rf"Unknown .*'{typo}'.*Expected one of.*"
                                         rf"Did you mean '{meant}'\?"):
        get(typo)


def test_every_kind_resolves_through_the_registry():
    assert unrolled.activations.get("hard_sigmoid_keras2") is \
        registry.get_registered_object("activations", "hard_sigmoid_keras2")
    assert registry.get_registered_object("layers", "LSTM") is unrolled.layers.LSTM
    assert registry.get_registered_object("losses", "mse") is unrolled.losses.MeanSquaredError
    assert isinstance(unrolled.optimizers.get("Adam"), unrolled.optimizers.Adam)
    for kind in registry.KINDS:
        assert registry.names(kind), kind


def test_custom_objects_come_first_and_a_taken_name_is_refused():
    def my_act(x):
        return x

    assert unrolled.activations.get("tanh", custom_objects={"tanh": my_act}) is my_act
    with pytest.raises(ValueError, match="'tanh' is already registered"):
        registry.register("activations", "tanh", my_act)
    with pytest.raises(ValueError, match="Unknown registry kind 'callbacks'"):
        registry.names("callbacks")


def test_user_layer_classes_are_found_by_name_but_not_as_built_ins():
    class Doubler(unrolled.layers.Layer):
        def call(self, inputs):
            return 2 * inputs

    spec = serialization_lib.serialize_layer(Doubler(name="d"))
    assert spec["module"] == __name__ and spec["registered_name"] == "Doubler"
    assert type(serialization_lib.deserialize_layer(spec)) is Doubler
    assert registry.find("layers", "Doubler", registered_only=True) is None
    with pytest.raises(ValueError, match="Unknown layer 'Doubler'"):
        unrolled.layers.get("Doubler")
