"""Training under DataParallel / ModelParallel equals one-device training of the same batches.

Oracle: the invariant that data or model parallelism changes where the arithmetic runs, not the
result (DESIGN.md oracle 4): a pure-JAX LSTM train step (`unrolled.ops.rnn.lstm`, a dense
layer, a weighted MSE, optax Adam; `dist_worker.py`) trained on one device is the reference,
and every distributed run must give the same losses, gradients and weights within 1e-5. Each
run is a fresh subprocess (XLA_FLAGS fixes the CPU device count before JAX starts) with a
bounded timeout; the two-process run uses jax.distributed on 127.0.0.1 with gloo collectives.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import subprocs

HERE = Path(__file__).resolve().parent
TIMEOUT = 120
TOL = 1e-5


def _worker(mode, out, devices, *extra):
    return subprocs.launch("dist_worker.py", mode, out, devices, *extra)


def _run(*procs):
    subprocs.wait(*procs, timeout=TIMEOUT)


def _load(path):
    d = np.load(path)
    return {k: d[k] for k in d.files if k != "info"}, json.loads(str(d["info"]))


def _assert_same_training(run, ref):
    assert run["losses"].shape == ref["losses"].shape == (4,)
    np.testing.assert_allclose(run["losses"], ref["losses"], rtol=0, atol=TOL)
    for k in ref:
        np.testing.assert_allclose(run[k], ref[k], rtol=0, atol=TOL, err_msg=k)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    _run(_worker("reference", out, 1))
    ref, _ = _load(out / "reference.npz")
    sys.path.insert(0, str(HERE))
    try:
        import dist_worker
    finally:
        sys.path.remove(str(HERE))
    # The comparison must be able to fail: training moved every weight away from its start.
    for i, start in enumerate(dist_worker.initial_params()):
        assert np.abs(ref[f"w{i}"] - start).max() > 1e-3
    return ref


def test_data_parallel_on_4_devices_equals_one_device(reference, tmp_path):
    _run(_worker("dp", tmp_path, 4))
    run, info = _load(tmp_path / "dp.npz")
    assert info["kernel_shards"] == 4 and info["kernel_shard_shape"] == [3, 32]  # replicated
    assert info["all_reduce"], "XLA should reduce the gradients over the replicas"
    _assert_same_training(run, reference)


def test_model_parallel_sharded_lstm_kernel_equals_one_device(reference, tmp_path):
    _run(_worker("model", tmp_path, 4))
    run, info = _load(tmp_path / "model.npz")
    assert info["kernel_shard_shape"] == [3, 16]  # the (3, 32) kernel split over "model" (2)
    _assert_same_training(run, reference)  # gradients of step 0 (g*), losses, weights


def test_two_processes_of_two_devices_equal_one_device(reference, tmp_path):
    port = subprocs.free_port()
    _run(*(_worker("mp", tmp_path, 2, pid, port) for pid in (0, 1)))
    for pid in (0, 1):
        run, info = _load(tmp_path / f"mp{pid}.npz")
        assert info["devices"] == 4 and info["local_devices"] == 2
        assert info["rows"] == [4 * pid, 4 * pid + 4]  # its own rows of each global batch of 8
        assert info["shard"] == [pid, 2]
        assert info["global_max"] == 4  # max of 3 + process id over both processes
        assert info["gathered"]  # to_numpy gathers the rows the other process holds
        _assert_same_training(run, reference)
        stream, _ = _load(tmp_path / f"mp{pid}_stream.npz")
        # A streaming PyDataset of half-batches: each process read only its own shard.
        np.testing.assert_array_equal(stream.pop("read"), np.arange(pid, 8, 2))
        _assert_same_training(stream, reference)
