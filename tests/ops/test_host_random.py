"""The host threefry (unrolled.ops.host_random) against jax.random, bit for bit.

Oracle: JAX itself (the keys and samples it computes on the device). Tolerance: none, every
bit equal, over seeds at the edges of the range, folded-in data across uint32, and uniform draws
of many shapes and ranges (including the ranges Glorot-uniform gives the benchmark layers).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unrolled.ops import host_random as hr

SEEDS = [0, 1, 42, 123456, 2**31 - 1]


def device_key_data(key):
    return np.asarray(jax.random.key_data(key))


def test_jax_is_configured_as_the_host_version_assumes():
    assert hr.available() and hr.available(0) and hr.available(2**31 - 1)
    assert not hr.available(-1) and not hr.available(2**31)


@pytest.mark.parametrize("seed", SEEDS)
def test_key_data_equals_jax_key(seed):
    np.testing.assert_array_equal(hr.key_data(seed), device_key_data(jax.random.key(seed)))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("data", [0, 1, 7, 123456789, 2**31, 2**32 - 1])
def test_fold_in_equals_jax(seed, data):
    want = device_key_data(jax.random.fold_in(jax.random.key(seed), data))
    np.testing.assert_array_equal(hr.fold_in(hr.key_data(seed), data), want)


@pytest.mark.parametrize("seed", SEEDS[:3])
@pytest.mark.parametrize(("shape", "limit"), [((1, 64), 0.3), ((16, 2), 0.5477226),
                                              ((7, 5, 3), 1.0), ((300, 400), 0.0866),
                                              ((0, 4), 0.1), ((1,), 3.0)])
def test_uniform_equals_jax_bit_for_bit(seed, shape, limit):
    key = jax.random.key(seed)
    want = np.asarray(jax.random.uniform(key, shape, jnp.float32, -limit, limit))
    got = hr.uniform(hr.key_data(seed), shape, -limit, limit)
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), data=st.integers(0, 2**32 - 1),
       lo=st.floats(-5, 5, width=32), width=st.floats(2**-10, 10, width=32),
       rows=st.integers(1, 40), cols=st.integers(1, 40))
def test_folded_uniform_equals_jax_for_any_seed_and_range(seed, data, lo, width, rows, cols):
    key = jax.random.fold_in(jax.random.key(seed), data)
    want = np.asarray(jax.random.uniform(key, (rows, cols), jnp.float32, lo, lo + width))
    got = hr.uniform(hr.fold_in(hr.key_data(seed), data), (rows, cols), lo, lo + width)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_fma_rounds_once_where_float64_lands_on_a_float32_midpoint():
    # a * b = 2**-24 * (1 + 2**-36) exactly, so 1 + a * b lies 2**-60 above the midpoint
    # 1 + 2**-24 of 1.0 and its float32 successor: a fused multiply-add rounds up, while the sum
    # rounded to float64 first (losing the 2**-60) is the midpoint itself and ties down to 1.0.
    a = np.array([1 + 2**-12], np.float32)
    b = np.float32((1 - 4095 * 2**-24) * 2**-24)
    assert np.float32(a[0].astype(np.float64) * np.float64(b) + 1.0) == np.float32(1.0)
    up = np.nextafter(np.float32(1.0), np.float32(2.0))
    assert hr._fma32(a, b, np.float32(1.0))[0] == up
    # an exact tie (1 + 2**-24 itself) rounds to even, as the hardware does
    assert hr._fma32(np.array([2**-12], np.float32), np.float32(2**-12),
                     np.float32(1.0))[0] == np.float32(1.0)


def test_key_data_rejects_seeds_outside_the_host_range():
    with pytest.raises(ValueError, match=r"\[0, 2\*\*31\)"):
        hr.key_data(-1)


@pytest.mark.parametrize("seed", [3, 2**31 - 1])
@pytest.mark.parametrize("shape", [(1, 64), (16, 2), (30, 40), (3, 3, 4, 8)])
def test_uniform_initializers_give_jax_random_values(seed, shape):
    from unrolled.layers import initializers
    from unrolled.ops import initializers as maths

    key = jax.random.key(seed)
    for name, scale, mode in [("GlorotUniform", 1.0, "fan_avg"), ("HeUniform", 2.0, "fan_in"),
                              ("LecunUniform", 1.0, "fan_in")]:
        got = np.asarray(getattr(initializers, name)(seed=seed)(shape))
        want = np.asarray(maths.variance_scaling(key, shape, scale=scale, mode=mode,
                                                 distribution="uniform"))
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=name)
    got = np.asarray(initializers.RandomUniform(-0.3, 0.7, seed=seed)(shape))
    want = np.asarray(jax.random.uniform(key, shape, jnp.float32, -0.3, 0.7))
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_seed_generator_keys_equal_jax_fold_in():
    from unrolled.layers.random import SeedGenerator

    gen = SeedGenerator(seed=77)
    for count in (1, 2, 3):
        want = device_key_data(jax.random.fold_in(jax.random.key(77), count))
        np.testing.assert_array_equal(device_key_data(gen.next()), want)
    big = SeedGenerator(seed=2**31 + 5)  # outside the host range: JAX computes it
    assert not hr.available(big.seed)
    np.testing.assert_array_equal(
        device_key_data(big.next()),
        device_key_data(jax.random.fold_in(jax.random.key(2**31 + 5), 1)))


@pytest.mark.parametrize("shape", [(16, 64), (64, 16), (32, 32), (2, 3, 12)])
def test_orthogonal_qr_on_the_host_equals_xla_qr(shape):
    # Oracle: jnp.linalg.qr (XLA's LAPACK call) on the same normal draw, the path taken under a
    # trace. The two LAPACK builds differ in rounding, which a square QR amplifies (2.3e-6 at
    # 32x32); a wrong sign, transpose or scale would be off by ~0.1.
    from unrolled.ops import initializers as maths

    key = jax.random.key(11)
    host = np.asarray(maths.orthogonal(key, shape, gain=1.5))
    xla = np.asarray(maths._orthogonal(key, shape, jnp.dtype(jnp.float32), gain=1.5))
    np.testing.assert_allclose(host, xla, rtol=1e-5, atol=1e-5)
    flat = host.reshape(-1, shape[-1]) / 1.5
    small = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(small, np.eye(small.shape[0]), atol=1e-5)
