"""Safe saving: a save killed mid-write leaves the old or the new complete file (invariant), and
damaged or foreign files are refused with a ValueError naming the file (byte-mutation loop).
"""

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import unrolled
from unrolled.io import atomic_write

SRC = Path(__file__).resolve().parents[2] / "src"

_SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    from unrolled import layers, models
    model = models.Sequential([layers.Input((8, 32)), layers.LSTM(128), layers.Dense(4)])
    path, k = sys.argv[1], 0
    while True:  # alternate complete versions: every weight equals the version number
        k += 1
        model.set_weights([np.full(w.shape, float(k), np.float32) for w in model.weights])
        model.save(path)
        print(k, flush=True)
""")


def _version_of(path) -> float:
    """The single value every weight of a complete file holds (fails on a partial file)."""
    values = {float(v) for w in unrolled.models.load_model(path).get_weights()
              for v in np.unique(w)}
    assert len(values) == 1, f"mixed weights {sorted(values)[:5]}: a partial file"
    return values.pop()


def test_sigkill_during_save_never_leaves_a_partial_file(tmp_path):
    path = tmp_path / "big.keras"
    env = {**os.environ, "PYTHONPATH": str(SRC), "JAX_PLATFORMS": "cpu"}
    seen = set()
    for round_ in range(2):
        with subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True) as proc:
            try:
                for _ in range(2 + round_):  # let it finish a few saves, then kill mid-stream
                    assert proc.stdout.readline(), "the saver process died on its own"
                time.sleep(0.03 * round_)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        seen.add(_version_of(path))
        leftovers = [p.name for p in tmp_path.iterdir() if p.name != "big.keras"]
        assert all(n.startswith(".big.keras.") and n.endswith(".tmp") for n in leftovers)
    assert seen <= set(map(float, range(1, 100)))


def test_failed_write_keeps_old_file_and_cleans_up(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write(target, b"old")

    def boom(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, boom)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        atomic_write(tmp_path / "no_dir" / "f.bin", b"x")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    L = unrolled.layers
    model = unrolled.models.Sequential([L.Input((5, 2)), L.Masking(0.0), L.LSTM(3), L.Dense(2)])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    folder = tmp_path_factory.mktemp("saved")
    model.save(folder / "good.keras")
    model.save_weights(folder / "good.weights.h5")
    return model, (folder / "good.keras").read_bytes(), \
        (folder / "good.weights.h5").read_bytes()


def _check_refused_or_intact(path, load, model):
    """A damaged file must raise ValueError naming it, or (header-only damage) load intact."""
    try:
        loaded = load(path)
    except ValueError as exc:
        assert path.name in str(exc), str(exc)
        return "refused"
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    return "intact"


def _mutations(data: bytes, seed: int, n: int):
    rng = np.random.default_rng(seed)
    for cut in sorted({0, 1, 7, 100, len(data) // 2, len(data) - 1,
                       *rng.integers(1, len(data), 8).tolist()}):
        yield f"truncated_{cut}", data[:cut]
    for pos in rng.integers(0, len(data), n).tolist():
        mutated = bytearray(data)
        mutated[pos] ^= 1 << int(rng.integers(0, 8))
        yield f"flip_{pos}", bytes(mutated)


def test_mutated_keras_files_are_refused_cleanly(saved, tmp_path):
    model, data, _ = saved
    outcomes = []
    for name, blob in _mutations(data, seed=0, n=40):
        path = tmp_path / f"{name}.keras"
        path.write_bytes(blob)
        outcomes.append(_check_refused_or_intact(path, unrolled.models.load_model, model))
    assert outcomes.count("refused") >= len(outcomes) // 2  # the CRC catches data damage


def test_mutated_weights_files_are_refused_cleanly(saved, tmp_path):
    model, _, data = saved

    def load(path):
        model.load_weights(path)
        return model

    outcomes = []
    for name, blob in _mutations(data, seed=1, n=15):
        path = tmp_path / f"{name}.weights.h5"
        path.write_bytes(blob)
        if name.startswith("flip"):  # unrolled's checksums catch flips in the weights' bytes
            outcomes.append(_check_refused_or_intact(path, load, model))
            continue
        with pytest.raises(ValueError, match=path.name):
            load(path)
    assert "refused" in outcomes


def test_a_flip_in_every_weight_byte_is_refused(saved, tmp_path):
    model, _, data = saved

    def load(path):
        model.load_weights(path)
        return model

    kernels = [w for w in model.get_weights() if np.unique(w).size > 2]  # bytes found once
    assert len(kernels) >= 3
    for i, w in enumerate(kernels):
        pos = data.find(w.tobytes())
        assert pos >= 0 and data.find(w.tobytes(), pos + 1) < 0
        for offset in (0, w.nbytes - 1):
            mutated = bytearray(data)
            mutated[pos + offset] ^= 0x01
            path = tmp_path / f"w{i}_{offset}.weights.h5"
            path.write_bytes(bytes(mutated))
            assert _check_refused_or_intact(path, load, model) == "refused"


def _zip(members: dict) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    return out.getvalue()


FOREIGN = {
    "empty": (b"", "empty"),
    "text": (b"name,value\nlstm,16\n" * 20, "neither a Keras"),
    "other_zip": (_zip({"word/document.xml": b"<w/>"}), "not a Keras model"),
    "bad_json": (_zip({"config.json": b"{not json", "model.weights.h5": b""}), "not valid JSON"),
    "bad_h5": (_zip({"config.json": b"{}", "model.weights.h5": b"xx"}), "Sequential"),
    "h5_garbage": (b"\x89HDF\r\n\x1a\n" + b"\x00" * 64, "not a readable HDF5"),
}


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_foreign_files_are_refused(kind, tmp_path):
    blob, message = FOREIGN[kind]
    path = tmp_path / f"{kind}.keras"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match=message) as info:
        unrolled.models.load_model(path)
    assert path.name in str(info.value)
