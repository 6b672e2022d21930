"""Measure how many of the ``keras.ops`` names recurrent code uses are in ``unrolled.ops``.

The list is the union of three sources, each named so the number can be checked:

1. every ``ops.<name>`` in Keras's own ``keras/src/layers/rnn/*.py`` (tests excluded), read
   from the installed Keras at run time (the layers and their docstring examples);
2. the ``keras.ops`` equivalents of the tensor calls in the keras-io RNN guides and examples
   (`GUIDES` below, per file);
3. what custom cells reach for beyond those (`CUSTOM_CELLS`: loops, reductions, comparisons).

Only names that ``keras.ops`` really exports count. Run:

    KERAS_BACKEND=jax PYTHONPATH=src python tools/keras_ops_coverage.py
"""

from __future__ import annotations

import os
import pathlib
import re
import sys

GUIDES = {
    # keras-io guides/working_with_rnns.py: the NestedCell (matmul, einsum).
    "guides/working_with_rnns.py": ["matmul", "einsum", "add"],
    # keras-io guides/understanding_masking_and_padding.py: the masked embedding, TemporalSplit,
    # CustomEmbedding, MyActivation and TemporalSoftmax layers.
    "guides/understanding_masking_and_padding.py": [
        "cast", "tile", "expand_dims", "split", "take", "not_equal", "relu", "exp", "sum"],
    # keras-io examples/nlp/addition_rnn.py, lstm_seq2seq.py, bidirectional_lstm_imdb.py:
    # decoding predictions.
    "examples/nlp/*": ["argmax", "one_hot"],
    # examples/generative/lstm_character_level_text_generation.py: temperature sampling.
    "examples/generative/lstm_character_level_text_generation.py": ["log", "exp", "divide",
                                                                    "sum", "softmax"],
    # examples/timeseries/timeseries_weather_forecasting.py: normalisation.
    "examples/timeseries/timeseries_weather_forecasting.py": ["mean", "std", "subtract"],
    # examples/vision/conv_lstm.py: frames and binary outputs.
    "examples/vision/conv_lstm.py": ["squeeze", "where", "greater", "concatenate"],
}

CUSTOM_CELLS = [
    "tile", "take", "einsum", "argmax", "cumsum", "where", "matmul", "concatenate", "stack",
    "split", "expand_dims", "squeeze", "reshape", "transpose", "sum", "mean", "max", "min",
    "exp", "log", "tanh", "sigmoid", "relu", "softmax", "sqrt", "square", "abs", "clip",
    "maximum", "minimum", "zeros", "ones", "zeros_like", "ones_like", "cast", "shape",
    "convert_to_tensor", "any", "all", "logical_and", "logical_or", "logical_not", "equal",
    "not_equal", "greater", "greater_equal", "less", "less_equal", "cond", "while_loop", "scan",
    "fori_loop", "switch", "stop_gradient", "multiply", "subtract", "divide", "negative",
    "power", "dot", "flip", "arange", "broadcast_to", "one_hot", "log_softmax", "top_k",
    "unstack", "slice", "slice_update", "gelu", "softplus", "hard_sigmoid", "leaky_relu",
]


def keras_rnn_names(keras) -> set[str]:
    """Return every ``ops.<name>`` in the installed Keras's rnn/ layer modules (not its tests)."""
    folder = pathlib.Path(keras.__file__).parent / "src" / "layers" / "rnn"
    names: set[str] = set()
    for path in folder.glob("*.py"):
        if not path.name.endswith("_test.py"):
            names.update(re.findall(r"\bops\.([a-z_][a-z0-9_]*)\b", path.read_text()))
    return names


def listed_names(keras) -> list[str]:
    """Return the measured list: the three sources, restricted to ``keras.ops`` callables."""
    names = keras_rnn_names(keras) | set(CUSTOM_CELLS)
    for used in GUIDES.values():
        names.update(used)
    return sorted(n for n in names if callable(getattr(keras.ops, n, None)))


def main() -> int:
    """Print the coverage and the names missing from ``unrolled.ops``."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    from unrolled import ops

    names = listed_names(keras)
    present = [n for n in names if callable(getattr(ops, n, None))]
    missing = sorted(set(names) - set(present))
    print(f"keras.ops names used by Keras's rnn/ code, the keras-io RNN guides/examples and "
          f"custom cells: {len(names)}")
    print(f"present in unrolled.ops: {len(present)} ({100 * len(present) / len(names):.1f}%)")
    print(f"missing: {', '.join(missing) or 'none'}")
    print(f"keras.ops names offered by unrolled.ops in all: {len(ops.KERAS_OPS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
