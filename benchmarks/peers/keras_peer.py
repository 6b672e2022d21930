"""Keras 3 on the backend named by KERAS_BACKEND (set by benchmarks.run before the import)."""

import os

from benchmarks.common import peer_main
from benchmarks.peers import keras_like


def run(cfg, epochs, options):
    import keras

    backend = keras.backend.backend()
    if backend != os.environ.get("KERAS_BACKEND"):
        raise SystemExit(f"asked for Keras on {os.environ.get('KERAS_BACKEND')}, got {backend}")
    return keras_like.run(keras, f"keras-{backend}", keras.__version__, cfg, epochs)


if __name__ == "__main__":
    peer_main(run)
