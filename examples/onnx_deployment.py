"""Deploy a trained model with ONNX: export once, run it in onnxruntime on any sequence length.

Trains the seed model (Masking -> LSTM -> Dense -> softmax) on the bundled JapaneseVowels
recordings (12 coefficients per frame, 7 to 29 frames per utterance, 9 speakers), exports it
with ``unrolled.convert.to_onnx`` and runs the file in onnxruntime, where no unrolled, JAX or
Keras is needed. The file's input is ``x (batch, time, 12)`` with both ``batch`` and ``time``
free: the masked padding becomes ``sequence_lens`` inside the graph, so one file serves
utterances of any length (padded at the end with the mask value).

Needs the onnx extra: pip install 'unrolled[onnx]'.

Run: python examples/onnx_deployment.py [--epochs 20] [--out m.onnx]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from unrolled import convert, datasets, layers, utils
from unrolled.models import Sequential


def main(epochs: int = 20, out: str | None = None, verbose: int = 0) -> dict:
    """Train, export and run; return the largest difference and onnxruntime's accuracy."""
    import onnxruntime as ort

    utils.set_random_seed(0)
    (x, y), (x_test, y_test) = datasets.load("JapaneseVowels", one_hot=True)
    model = Sequential([layers.Input(shape=(None, 12)), layers.Masking(0.0), layers.LSTM(16),
                        layers.Dense(9), layers.Activation("softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy",
                  metrics=["categorical_accuracy"])
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=verbose)
    path = out or os.path.join(tempfile.mkdtemp(prefix="unrolled_onnx_"), "speakers.onnx")
    # the model masks padding; the file is exact for inputs padded at the END, which is what
    # pad_sequences(padding="post") and the bundled data give: say so at export
    convert.to_onnx(model, path, assume_right_padding=True)

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    worst = 0.0
    for steps in (29, 20, 40):  # the padded length, a shorter one (cut), a longer one (padded)
        batch = x_test[:16, :steps] if steps <= 29 else np.pad(
            x_test[:16], ((0, 0), (0, steps - 29), (0, 0)))
        got = session.run(None, {"x": batch.astype(np.float32)})[0]
        worst = max(worst, float(np.abs(got - model.predict(batch, verbose=0)).max()))
    proba = session.run(None, {"x": x_test})[0]
    accuracy = float(np.mean(proba.argmax(1) == y_test.argmax(1)))
    return {"max_difference": worst, "onnx_accuracy": accuracy, "path": path}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    result = main(args.epochs, args.out, verbose=2)
    print(f"wrote {result['path']}; onnxruntime accuracy {result['onnx_accuracy']:.3f}, largest "
          f"difference from model.predict {result['max_difference']:.2e}")
