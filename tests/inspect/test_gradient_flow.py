"""gradient_flow() against central finite differences of an independent NumPy float64 model
(oracle 3)."""

import numpy as np
import pytest
from inspect_helpers import masked_batch, randomize

from unrolled import inspect, layers, models


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def reference_loss(weights, x, y, go_backwards, bump=None):
    """Masking -> LSTM(u) -> Dense(1, sigmoid) -> BCE in float64; ``bump=(kind, t, b, j, eps)``
    adds eps to h_t / c_t after step t (processing order) or to a pre-activation column."""
    kernel, rec, bias, dk, db = (np.asarray(w, np.float64) for w in weights)
    keep = x.any(-1)
    if go_backwards:
        x, keep = x[:, ::-1], keep[:, ::-1]
    b, t, _ = x.shape
    u = rec.shape[0]
    h, c = np.zeros((b, u)), np.zeros((b, u))
    for s in range(t):
        z = x[:, s] @ kernel + bias + h @ rec
        if bump and bump[0] == "z" and bump[1] == s:
            z[bump[2], bump[3]] += bump[4]
        i, f, g, o = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), \
            sigmoid(z[:, 3 * u:])
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        m = keep[:, s:s + 1]
        h, c = np.where(m, h_new, h), np.where(m, c_new, c)
        if bump and bump[1] == s and bump[0] in ("h", "c"):
            (h if bump[0] == "h" else c)[bump[2], bump[3]] += bump[4]
    p = np.clip(sigmoid(h @ dk + db), 1e-7, 1 - 1e-7)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


@pytest.mark.parametrize("go_backwards", [False, True])
def test_gradient_flow_matches_finite_differences(x64, go_backwards):
    rng = np.random.default_rng(3)
    x = masked_batch(rng, 3, 5, 2).astype(np.float64)
    y = rng.integers(0, 2, size=(3, 1)).astype(np.float64)
    model = models.Sequential([layers.Input(shape=(5, 2)), layers.Masking(0.0),
                               layers.LSTM(2, go_backwards=go_backwards),
                               layers.Dense(1, activation="sigmoid")])
    randomize(model, scale=0.8)
    weights = model.get_weights()
    flow = inspect.gradient_flow(model, x, y, loss="binary_crossentropy")
    assert flow.states["hidden"].dtype == np.float64
    # unrolled's Loss classes compute the loss itself in float32 (as Keras's float32 models do),
    # so the outermost factor dLoss/dprediction carries float32 rounding: rtol 1e-5, not 1e-10.
    assert flow.loss == pytest.approx(reference_loss(weights, x, y, go_backwards), rel=1e-6)
    eps = 1e-6
    grads = {"h": flow.states["hidden"], "c": flow.states["cell"],
             "z": np.concatenate([flow.gates[g] for g in ("input_gate", "forget_gate",
                                                          "candidate", "output_gate")], -1)}
    for kind, grad in grads.items():
        fd = np.zeros_like(grad)
        for b, s, j in np.ndindex(*grad.shape):
            plus = reference_loss(weights, x, y, go_backwards, (kind, s, b, j, eps))
            minus = reference_loss(weights, x, y, go_backwards, (kind, s, b, j, -eps))
            fd[b, s, j] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-9, err_msg=kind)
    np.testing.assert_allclose(flow.hidden_norm, np.sqrt((grads["h"] ** 2).sum(axis=(0, 2))))


def test_vanishing_gradient_is_visible():
    """Forget gates at 0.5: dLoss/dc_t halves per step back in time (invariant: 0.5**38)."""
    model = models.Sequential([layers.Input(shape=(40, 1)), layers.LSTM(
        4, recurrent_initializer="zeros", kernel_initializer="zeros", unit_forget_bias=False),
        layers.Dense(1, activation="sigmoid")])
    flow = inspect.gradient_flow(model, np.ones((2, 40, 1), "float32"),
                                 np.ones((2, 1), "float32"), loss="binary_crossentropy")
    norms = flow.cell_norm
    assert np.all(np.diff(norms[:-1]) > 0)  # grows towards the end...
    np.testing.assert_allclose(norms[0] / norms[-2], 0.5 ** 38, rtol=1e-3)
    text = str(flow)
    assert "|dL/dh_t|" in text and "|dL/dc_t|" in text and "|dL/dz_f,t|" in text
    assert "L = binary_crossentropy" in text and "norm over the batch (B = 2) and the 4 units" \
        in text
    assert text.splitlines()[2].split()[0] == "0"  # steps numbered from 0


def test_errors():
    model = models.Sequential([layers.Input(shape=(3, 1)), layers.LSTM(2), layers.Dense(1)])
    x, y = np.ones((2, 3, 1), "float32"), np.ones((2, 1), "float32")
    with pytest.raises(ValueError, match="needs a loss"):
        inspect.gradient_flow(model, x, y)
    with pytest.raises(ValueError, match="x has 2 samples but y has 3"):
        inspect.gradient_flow(model, x, np.ones((3, 1)), loss="binary_crossentropy")
    with pytest.raises(KeyError, match="available"):
        inspect.gradient_flow(model, x, y, loss="binary_crossentropy").norm("bogus")
