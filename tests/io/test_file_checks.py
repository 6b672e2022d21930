"""What is checked on save and load (issue 15): every refusal is an error naming the file, the
layer or the weight. Oracles: the model's own weights and predictions (a refused file leaves no
model; an accepted one loads exactly), onnxruntime vs `predict`, and processes under a memory or
file-size limit that must end with a clean error instead of being killed.
"""

import errno
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from unrolled import layers, models
from unrolled.io import checks, keras_format, preflight, weights_h5

SRC = Path(__file__).resolve().parents[2] / "src"


def _model(units=3):
    return models.Sequential([layers.Input((5, 2)), layers.LSTM(units), layers.Dense(1)])


def _rewrite(path, out, config=None, members=None):
    """Copy the .keras zip ``path`` to ``out``, changing config.json or members."""
    with zipfile.ZipFile(path) as zf:
        data = {n: zf.read(n) for n in zf.namelist()}
    if config is not None:
        cfg = json.loads(data["config.json"])
        config(cfg)
        data["config.json"] = json.dumps(cfg).encode()
    data.update(members or {})
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in data.items():
            zf.writestr(name, blob)
    return out


def _lstm_units(units):
    def edit(cfg):
        for layer in cfg["config"]["layers"]:
            if layer["class_name"] == "LSTM":
                layer["config"]["units"] = units
    return edit


# ------------------------------------------------- 1. config against weights, before building
def test_config_disagreeing_with_weights_is_refused_before_building(tmp_path):
    _model().save(tmp_path / "m.keras")
    path = _rewrite(tmp_path / "m.keras", tmp_path / "huge.keras", _lstm_units(20000))
    with pytest.raises(ValueError, match=r"huge\.keras.*lstm_cell/kernel.*\(2, 80000\).*"
                                         r"\(2, 12\).*not built"):
        models.load_model(path)


def test_missing_layer_weights_are_refused_before_building(tmp_path):
    _model().save(tmp_path / "m.keras")

    def add_layer(cfg):
        extra = json.loads(json.dumps(cfg["config"]["layers"][-1]))
        extra["config"]["name"] = "dense_extra"
        cfg["config"]["layers"].append(extra)

    path = _rewrite(tmp_path / "m.keras", tmp_path / "extra.keras", add_layer)
    with pytest.raises(ValueError, match=r"extra\.keras.*no weights for layer 'dense_extra'"):
        models.load_model(path)


def test_absurd_size_is_refused_with_an_overridable_limit(tmp_path, monkeypatch):
    model = _model()
    model.save(tmp_path / "m.keras")
    monkeypatch.setattr(preflight, "MAX_LOAD_PARAMS", 50)
    with pytest.raises(ValueError, match=r"m\.keras.*76 parameters.*'lstm_cell': 72.*"
                                         r"MAX_LOAD_PARAMS"):
        models.load_model(tmp_path / "m.keras")
    monkeypatch.setenv("UNROLLED_MAX_LOAD_PARAMS", "100")  # the override lets it load
    loaded = models.load_model(tmp_path / "m.keras")
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


_UNDER_MEMORY_LIMIT = textwrap.dedent("""
    import resource, sys, time
    from unrolled import models
    import jax.numpy as jnp
    jnp.zeros(1).block_until_ready()  # start XLA before the limit
    with open("/proc/self/status") as f:
        vm = [int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize")][0]
    resource.setrlimit(resource.RLIMIT_AS, (vm + (1 << 30), vm + (1 << 30)))  # +1 GiB
    start = time.time()
    try:
        models.load_model(sys.argv[1])
    except ValueError as exc:
        print("REFUSED", round(time.time() - start, 2), exc)
""")


def test_mismatch_is_a_clean_quick_error_under_a_memory_limit(tmp_path):
    """LSTM(20000) needs 6.4 GB: building it first would be killed; the check allocates none."""
    _model().save(tmp_path / "m.keras")
    path = _rewrite(tmp_path / "m.keras", tmp_path / "huge.keras", _lstm_units(20000))
    env = {**os.environ, "PYTHONPATH": str(SRC), "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", _UNDER_MEMORY_LIMIT, str(path)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert out.startswith("REFUSED") and "huge.keras" in out and "lstm_cell" in out, out
    assert float(out.split()[1]) < 5.0, out


# ----------------------------------------------------------------- 2. non-finite weights
@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("kind", ["keras", "weights"])
def test_saving_refuses_what_loading_would_refuse(kind, value, tmp_path):
    model = _model()
    weights = [w.copy() for w in model.get_weights()]
    weights[1][0, 2] = value  # the LSTM's recurrent kernel
    model.set_weights(weights)
    path = tmp_path / ("m.keras" if kind == "keras" else "m.weights.h5")
    save = model.save if kind == "keras" else model.save_weights
    with pytest.raises(ValueError, match=r"m\.(keras|weights\.h5).*lstm_cell/recurrent_kernel"
                                         r".*1 NaN or infinite"):
        save(path)
    assert not path.exists() and os.listdir(tmp_path) == []
    # the other direction: such a file, written by other means, is refused on load too
    if kind == "keras":
        path.write_bytes(keras_format.to_bytes(model))
        load = models.load_model
    else:
        with h5py.File(path, "w") as f:
            weights_h5.write_weights(f, model)
        load = model.load_weights
    with pytest.raises(ValueError, match=r"m\.(keras|weights\.h5).*recurrent_kernel.*NaN"):
        load(path)


# ----------------------------------------------------------------------- 3. files
def test_config_inflating_past_the_limit_is_refused_by_its_streamed_size(tmp_path, monkeypatch):
    _model().save(tmp_path / "m.keras")
    monkeypatch.setattr(checks, "MAX_CONFIG_BYTES", 10_000)
    bomb = b"{" + b" " * 200_000 + b"}"  # compresses to ~200 bytes
    path = _rewrite(tmp_path / "m.keras", tmp_path / "bomb.keras",
                    members={"config.json": bomb})
    with pytest.raises(ValueError, match=r"bomb\.keras.*config\.json inflates to more than "
                                         r"10000 bytes.*MAX_CONFIG_BYTES"):
        models.load_model(path)


def test_member_reader_counts_real_bytes_not_the_declared_size(tmp_path):
    blob = b"x" * 50_000
    with zipfile.ZipFile(tmp_path / "z.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", blob)
    with zipfile.ZipFile(tmp_path / "z.zip") as zf:
        assert checks.read_member(zf, "config.json", 50_000, "f") == blob
        zf.getinfo("config.json").file_size = 10  # a header that lies: small, within the limit
        with pytest.raises((ValueError, zipfile.BadZipFile)):  # stops short: the CRC fails
            checks.read_member(zf, "config.json", 1000, "f")
    with zipfile.ZipFile(tmp_path / "z.zip") as zf:
        with pytest.raises(ValueError, match="config.json inflates to more than 49999 bytes"):
            checks.read_member(zf, "config.json", 49_999, "f")


def _flip_inside(data: bytes, array: np.ndarray) -> bytes:
    pos = data.find(array.tobytes())
    assert pos >= 0
    out = bytearray(data)
    out[pos + array.nbytes // 2] ^= 0x10
    return bytes(out)


def test_bit_flip_inside_a_weight_is_refused_naming_it(tmp_path):
    model = _model()
    model.save_weights(tmp_path / "m.weights.h5")
    data = (tmp_path / "m.weights.h5").read_bytes()
    (tmp_path / "flip.weights.h5").write_bytes(_flip_inside(data, model.get_weights()[1]))
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"flip\.weights\.h5.*weight 1 of layer 'lstm_cell'.*"
                                         r"layers/lstm/cell/vars/1.*checksum"):
        model.load_weights(tmp_path / "flip.weights.h5")
    for a, b in zip(model.get_weights(), before, strict=True):  # nothing was assigned
        np.testing.assert_array_equal(a, b)


def test_files_without_checksums_load_and_a_lost_checksum_is_refused(tmp_path):
    model = _model()
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "r+") as f:
        del f["layers/dense/vars/0"].attrs[checks.CHECKSUM_ATTR]
    with pytest.raises(ValueError, match=r"m\.weights\.h5.*weight 0 of layer 'dense'.*lost its "
                                         "checksum"):
        model.load_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "r+") as f:  # as Keras writes it: no checksums
        del f.attrs[checks.MANIFEST_ATTR]
        f.visititems(lambda _, obj: obj.attrs.pop(checks.CHECKSUM_ATTR, None))
    fresh = _model()
    fresh.load_weights(tmp_path / "m.weights.h5")
    for a, b in zip(fresh.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["m.keras", "m.weights.h5"])
def test_disk_full_is_an_oserror_naming_the_file_and_the_old_file_stays(name, tmp_path,
                                                                          monkeypatch):
    model = _model()
    path = tmp_path / name
    save = model.save if name.endswith(".keras") else model.save_weights
    save(path)
    old = path.read_bytes()

    def full(self, data):
        with open(self, "wb") as f:
            f.write(data[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OSError, match=r"No space left on device \(ENOSPC\).*unchanged") as info:
        save(path)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == old and os.listdir(tmp_path) == [name]


_UNDER_FILE_SIZE_LIMIT = textwrap.dedent("""
    import errno, resource, sys
    import numpy as np
    from unrolled import layers, models
    model = models.Sequential([layers.Input((5, 2)), layers.LSTM(16)])
    model.save(sys.argv[1])
    model.set_weights([w + 1 for w in model.get_weights()])
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # smaller than the file
    try:
        model.save(sys.argv[1])
    except OSError as exc:
        print(errno.errorcode[exc.errno], exc.filename, "|", exc)
""")


def test_file_size_limit_during_save_is_a_named_oserror(tmp_path):
    path = tmp_path / "m.keras"
    env = {**os.environ, "PYTHONPATH": str(SRC), "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", _UNDER_FILE_SIZE_LIMIT, str(path)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"EFBIG {path} |"), result.stdout
    assert "File too large" in result.stdout and "unchanged" in result.stdout
    assert os.listdir(tmp_path) == ["m.keras"]
    models.load_model(path)  # the old file, complete


# ------------------------------------------------------------------- 7. Embedding ids
def _embedding_models():
    seq = models.Sequential([layers.Input((4,)), layers.Embedding(5, 2), layers.LSTM(3)])
    ids = layers.Input((4,))
    func = models.Model(ids, layers.LSTM(3)(layers.Embedding(5, 2, name="emb")(ids)))
    return {"sequential": seq, "functional": func}


@pytest.mark.parametrize("kind", ["sequential", "functional"])
@pytest.mark.parametrize("bad", [5, -1])
def test_embedding_ids_out_of_range_are_refused_on_the_host(kind, bad):
    model = _embedding_models()[kind]
    model.compile(loss="mse", optimizer="sgd")
    x = np.array([[1, 2, bad, 0]], np.float32)
    y = np.zeros((1, 3), np.float32)
    message = rf"Embedding '(embedding|emb)' has input_dim=5.*\[0, 4\].*received ids in " \
              rf"\[{min(bad, 0)}, {max(bad, 2)}\]"
    for call in (lambda: model.predict(x, verbose=0), lambda: model.evaluate(x, y, verbose=0),
                 lambda: model.fit(x, y, epochs=1, verbose=0), lambda: model(x)):
        with pytest.raises(ValueError, match=message):
            call()
    assert np.isfinite(model.predict(np.array([[1, 2, 4, 0]]), verbose=0)).all()


# ------------------------------------------------------------------ 8. ONNX and padding
def test_onnx_export_of_a_masking_model_needs_right_padding_stated(tmp_path, rng):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime comes with the test extra")
    from unrolled import convert

    model = models.Sequential([layers.Input((6, 2)), layers.Masking(0.0), layers.LSTM(3)])
    with pytest.raises(ValueError, match=r"'masking'.*RIGHT padding.*assume_right_padding=True"):
        convert.to_onnx(model, tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []
    path = convert.to_onnx(model, tmp_path / "m.onnx", assume_right_padding=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = rng.normal(size=(3, 6, 2)).astype("float32")
    right, left, holes = x.copy(), x.copy(), x.copy()
    right[:, 4:] = 0.0
    left[:, :2] = 0.0
    holes[:, 2:4] = 0.0
    for data, same in ((right, True), (left, False), (holes, False)):
        got = session.run(None, {"x": data})[0]
        want = model.predict(data, verbose=0)
        assert np.allclose(got, want, atol=1e-5) == same  # why right padding must be stated
