"""The functional API against Keras 3 (oracle 1): the same graph built in both libraries, the same
weights (set_weights), the same predictions (atol = rtol = 1e-5), the same layer order and weight
paths, and the same weights after training steps. Masks flow through the graph as in Keras.
"""

import importlib.util
import pathlib

import numpy as np
import pytest

import unrolled

TOL = 1e-5
B, T = 4, 6


def close(a, b, tol=TOL):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def two_input_shared(lib):
    """Two inputs, one Dense shared by both branches, LSTM return_state, two outputs."""
    L = lib.layers
    a, b = lib.Input(shape=(T, 3)), lib.Input(shape=(T, 2))
    shared = L.Dense(4, activation="tanh")
    x = L.Concatenate()([shared(L.Dense(3)(b)), shared(a)])
    out, h, c = L.LSTM(5, return_state=True)(x)
    y = L.Dense(1, activation="sigmoid")(L.Concatenate()([out, c]))
    return lib.Model([a, b], [y, h])


def masked_text(lib):
    """Ids -> Embedding(mask_zero) -> LSTM sequences -> masked mean pool (+ unmasked branch)."""
    L = lib.layers
    ids = lib.Input(shape=(T,))
    feats = lib.Input(shape=(T, 2))
    emb = L.Embedding(9, 3, mask_zero=True)(ids)
    seq = L.LSTM(4, return_sequences=True)(L.Dropout(0.5)(emb))
    joined = L.Concatenate()([seq, L.Dense(2)(feats)])
    pooled = L.GlobalAveragePooling1D()(L.LayerNormalization()(joined))
    return lib.Model([ids, feats], L.Dense(2, activation="softmax")(pooled))


def seq2seq_masked(lib):
    """Encoder on masked ids; decoder gets initial_state=[h, c] (Keras then passes no mask)."""
    L = lib.layers
    enc_ids, dec_ids = lib.Input(shape=(T,)), lib.Input(shape=(T,))
    _, h, c = L.LSTM(5, return_state=True)(L.Embedding(9, 3, mask_zero=True)(enc_ids))
    dec = L.LSTM(5, return_sequences=True)(L.Embedding(9, 3, mask_zero=True)(dec_ids),
                                          initial_state=[h, c])
    return lib.Model([enc_ids, dec_ids], L.TimeDistributed(L.Dense(9))(dec))


def data(rng, builder):
    ids = rng.integers(1, 9, size=(B, T))
    ids[0, 4:] = 0
    ids[2, 1:] = 0
    ids[3, :2] = 0
    if builder is two_input_shared:
        return [rng.normal(size=(B, T, 3)), rng.normal(size=(B, T, 2))]
    if builder is masked_text:
        return [ids.astype("float32"), rng.normal(size=(B, T, 2))]
    return [ids.astype("float32"), np.roll(ids, 1, axis=1).astype("float32")]


def build_pair(keras, rng, builder):
    """Build in both libraries and give both the same weights (matched by path).

    Known gap: Keras 3 puts the ops that compute masks into the graph, which can move layers to
    another depth; with masks joined by Concatenate (``masked_text``) the layer order, hence the
    weight order, then differs from unrolled's, so only there the order is not compared.
    """
    k_model, u_model = builder(keras), builder(unrolled)
    k_paths = [w.path for w in k_model.weights]
    if builder is not masked_text:
        assert [x.name for x in u_model.layers] == [x.name for x in k_model.layers]
        assert [w.path for w in u_model.weights] == k_paths
    assert sorted(w.path for w in u_model.weights) == sorted(k_paths)
    weights = {w.path: rng.normal(0, 0.5, size=np.shape(w.value)).astype("float32")
               for w in k_model.weights}
    k_model.set_weights([weights[p] for p in k_paths])
    u_model.set_weights([weights[w.path] for w in u_model.weights])
    return u_model, k_model


@pytest.mark.parametrize("builder", [two_input_shared, masked_text, seq2seq_masked])
def test_predictions_match_keras(keras, rng, builder):
    u_model, k_model = build_pair(keras, rng, builder)
    x = data(rng, builder)
    u, k = u_model.predict(x, verbose=0), k_model.predict(x, verbose=0)
    for u_out, k_out in zip(u if isinstance(u, list) else [u], k if isinstance(k, list) else [k],
                            strict=True):
        close(u_out, k_out)
    if builder is seq2seq_masked:
        # the decoder really starts from the encoder's states: other encoder ids, other outputs
        x2 = [np.where(x[0] > 0, 9 - x[0], 0), x[1]]
        assert not np.allclose(u_model.predict(x2, verbose=0), u)


def test_shared_layer_shares_weights(keras, rng):
    model = two_input_shared(unrolled)
    shared = [x for x in model.layers if x.name == "dense"][0]
    assert len(shared._inbound_nodes) == 2
    assert model.count_params() == sum(int(np.prod(w.shape)) for w in model.weights)
    assert len({id(w) for w in model.weights}) == len(model.weights)


def test_training_steps_match_keras(keras, rng):
    """Multi-input, masked model, dropout off: two SGD steps give Keras's weights and losses."""
    u_model, k_model = build_pair(keras, rng, masked_text)
    x = data(rng, masked_text)
    y = np.eye(2, dtype="float32")[rng.integers(0, 2, B)]
    for model, lib in ((u_model, unrolled), (k_model, keras)):
        for layer in model.layers:
            if type(layer).__name__ == "Dropout":
                layer.rate = 0.0  # dropout draws differ by design; see tests/layers
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss="categorical_crossentropy")
    for _ in range(2):
        close(u_model.train_on_batch(x, y), k_model.train_on_batch(x, y))
    k_weights = {w.path: np.asarray(w.value) for w in k_model.weights}
    for w in u_model.weights:
        close(w.numpy(), k_weights[w.path])


def test_single_input_fit_evaluate_predict(keras, rng):
    inp = unrolled.Input(shape=(T, 2))
    model = unrolled.models.Model(inputs=inp, outputs=unrolled.layers.Dense(1)(
        unrolled.layers.LSTM(3)(unrolled.layers.Masking(0.0)(inp))))
    x = rng.normal(size=(10, T, 2)).astype("float32")
    x[:3, 4:] = 0.0
    y = rng.normal(size=(10, 1)).astype("float32")
    k_model = keras.Sequential([keras.Input(shape=(T, 2)), keras.layers.Masking(0.0),
                                keras.layers.LSTM(3), keras.layers.Dense(1)])
    k_model.set_weights(model.get_weights())
    model.compile(optimizer="sgd", loss="mse")
    k_model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    k_history = k_model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    close(history.history["loss"], k_history.history["loss"])
    close(model.evaluate(x, y, verbose=0), k_model.evaluate(x, y, verbose=0))
    close(model.predict(x, verbose=0), k_model.predict(x, verbose=0))


def test_summary_lists_every_layer(capsys):
    model = two_input_shared(unrolled)
    model.summary()
    text = capsys.readouterr().out
    for layer in model.layers:
        assert f"{layer.name} ({type(layer).__name__})" in text
    assert f"Total params: {model.count_params():,}" in text


def test_wrong_number_of_inputs(rng):
    model = two_input_shared(unrolled)
    with pytest.raises(ValueError, match="has 2 inputs"):
        model.predict(rng.normal(size=(B, T, 3)), verbose=0)
    with pytest.raises(ValueError, match=r"input 1 .* expects shape \(None, 6, 2\)"):
        model.predict([rng.normal(size=(B, T, 3)), rng.normal(size=(B, T, 5))], verbose=0)


def test_disconnected_graph_is_rejected():
    a, b = unrolled.Input(shape=(3,)), unrolled.Input(shape=(3,))
    out = unrolled.layers.Add()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected.*Pass it in `inputs=`"):
        unrolled.Model(a, out)


def test_non_symbolic_inputs_are_rejected():
    with pytest.raises(ValueError, match="symbolic tensors"):
        unrolled.Model(np.zeros((2, 3)), unrolled.Input(shape=(3,)))


def test_model_dispatch_keeps_sequential_and_base():
    inp = unrolled.Input(shape=(2,))
    functional = unrolled.Model(inp, unrolled.layers.Dense(1)(inp))
    assert isinstance(functional, unrolled.Model) and type(functional) is not unrolled.Model
    seq = unrolled.Sequential([unrolled.layers.Dense(2, input_shape=(3,))])
    assert isinstance(seq, unrolled.Model) and type(seq) is unrolled.Sequential


def test_seq2seq_example_trains():
    path = pathlib.Path(__file__).parents[2] / "examples" / "seq2seq.py"
    spec = importlib.util.spec_from_file_location("seq2seq_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    accuracy = example.main(n_train=256, epochs=12, units=16, verbose=0)
    assert accuracy > 0.5  # chance is 1/7
