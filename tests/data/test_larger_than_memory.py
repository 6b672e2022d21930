"""Training from a generator over a file far larger than the memory the process may use.

Oracle: the same training over the same batches taken from the whole file as arrays
(`np.memmap` in this unlimited process). The worker runs under RLIMIT_AS set to what it maps
after start-up plus 48 MiB, and the file is 4x that headroom; the worker proves the limit
holds by failing to allocate the file's size, then streams it through BatchStream and a
Prefetcher thread. Batches must be identical and the trained weights equal within 1e-6; then
`model.fit` on a generator of the file under the same limit equals `model.fit` on the arrays.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"
HEADROOM_MB = 48
BATCHES = 100  # x 2 MiB per batch: ~200 MiB, the file
LAST_ROWS = 300  # the last batch is partial: padded to 512 rows with weight 0


def _write(path):
    sys.path.insert(0, str(HERE))
    try:
        import big_file_worker as w
    finally:
        sys.path.remove(str(HERE))
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        for i in range(BATCHES):
            rows = LAST_ROWS if i == BATCHES - 1 else w.B
            rng.normal(size=(rows, w.T, w.F)).astype("float32").tofile(f)
    return w


def test_streaming_a_file_4x_the_allowed_memory_trains_as_the_arrays(tmp_path):
    path = tmp_path / "big.f32"
    try:
        _check(path, _write(path))
    finally:
        path.unlink(missing_ok=True)  # 200 MiB: do not leave it in pytest's kept tmp dirs


def _run(path, *args):
    env = dict(os.environ, PYTHONPATH=str(SRC), JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, str(HERE / "big_file_worker.py"), str(path),
                          str(HEADROOM_MB), *args], env=env, capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["file_bytes"] >= 4 * HEADROOM_MB * 2**20
    assert not got["whole_file_fits"], "the address-space limit did not hold"
    return got


def _check(path, w):
    got = _run(path)

    x_all = np.memmap(path, dtype="float32", mode="r").reshape(-1, w.T, w.F)
    step, weights, sums, losses = w.make_step(), np.zeros((w.F, 1), "float32"), [], []
    for start in range(0, len(x_all), w.B):
        x, y = w.batch_from_rows(np.asarray(x_all[start:start + w.B]))
        rows = len(x)
        sw = np.r_[np.ones(rows), np.zeros(w.B - rows)].astype("float32")
        pad = ((0, w.B - rows),) + ((0, 0),) * (x.ndim - 1)
        sums.append(float(x.astype(np.float64).sum()))
        weights, loss = step(weights, np.pad(x, pad), np.pad(y, pad[:2]), sw)
        losses.append(float(loss))
    assert len(got["sums"]) == BATCHES
    assert got["sums"] == sums  # the same batches, bit for bit
    np.testing.assert_allclose(got["losses"], losses, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got["w"], np.asarray(weights).ravel(), rtol=0, atol=1e-6)
    assert np.abs(np.asarray(weights)).max() > 1e-3  # training moved the weights

    # model.fit on a generator of the file's batches, under the same limit, equals model.fit on
    # the whole file as arrays (same batches: shuffle=False; the short last batch padded alike)
    fitted = _run(path, "fit")
    model = w.make_model()
    x_all = np.asarray(x_all)
    history = model.fit(x_all, w.batch_from_rows(x_all)[1], batch_size=w.B, shuffle=False,
                        verbose=0)
    np.testing.assert_allclose(fitted["w"], model.get_weights()[0].ravel(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(fitted["loss"], history.history["loss"][0], rtol=1e-6)
    assert np.abs(model.get_weights()[0]).max() > 1e-3
