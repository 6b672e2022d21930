"""`unrolled.distribution` against `keras.distribution` (oracle 1: real Keras 3 on JAX).

The same constructions give the same layouts, lookups and shardings, and the same inputs are
refused; our extra checks (layouts that do not divide, batch sizes that do not split) raise
messages that say what to do. Meshes over device names that this one-device process lacks are
fine: devices resolve only when a `jax.sharding.Mesh` is needed.
"""

import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import jax
import numpy as np
import pytest

from unrolled import distribution as ud

Var = namedtuple("Var", "path shape")
FOUR = ["cpu:0", "cpu:1", "cpu:2", "cpu:3"]
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(autouse=True)
def no_global_distribution():
    yield
    ud.set_distribution(None)


def test_list_devices_and_count_match_keras(keras):
    assert ud.list_devices() == keras.distribution.list_devices()
    assert ud.list_devices("cpu") == keras.distribution.list_devices("cpu")
    assert ud.get_device_count() == keras.distribution.get_device_count() == len(jax.devices())


@pytest.mark.parametrize("shape, names", [((), ["batch"]), ((4,), []), ((2, 2), ["batch"]),
                                          ((3,), ["batch"])])
def test_bad_meshes_are_refused_as_keras(keras, shape, names):
    with pytest.raises(ValueError):
        keras.distribution.DeviceMesh(shape, names, devices=FOUR)
    with pytest.raises(ValueError, match="(?i)shape|axis_names"):
        ud.DeviceMesh(shape, names, devices=FOUR)


@pytest.mark.parametrize("shape, names, match", [((4, 0), ["a", "b"], "positive"),
                                                 ((2, 2), ["a", "a"], "distinct")])
def test_mesh_checks_beyond_keras(shape, names, match):
    with pytest.raises(ValueError, match=match):
        ud.DeviceMesh(shape, names, devices=FOUR)


def test_unknown_axis_names_are_refused(keras):
    mesh_k = keras.distribution.DeviceMesh((2, 2), ["batch", "model"], devices=FOUR)
    mesh_u = ud.DeviceMesh((2, 2), ["batch", "model"], devices=FOUR)
    with pytest.raises(ValueError):
        keras.distribution.TensorLayout((None, "modle"), mesh_k)
    with pytest.raises(ValueError, match=r"Invalid axis names for Layout: \['modle'\]"):
        ud.TensorLayout((None, "modle"), mesh_u)
    with pytest.raises(ValueError, match="Unknown mesh axis 'x'"):
        mesh_u.axis_size("x")


def _maps(keras):
    mesh_k = keras.distribution.DeviceMesh((2, 2), ["batch", "model"], devices=FOUR)
    mesh_u = ud.DeviceMesh((2, 2), ["batch", "model"], devices=FOUR)
    lk, lu = keras.distribution.LayoutMap(mesh_k), ud.LayoutMap(mesh_u)
    for m in (lk, lu):
        m[".*lstm_cell/kernel"] = (None, "model")
        m[".*lstm_cell/.*kernel"] = ("model", None)  # overlaps the first for .../kernel
        m["sequential/dense/bias"] = ("model",)
    return lk, lu


@pytest.mark.parametrize("path", ["sequential/lstm/lstm_cell/recurrent_kernel",
                                  "sequential/dense/bias", "sequential/dense/kernel",
                                  "sequential/lstm/lstm_cell/bias"])
def test_layout_map_lookup_matches_keras(keras, path):
    lk, lu = _maps(keras)
    got_k, got_u = lk[path], lu[path]
    assert (got_k is None) == (got_u is None)
    if got_k is not None:
        assert got_u.axes == got_k.axes and got_u.device_mesh is lu.device_mesh


def test_layout_map_refuses_ambiguous_duplicate_and_wrong_values(keras):
    lk, lu = _maps(keras)
    with pytest.raises(ValueError):
        lk["sequential/lstm/lstm_cell/kernel"]
    with pytest.raises(ValueError, match="matches multiple layout specification keys"):
        lu["sequential/lstm/lstm_cell/kernel"]
    with pytest.raises(ValueError, match="already exist"):
        lu["sequential/dense/bias"] = ("model",)
    with pytest.raises(ValueError, match="should be a TensorLayout"):
        lu["x"] = "model"
    assert len(lu) == 3 and list(lu)[0] == ".*lstm_cell/kernel"
    del lu[".*lstm_cell/kernel"]
    assert lu["sequential/lstm/lstm_cell/kernel"].axes == ("model", None)


def test_data_parallel_layouts_match_keras(keras):
    dk = keras.distribution.DataParallel(devices=FOUR)
    du = ud.DataParallel(devices=FOUR)
    assert du.batch_dim_name == dk.batch_dim_name == "batch"
    assert du.num_model_replicas == dk.num_model_replicas == 4
    assert du.get_data_layout((8, 5, 3)).axes == dk.get_data_layout((8, 5, 3)).axes
    var = Var("sequential/lstm/lstm_cell/kernel", (3, 32))
    assert du.get_variable_layout(var).axes == dk.get_variable_layout(var).axes == (None, None)
    assert du.get_tensor_layout("x") is dk.get_tensor_layout("x") is None
    with pytest.raises(ValueError, match="DeviceMesh"):
        ud.DataParallel(device_mesh="cpu:0")


def test_model_parallel_layouts_match_keras(keras):
    lk, lu = _maps(keras)
    del lk[".*lstm_cell/.*kernel"], lu[".*lstm_cell/.*kernel"]
    mk = keras.distribution.ModelParallel(layout_map=lk, batch_dim_name="batch")
    mu = ud.ModelParallel(layout_map=lu, batch_dim_name="batch")
    assert mu.num_model_replicas == mk.num_model_replicas == 2
    for var in (Var("sequential/lstm/lstm_cell/kernel", (3, 32)),
                Var("sequential/lstm/lstm_cell/recurrent_kernel", (8, 32))):
        assert mu.get_variable_layout(var).axes == mk.get_variable_layout(var).axes
    with pytest.raises(ValueError, match="layout_map"):
        ud.ModelParallel()
    with pytest.raises(ValueError, match="LayoutMap"):
        ud.ModelParallel(layout_map={})
    with pytest.raises(ValueError, match="'rows' is not an axis"):
        ud.ModelParallel(layout_map=lu, batch_dim_name="rows")


def test_shardings_refuse_layouts_that_do_not_fit():
    mesh = ud.DeviceMesh((1, 4), ["batch", "model"], devices=FOUR)
    layout_map = ud.LayoutMap(mesh)
    layout_map[".*kernel"] = (None, "model")
    mp = ud.ModelParallel(layout_map=layout_map)
    with pytest.raises(ValueError, match=r"'seq/lstm_cell/kernel'.*divisible by 4"):
        ud.variable_shardings(mp, [Var("seq/lstm_cell/kernel", (3, 30))])
    with pytest.raises(ValueError, match=r"2 entries but variable 'seq/bias_kernel'"):
        ud.variable_shardings(mp, [Var("seq/bias_kernel", (30,))])
    dp = ud.DataParallel(devices=FOUR)
    with pytest.raises(ValueError, match="batch_size that is a multiple of 4"):
        ud.data_sharding(dp, (10, 5, 3))


def test_shardings_on_one_device_are_jax_named_shardings(keras):
    dk = keras.distribution.DataParallel(devices=["cpu:0"])
    du = ud.DataParallel(devices=["cpu:0"])
    got = ud.data_sharding(du, (4, 5, 3))
    want = dk.get_data_layout((4, 5, 3)).backend_layout
    assert got.spec == want.spec and got.mesh.devices.tolist() == want.mesh.devices.tolist()
    (sh,) = ud.variable_shardings(du, [Var("k", (3, 8))])
    assert sh.spec == jax.sharding.PartitionSpec(None, None)


def test_one_process_reads_every_row_and_global_batches_hold_them():
    du = ud.DataParallel(devices=["cpu:0"])
    assert ud.local_rows(du, 8) == slice(0, 8) and ud.dataset_shard(du) == (0, 1)
    x = np.arange(48, dtype="float32").reshape(12, 4)
    gx, gy = ud.global_batch_from_arrays(du, (x, -x), 4, 8)
    np.testing.assert_array_equal(ud.to_numpy(gx), x[4:12])
    np.testing.assert_array_equal(ud.to_numpy(gy), -x[4:12])
    placed = ud.distribute_variables(du, [x], ud.variable_shardings(du, [Var("w", x.shape)]))
    np.testing.assert_array_equal(ud.to_numpy(placed[0]), x)
    assert ud.global_max(3) == 3


def test_optimizer_state_shardings_follow_the_variables():
    import optax

    du = ud.DataParallel(devices=["cpu:0"])
    params = [np.ones((3, 4), "float32"), np.ones((4,), "float32")]
    shardings = ud.variable_shardings(du, [Var("a", (3, 4)), Var("b", (4,))])
    state = jax.eval_shape(optax.adam(1e-3).init, params)
    got = ud.state_shardings(du, state, params, shardings)
    assert got[0].mu == shardings and got[0].nu == shardings
    assert got[0].count == ud.replicated(du)


def test_distribute_tensor_eager_and_under_jit():
    du = ud.DataParallel(devices=["cpu:0"])
    layout = du.get_data_layout((4, 2))
    x = np.arange(8.0, dtype="float32").reshape(4, 2)
    y = ud.distribute_tensor(x, layout)
    assert y.sharding == layout.backend_layout
    z = jax.jit(lambda a: ud.distribute_tensor(a * 2, layout))(y)
    np.testing.assert_array_equal(np.asarray(z), 2 * x)


def test_set_distribution_and_scope_restore_the_previous_one(keras):
    du, other = ud.DataParallel(devices=["cpu:0"]), ud.DataParallel(devices=["cpu:0"])
    assert ud.distribution() is None
    ud.set_distribution(du)
    with other.scope():
        assert ud.distribution() is other
    assert ud.distribution() is du
    with pytest.raises(ValueError, match="Expected a Distribution"):
        ud.set_distribution("data_parallel")


def test_initialize_refuses_inconsistent_arguments_before_starting_jax():
    with pytest.raises(ValueError, match="has 2 jobs, but num_processes is 3"):
        ud.initialize("127.0.0.1:1,127.0.0.1:2", num_processes=3, process_id=0)
    with pytest.raises(ValueError, match=r"process_id must be in \[0, 2\)"):
        ud.initialize("127.0.0.1:1", num_processes=2, process_id=2)


def test_importing_unrolled_leaves_the_xla_backend_unstarted():
    # jax.distributed.initialize refuses to run once a backend exists, so `import unrolled`
    # followed by `unrolled.distribution.initialize(...)` needs the import to start none.
    code = ("import unrolled, jax._src.xla_bridge as xb; assert not xb._backends, xb._backends;"
            "from unrolled import layers, models; assert not xb._backends; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={"PYTHONPATH": str(SRC), "JAX_PLATFORMS": "cpu",
                                           "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_a_models_weights_get_the_layouts_keras_gives_the_same_model(keras):
    from unrolled import layers, models

    ours = models.Sequential([layers.Input((5, 3)), layers.LSTM(8), layers.Dense(2)])
    theirs = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(8), keras.layers.Dense(2)])
    maps = []
    for lib in (ud, keras.distribution):
        mesh = lib.DeviceMesh((2, 2), ["batch", "model"], devices=FOUR)
        layout_map = lib.LayoutMap(mesh)
        layout_map[".*lstm_cell/kernel"] = (None, "model")
        layout_map[".*dense/kernel"] = ("model", None)
        maps.append(lib.ModelParallel(layout_map=layout_map))
    got = [(v.path, maps[0].get_variable_layout(v).axes) for v in ours.weights]
    want = [(v.path, maps[1].get_variable_layout(v).axes) for v in theirs.weights]
    assert got == want
    assert ("sequential/lstm/lstm_cell/kernel", (None, "model")) in got
