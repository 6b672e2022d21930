"""The token-sequence example (Embedding(mask_zero=True) -> LSTM -> Dense) on bundled real data.

Oracles: the dataset's own labels (accuracy far above chance, 1/9) and invariants of the
tokenization (padding maps to token 0 exactly where the recording has no frame).
"""

import importlib.util
import pathlib

import numpy as np

from unrolled import datasets

PATH = pathlib.Path(__file__).parents[1] / "examples" / "token_sequences.py"


def _example():
    spec = importlib.util.spec_from_file_location("token_sequences", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tokens_keep_padding_and_lengths():
    example = _example()
    (t_train, y_train), (t_test, _) = example.load_tokens()
    (x_train, y_raw), _ = datasets.load("JapaneseVowels")
    np.testing.assert_array_equal(t_train == 0, ~np.any(x_train != 0.0, axis=-1))
    assert t_train.max() == example.CODEBOOK and t_train[t_train > 0].min() >= 1
    np.testing.assert_array_equal(y_train, y_raw)
    assert t_test.shape[1] == t_train.shape[1] == 29


def test_speaker_from_token_sentences_well_above_chance():
    accuracy = _example().main(epochs=25, verbose=0)
    assert accuracy > 0.75  # chance is 1/9
