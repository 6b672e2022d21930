"""Shared by the converter tests: the same recurrent stacks built in unrolled and real Keras 3.

Plain functions, not fixtures. The oracle runs are eager under ``jax.disable_jit()``: for these
tiny models (u=3, T=5, B=4) that is ~10x faster than compiling a predict function per model.
"""

import jax
import numpy as np

from unrolled import layers, models

T, F, U = 5, 3, 3
ATOL = 1e-5
LENGTHS = (5, 3, 1, 0)  # right padding; the last row is fully masked
SEQ = {"units": U, "return_sequences": True}


def bi(kind: str, merge_mode: str = "concat", **kwargs) -> tuple:
    """Spec of ``Bidirectional(kind(U, **kwargs), merge_mode)``."""
    return ("Bidirectional", {"layer": (kind, {"units": U, **kwargs}), "merge_mode": merge_mode})


# Stacks both PyTorch and ONNX express: name -> layer specs after the optional Masking.
STACKS = {
    "lstm": [("LSTM", {"units": U}), ("Dense", {"units": 2}),
             ("Activation", {"activation": "sigmoid"})],
    "lstm_seq_zero_output": [("LSTM", {**SEQ, "zero_output_for_mask": True})],
    "lstm_2": [("LSTM", SEQ), ("LSTM", {"units": U}),
               ("Dense", {"units": 2, "activation": "softmax"})],
    "gru_seq": [("GRU", SEQ), ("Dense", {"units": 2, "activation": "tanh"})],
    "gru_2_sizes": [("GRU", SEQ), ("GRU", {"units": 2})],
    "gru_no_bias": [("GRU", {"units": U, "use_bias": False})],
    "bi_lstm": [bi("LSTM"), ("Dense", {"units": 2})],
    "bi_lstm_2_seq": [bi("LSTM", return_sequences=True), bi("LSTM", return_sequences=True)],
    "bi_gru_2": [bi("GRU", return_sequences=True), bi("GRU")],
    "bi_gru_sum_ave": [bi("GRU", "sum", return_sequences=True), bi("GRU", "ave")],
    "bi_lstm_mul_seq": [bi("LSTM", "mul", return_sequences=True)],
    "bi_then_gru": [bi("GRU", return_sequences=True), ("GRU", {"units": U})],
}


def make_layer(namespace, spec: tuple):
    """Build ``spec`` = ``(class_name, kwargs)`` from ``namespace`` (unrolled or Keras layers)."""
    name, kwargs = spec[0], dict(spec[1])
    if name == "Bidirectional":
        kwargs["layer"] = make_layer(namespace, kwargs["layer"])
    return getattr(namespace, name)(**kwargs)


def build(namespace, sequential, specs, input_shape=(T, F)):
    """A ``sequential`` model: ``Input(input_shape)`` then ``specs``."""
    return sequential([namespace.Input(shape=input_shape),
                       *[make_layer(namespace, spec) for spec in specs]])


def pair(keras, specs, rng, masking=True, scale=0.5):
    """The same stack in unrolled and Keras, with the same random weights."""
    specs = ([("Masking", {"mask_value": 0.0})] if masking else []) + list(specs)
    u_model = build(layers, models.Sequential, specs)
    k_model = build(keras.layers, keras.Sequential, specs)
    u_model.set_weights([rng.normal(scale=scale, size=w.shape).astype("float32")
                         for w in u_model.get_weights()])
    k_model.set_weights(u_model.get_weights())
    return u_model, k_model


def padded_batch(rng, lengths=LENGTHS, steps=T):
    """Right-padded ``(B, steps, F)``: row ``b`` is zero from step ``lengths[b]`` on."""
    x = rng.normal(size=(len(lengths), steps, F)).astype("float32")
    for row, n in enumerate(lengths):
        x[row, n:] = 0.0
    return x


def eager(model, x) -> np.ndarray:
    """``model(x)`` as NumPy, run op by op (Keras or unrolled)."""
    with jax.disable_jit():
        return np.asarray(model(x))
