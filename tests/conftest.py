"""Shared fixtures: real Keras 3 on JAX as the oracle, clean sessions, seeded randomness."""

import os

# Must precede any keras import anywhere in the test session: the oracle is Keras on JAX.
os.environ["KERAS_BACKEND"] = "jax"
# The CLI turns JAX's persistent compilation cache on by default; inside the test process it
# would change JAX's global config for every later test and write to the user's cache folder.
# Tests of the cache run the CLI in a subprocess with their own folder.
os.environ["UNROLLED_COMPILE_CACHE"] = "0"

import sys  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SEED = 1234


@pytest.fixture(scope="module")
def keras():
    """Real Keras 3 with the JAX backend (the oracle of DESIGN.md, oracle 1)."""
    import keras as keras_module

    assert keras_module.backend.backend() == "jax", keras_module.backend.backend()
    return keras_module


def _clear_sessions() -> None:
    """Reset layer-name counters on both sides so weight paths start at 'sequential/lstm/...'."""
    keras_module = sys.modules.get("keras")
    if keras_module is not None:
        # free_memory=False: reset names and global state without a 0.1 s gc.collect() per test
        keras_module.backend.clear_session(free_memory=False)
    unrolled = sys.modules.get("unrolled")
    clear = getattr(getattr(unrolled, "utils", None), "clear_session", None)
    if clear is not None:
        clear()


@pytest.fixture(autouse=True)
def clean_session():
    """Before every test: fresh Keras and unrolled sessions and a seeded global NumPy RNG."""
    _clear_sessions()
    np.random.seed(SEED)
    yield


@pytest.fixture(scope="session")
def clear_sessions():
    """The session reset as a callable, for module-scoped runs that build several models."""
    return _clear_sessions


@pytest.fixture
def rng():
    """A seeded NumPy generator; tests draw their data and weights from it."""
    return np.random.default_rng(SEED)


@pytest.fixture
def x64():
    """Enable JAX float64 for the duration of one test and restore the previous setting."""
    import jax

    previous = bool(jax.config.read("jax_enable_x64"))
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


@pytest.fixture(scope="module")
def sequential_pair(keras):
    """Build the same Sequential stack in unrolled and in Keras: ``build(specs, input_shape)``.

    ``specs`` is a list of ``(layer_class_name, kwargs)`` with plain-value kwargs. ``input_style``
    "input" starts both models with ``Input(shape=...)``; "input_shape" passes ``input_shape=`` to
    the first layer as the seed code does (Keras warns about it; the warning is not under test).
    Returns ``(unrolled_model, keras_model)``.
    """
    import warnings

    import unrolled

    def build(specs, input_shape, input_style="input"):
        k_model = keras.Sequential()
        u_model = unrolled.models.Sequential()
        if input_style == "input":
            k_model.add(keras.Input(shape=input_shape))
            u_model.add(unrolled.layers.Input(shape=input_shape))
        for index, (name, kwargs) in enumerate(specs):
            extra = {}
            if input_style == "input_shape" and index == 0:
                extra = {"input_shape": input_shape}
            with warnings.catch_warnings():
                if extra:
                    warnings.simplefilter("ignore", UserWarning)
                k_model.add(getattr(keras.layers, name)(**kwargs, **extra))
                u_model.add(getattr(unrolled.layers, name)(**kwargs, **extra))
        return u_model, k_model

    return build


@pytest.fixture(scope="session")
def keras_weights():
    """``keras_weights(model_or_layer)``: Keras's weights as NumPy arrays.

    Keras's own ``get_weights()`` calls ``np.array(variable)``, which NumPy 2.x answers with a
    DeprecationWarning (an error under this suite's filterwarnings); read ``.value`` instead.
    """

    def read(obj):
        return [np.asarray(variable.value) for variable in obj.weights]

    return read


def rounding_bound(n_terms: int, term_size: float, dtype) -> float:
    """How far two evaluations of the same sums may differ from rounding alone.

    A sum of ``n`` terms evaluated in floating point, in any order, lands within
    ``gamma_n * sum|t_i|`` of the exact value, ``gamma_n = n u / (1 - n u)`` with ``u`` the unit
    roundoff of ``dtype`` (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.,
    section 4.2). Two evaluations (another CPU's vector width, another blocking of a matmul, a
    sorted instead of a plain loop) differ by at most twice that; with ``sum|t_i| <= n *
    term_size`` the bound is ``2 gamma_n n term_size``. Tests that compare such results derive
    their tolerance here instead of guessing an rtol that holds on one machine only.
    """
    u = float(np.finfo(dtype).eps) / 2.0
    nu = n_terms * u
    assert nu < 0.5, f"{n_terms} terms: the bound is meaningless in {np.dtype(dtype).name}"
    return 2.0 * nu / (1.0 - nu) * n_terms * term_size


def term_size(factors, per_term: int = 3) -> float:
    """A bound on one product of ``per_term`` entries of ``factors`` and of activations (<= 1).

    An RNN gradient term multiplies a probe (the loss's weight), a weight and an input or state;
    gates and tanh are bounded by 1.
    """
    largest = max([1.0, *(float(np.max(np.abs(np.asarray(a)))) for a in factors if np.size(a))])
    return largest ** per_term


@pytest.fixture(scope="session")
def assert_rounding_close():
    """``assert_rounding_close(got, want, n_terms, factors, err_msg="")`` by `rounding_bound`.

    ``got`` and ``want`` are two evaluations of the same maths in ``want``'s dtype; each entry is
    built from at most ``n_terms`` rounded terms, each a product of entries of ``factors`` (the
    inputs, weights and probes) and of activations bounded by 1 (`term_size`).
    """

    def check(got, want, n_terms, factors, err_msg=""):
        want = np.asarray(want)
        atol = rounding_bound(n_terms, term_size(factors), want.dtype)
        np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=atol, err_msg=err_msg)

    return check
