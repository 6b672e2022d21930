"""step_by_step(): its numbers equal the trace's (oracle 4) and the weights' own products."""

import re

import numpy as np
import pytest
from inspect_helpers import lstm_model, masked_batch

from unrolled import inspect


@pytest.fixture(scope="module")
def case(clear_sessions):
    clear_sessions()  # module fixtures run before the per-test reset: start names at lstm
    rng = np.random.default_rng(7)
    x = masked_batch(rng, 3, 6, 2)
    model = lstm_model(3, t=6, d=2)
    return model, x, inspect.trace(model, x)


@pytest.mark.parametrize("sample, t, unit", [(0, 0, 0), (0, 3, 2), (2, 1, 1), (2, 3, 0)])
def test_step_numbers_equal_trace_and_weights(case, sample, t, unit):
    model, x, tr = case
    step = inspect.step_by_step(model, x, sample=sample, t=t, unit=unit)
    kernel, rec, bias = model.layers[1].get_weights()
    h_prev = tr.hidden[sample, t - 1] if t else np.zeros(3, "float32")
    for k, g in enumerate(step.gates):
        col = k * 3 + unit
        np.testing.assert_allclose(g.input_part, x[sample, t] @ kernel[:, col], atol=1e-6)
        np.testing.assert_allclose(g.recurrent_part, h_prev @ rec[:, col], atol=1e-6)
        assert g.bias == bias[col]
        np.testing.assert_allclose(g.pre_activation, g.input_part + g.recurrent_part + g.bias,
                                   atol=1e-6)
        assert g.activation == tr.gates[g.name][sample, t, unit]
    assert step.masked == (not tr.mask[sample, t])
    assert step.c == tr.cell[sample, t, unit] and step.h == tr.hidden[sample, t, unit]
    if not step.masked:
        np.testing.assert_allclose([step.c_computed, step.h_computed], [step.c, step.h],
                                   atol=1e-6)
    else:  # a masked step keeps the previous state
        assert step.h == h_prev[unit]
    text = str(step)
    assert f"sample {sample}, time step t={t}, cell j={unit}" in text
    shown = re.search(r"c_t = f\*c_\(t-1\) \+ i\*c~ = .* = (\S+)", text).group(1)
    assert float(shown) == pytest.approx(step.c_computed, abs=1e-6)
    assert ("MASKED" in text) == step.masked


def test_default_step_is_last_valid_one(case):
    model, x, tr = case
    step = inspect.step_by_step(model, x, sample=0)
    assert step.t == 3 and tr.mask[0, 3] and not tr.mask[0, 4]
    assert "Had this step been masked" in str(step)


@pytest.mark.parametrize("kwargs, match", [({"sample": 3}, "sample=3 is out of range"),
                                           ({"unit": 5}, "unit=5 is out of range"),
                                           ({"t": 6}, "t=6 is out of range")])
def test_out_of_range(case, kwargs, match):
    model, x, _ = case
    with pytest.raises(IndexError, match=match):
        inspect.step_by_step(model, x, **kwargs)
