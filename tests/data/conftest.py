"""Data-room fixtures.

The data tests build no models, so they override the root `clean_session` autouse fixture
(which calls `keras.backend.clear_session()`, ~0.1 s a test) with a seeded NumPy RNG only.
"""

import numpy as np
import pytest

SEED = 1234


@pytest.fixture(autouse=True)
def clean_session():
    """Before every data test: a seeded global NumPy RNG (no Keras session to clear)."""
    np.random.seed(SEED)
    yield
