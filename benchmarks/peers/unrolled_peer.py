"""unrolled (this project), on JAX."""

from benchmarks.common import peer_main
from benchmarks.peers import keras_like


def run(cfg, epochs, options):
    import unrolled

    return keras_like.run(unrolled, "unrolled", unrolled.__version__, cfg, epochs)


if __name__ == "__main__":
    peer_main(run)
