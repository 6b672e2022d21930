"""Sequence-to-sequence with the functional API: an encoder LSTM hands [h, c] to a decoder LSTM.

The task: read a sequence of digits and write it back reversed. The encoder reads the one-hot
digits and returns its final states; the decoder starts from those states and, with teacher
forcing (it sees the previous correct digit), predicts each output digit with a softmax.

Run: python examples/seq2seq.py
"""

from __future__ import annotations

import numpy as np

import unrolled
from unrolled import layers

VOCAB = 8  # digits 1..7; 0 is the decoder's start token
LENGTH = 5


def make_data(n: int, seed: int = 0):
    """Return ``([encoder_in, decoder_in], target)`` one-hot arrays for the reversal task."""
    rng = np.random.default_rng(seed)
    digits = rng.integers(1, VOCAB, size=(n, LENGTH))
    target = digits[:, ::-1]
    decoder_tokens = np.concatenate([np.zeros((n, 1), int), target[:, :-1]], axis=1)
    eye = np.eye(VOCAB, dtype="float32")
    return [eye[digits], eye[decoder_tokens]], eye[target]


def build_model(units: int = 32) -> unrolled.Model:
    """Encoder LSTM(return_state) -> decoder LSTM(initial_state=[h, c]) -> Dense softmax."""
    encoder_in = unrolled.Input(shape=(None, VOCAB), name="encoder_in")
    _, h, c = layers.LSTM(units, return_state=True, name="encoder")(encoder_in)
    decoder_in = unrolled.Input(shape=(None, VOCAB), name="decoder_in")
    decoded, _, _ = layers.LSTM(units, return_sequences=True, return_state=True,
                                name="decoder")(decoder_in, initial_state=[h, c])
    probs = layers.Dense(VOCAB, activation="softmax", name="next_digit")(decoded)
    return unrolled.Model([encoder_in, decoder_in], probs, name="seq2seq")


def main(n_train: int = 2000, epochs: int = 30, units: int = 32, verbose: int = 2) -> float:
    """Train on the reversal task; return the per-digit accuracy on fresh sequences."""
    unrolled.utils.set_random_seed(0)
    x, y = make_data(n_train, seed=0)
    model = build_model(units)
    model.compile(optimizer=unrolled.optimizers.Adam(0.01), loss="categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=verbose)
    x_test, y_test = make_data(200, seed=1)
    predicted = model.predict(x_test, verbose=0).argmax(-1)
    accuracy = float((predicted == y_test.argmax(-1)).mean())
    if verbose:
        model.summary()
        print(f"per-digit accuracy on 200 new sequences (teacher forcing): {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
