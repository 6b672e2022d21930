"""`Model.fit` / `evaluate` / `predict` under a distribution equal one-device training.

Oracle: the invariant that data or model parallelism changes where the arithmetic runs, not the
result (DESIGN.md oracle 4). `fit_worker.py` trains the same tiny LSTM model with the Keras API
on the same arrays: one device without a distribution is the reference; DataParallel on 4
devices, ModelParallel with split LSTM and Dense kernels, and 2 processes x 2 devices
(jax.distributed on 127.0.0.1, gloo collectives) must give the same History (losses, metrics,
validation), evaluate, predict and weights within 1e-5. A run resumed by a fresh pair of
processes from a ModelCheckpoint written by process 0 equals the uninterrupted run.
"""

import json

import numpy as np
import pytest
import subprocs

TIMEOUT = 150
TOL = 1e-5


def _worker(mode, out, devices, *extra):
    return subprocs.launch("fit_worker.py", mode, out, devices, *extra)


def _run(*procs):
    subprocs.wait(*procs, timeout=TIMEOUT)


def _pair(mode, out):
    port = subprocs.free_port()
    _run(*(_worker(mode, out, 2, pid, port) for pid in (0, 1)))


def _load(path):
    d = np.load(path)
    run = {k: d[k] for k in d.files if k.startswith("w") or k == "predicted"}
    for k in ("history", "evaluated", "info"):
        run[k] = json.loads(str(d[k]))
    return run


def _assert_same(run, ref):
    hist, ref_hist = run["history"], ref["history"]
    assert sorted(hist) == sorted(ref_hist)
    for key, values in ref_hist.items():
        np.testing.assert_allclose(hist[key], values, rtol=0, atol=TOL, err_msg=key)
    if ref["evaluated"] is not None:
        for key, value in ref["evaluated"].items():
            assert abs(run["evaluated"][key] - value) <= TOL, key
    arrays = [k for k in ref if k.startswith("w") or k == "predicted"]
    assert len(arrays) >= 5
    for k in arrays:
        np.testing.assert_allclose(run[k], ref[k], rtol=0, atol=TOL, err_msg=k)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    _run(_worker("reference", out, 1))
    ref_a, ref_b = _load(out / "reference_a.npz"), _load(out / "reference_b.npz")
    # The comparisons must be able to fail: training moved the weights and lowered the loss.
    assert ref_a["history"]["loss"][1] < ref_a["history"]["loss"][0] - 0.05
    assert ref_a["predicted"].shape == (6, 2)
    return ref_a, ref_b


def test_fit_data_parallel_on_4_devices_equals_one_device(reference, tmp_path):
    _run(_worker("dp", tmp_path, 4))
    run = _load(tmp_path / "dp_a.npz")
    assert run["info"] == {"kernel_shards": 4, "kernel_replicated": True}  # placed by fit
    _assert_same(run, reference[0])
    stream = _load(tmp_path / "dp_stream.npz")  # a PyDataset of the same batches, in order
    assert stream["info"]["read"] == [0, 1, 2, 3]
    _assert_same(stream, reference[1])


def test_fit_model_parallel_split_kernels_equals_one_device(reference, tmp_path):
    _run(_worker("model", tmp_path, 4))
    run = _load(tmp_path / "model_a.npz")
    assert run["info"]["kernel_shard_shape"] == [3, 16]  # the (3, 32) kernel split over "model"
    _assert_same(run, reference[0])


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_processes")
    _pair("mp", out)
    return out


def test_fit_two_processes_of_two_devices_equals_one_device(reference, two_processes):
    for pid in (0, 1):
        run = _load(two_processes / f"mp{pid}_a.npz")
        assert run["info"] == {"devices": 4, "local_devices": 2}
        _assert_same(run, reference[0])


def test_checkpoint_written_once_and_resumed_by_fresh_processes(reference, two_processes):
    ref_b = reference[1]
    assert sorted(p.name for p in two_processes.glob("*.keras")) == [
        "ckpt_e1.keras", "ckpt_e2.keras"]
    for pid in (0, 1):  # the first 2 of 3 epochs, then a fresh pair resumes from epoch 2
        first = _load(two_processes / f"mp{pid}_b2.npz")
        # every process saves (gathering is collective), only process 0 writes the files
        assert first["info"]["writes"] == (["ckpt_e1.keras", "ckpt_e2.keras"] if pid == 0
                                           else [])
        np.testing.assert_allclose(first["history"]["loss"], ref_b["history"]["loss"][:2],
                                   rtol=0, atol=TOL)
    _pair("resume", two_processes)
    for pid in (0, 1):
        run = _load(two_processes / f"resume{pid}_b.npz")
        for key, values in ref_b["history"].items():
            np.testing.assert_allclose(run["history"][key], values[2:], rtol=0, atol=TOL)
        for k in (k for k in ref_b if k.startswith("w")):
            np.testing.assert_allclose(run[k], ref_b[k], rtol=0, atol=TOL, err_msg=k)
        # A PyDataset of half batches: each process read only its shard (every other batch).
        stream = _load(two_processes / f"resume{pid}_stream.npz")
        assert stream["info"]["read"] == list(range(pid, 8, 2))
        _assert_same(stream, ref_b)
