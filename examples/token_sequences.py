"""Token sequences with Embedding(mask_zero=True) -> LSTM -> Dense, on real, bundled data.

Text classifiers in Keras read sequences of integer token ids, padded with 0, through
``Embedding(mask_zero=True)``. This example builds exactly such a task from the bundled
JapaneseVowels recordings (9 speakers, utterances of 7 to 29 frames of 12 LPC cepstrum
coefficients): every frame is replaced by the id of its nearest "sound unit" in a 63-entry
codebook learned with k-means on the training frames, so each utterance becomes a variable-length
"sentence" of tokens 1..63, right-padded with 0. The model must name the speaker from the
token sentence alone, as a text model names the author of a sentence.

Run: python examples/token_sequences.py
"""

from __future__ import annotations

import numpy as np

from unrolled import datasets, layers, utils
from unrolled.models import Sequential

CODEBOOK = 63  # token ids 1..63; 0 is padding


def kmeans(frames: np.ndarray, k: int, iterations: int = 25, seed: int = 0) -> np.ndarray:
    """Return ``k`` centroids of ``frames (N, F)`` (Lloyd's algorithm, k-means++-style start)."""
    rng = np.random.default_rng(seed)
    centroids = [frames[rng.integers(len(frames))]]
    for _ in range(k - 1):
        d = np.min(((frames[:, None] - np.array(centroids)[None]) ** 2).sum(-1), axis=1)
        centroids.append(frames[rng.choice(len(frames), p=d / d.sum())])
    centroids = np.array(centroids)
    for _ in range(iterations):
        nearest = np.argmin(((frames[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
        for j in range(k):
            members = frames[nearest == j]
            if len(members):
                centroids[j] = members.mean(0)
    return centroids


def tokenize(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Map each real frame of ``x (N, T, F)`` to its nearest centroid id + 1; padding to 0."""
    real = np.any(x != 0.0, axis=-1)  # (N, T)
    dist = ((x[:, :, None, :] - centroids[None, None]) ** 2).sum(-1)  # (N, T, k)
    return np.where(real, np.argmin(dist, axis=-1) + 1, 0).astype("int32")


def load_tokens():
    """Return ``(t_train, y_train), (t_test, y_test)`` token sentences and speaker ids."""
    (x_train, y_train), (x_test, y_test) = datasets.load("JapaneseVowels")
    frames = x_train[np.any(x_train != 0.0, axis=-1)]  # (frames, 12)
    centroids = kmeans(frames, CODEBOOK)
    return (tokenize(x_train, centroids), y_train), (tokenize(x_test, centroids), y_test)


def build_model(max_len: int, units: int = 32) -> Sequential:
    """Embedding(64, 16, mask_zero=True) -> LSTM(units) -> Dense(9, softmax)."""
    model = Sequential([
        layers.Input(shape=(max_len,), dtype="int32"),
        layers.Embedding(CODEBOOK + 1, 16, mask_zero=True),
        layers.LSTM(units),
        layers.Dense(9, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def main(epochs: int = 40, units: int = 32, verbose: int = 1, seed: int = 0) -> float:
    """Train on the token sentences and return the test accuracy."""
    utils.set_random_seed(seed)
    (t_train, y_train), (t_test, y_test) = load_tokens()
    model = build_model(t_train.shape[1], units)
    model.fit(t_train, y_train, batch_size=16, epochs=epochs, verbose=verbose)
    _, accuracy = model.evaluate(t_test, y_test, verbose=0)
    if verbose:
        lengths = (t_test != 0).sum(1)
        print(f"Speaker from token sentences of {lengths.min()}-{lengths.max()} tokens: "
              f"test accuracy {accuracy:.4f} on {len(t_test)} utterances (chance 1/9).")
    return accuracy


if __name__ == "__main__":
    main()
