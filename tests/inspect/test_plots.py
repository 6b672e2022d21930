"""Pictures: files are written, and the figure objects name the right layers, cells, gates and
shapes (read back from matplotlib's artists); LSTMVis export read back with h5py."""

import os
import sys

import h5py
import numpy as np
import pytest
from inspect_helpers import masked_batch, randomize

from unrolled import inspect, layers, models
from unrolled.inspect import plots


@pytest.fixture(scope="module")
def case(clear_sessions):
    clear_sessions()  # module fixtures run before the per-test reset: start names at lstm
    model = models.Sequential([layers.Input(shape=(6, 2)), layers.Masking(0.0),
                               layers.LSTM(4, return_sequences=True), layers.LSTM(3),
                               layers.Dense(1, activation="sigmoid")])
    randomize(model)
    x = masked_batch(np.random.default_rng(1), 3, 6, 2)
    return model, x, inspect.trace(model, x)


def texts(fig):
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts] + [ax.get_title(), ax.get_title("left"),
                                                   ax.get_xlabel(), ax.get_ylabel()]
        legend = ax.get_legend()
        if legend is not None:
            out += [t.get_text() for t in legend.get_texts()]
    return "\n".join(out)


def test_architecture_names_layers_cells_gates_and_shapes(case, tmp_path):
    model, _, _ = case
    path = tmp_path / "arch.svg"
    text = texts(plots.plot_architecture(model, path))
    assert path.read_text().lstrip().startswith("<?xml")
    for expected in ("lstm (LSTM, 4 cells)", "output (None, 6, 4)", "lstm_1 (LSTM, 3 cells)",
                     "dense (Dense)", "shape (None, 6, 2)", "T = 6 steps", "same layer of 4 cells",
                     "kernel (2, 16)", "recurrent_kernel (4, 16)", "bias (16,)", "LSTM layer, t=0",
                     "LSTM layer, t=5", "numbered t = 0 .. 5", "x_0 (2 features)", "h_0 (4)",
                     "h, c: 4 slots", "112 params"):  # 4*4*(2+4+1)
        assert expected in text, expected
    for gate in ("i\n(4)", "f\n(4)", "c~\n(4)", "o\n(4)"):
        assert gate in text


def test_architecture_of_the_second_layer(case):
    model, _, _ = case
    fig = plots.plot_architecture(model, layer="lstm_1")
    text = texts(fig)
    # layer 2 reads layer 1's h (4 values per step), not the model's 2 features
    assert "h_0 of lstm (4)" in text and "h_5 of lstm (4)" in text and "x_0" not in text
    assert "h at every step" in text and "only the last h" in text  # the layer-list arrows
    right = fig.axes[1]
    unused = [t.get_text() for t in right.texts if t.get_gid() == "unused h"]
    used = [t for t in right.texts if t.get_gid() == "used h"]
    # return_sequences=False: only h_5 is the layer's output, the others drawn as unused
    assert [u.split()[0] for u in unused] == ["h_0", "h_1", "h_2"]
    assert len(used) == 1 and used[0].get_text().startswith("h_5 (3)")
    assert used[0].get_color() != right.texts[[t.get_gid() for t in right.texts].index(
        "unused h")].get_color()
    first = texts(plots.plot_architecture(model, layer="lstm"))
    assert "not output" not in first  # return_sequences=True: every h is passed on


def test_gate_heatmaps(case, tmp_path):
    _, _, tr = case
    path = tmp_path / "gates.png"
    fig = plots.plot_gates(tr, sample=2, path=path)
    assert path.read_bytes()[:4] == b"\x89PNG"
    text = texts(fig)
    for title in ("input gate i", "forget gate f", "candidate c~", "output gate o",
                  "hidden state h", "cell state c"):
        assert title in text
    assert "sample 2, 4 cells x 6 time steps" in text and "time step t (from 0 to 5)" in text
    images = [ax.images[0] for ax in fig.axes if ax.images]
    np.testing.assert_array_equal(images[1].get_array(), tr.forget_gate[2].T)
    assert images[0].get_clim() == (0.0, 1.0) and images[0].get_cmap().name == "viridis"
    assert images[4].get_cmap().name == "RdBu_r"


def test_time_axes_count_from_zero(case):
    model, x, tr = case
    flow = inspect.gradient_flow(model, x, np.ones((3, 1), "float32"),
                                 loss="binary_crossentropy")
    for fig in (plots.plot_gates(tr), plots.plot_units(tr), plots.plot_gradient_flow(flow)):
        ax = next(a for a in fig.axes if a.get_xlabel().startswith("time step"))
        assert "from 0 to 5" in ax.get_xlabel()
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        assert ticks[0] == "0" and ticks[-1] == "5", ticks
        assert ax.get_xlim()[0] < 0 < ax.get_xlim()[1]


def test_gates_show_input_prediction_and_the_one_used_h(case):
    model, x, _ = case
    second = inspect.trace(model, x, layer="lstm_1")  # return_sequences=False
    fig = plots.plot_gates(second, sample=0)
    text = texts(fig)
    # the input series above: layer 2 reads layer 1's h, and it is drawn value for value
    assert "input of lstm_1: h_t of layer 'lstm' (LSTM, 4 cells)" in text
    top = fig.axes[0]
    np.testing.assert_array_equal(top.lines[2].get_ydata(), second.inputs[0, :, 2])
    first = model.layers[1]
    np.testing.assert_array_equal(second.inputs, inspect.trace(model, x, layer=first).hidden)
    # the prediction beside the heatmaps: the model's own output for the sample
    pred = next(ax for ax in fig.axes if ax.get_title() == "prediction, sample 0")
    np.testing.assert_allclose([b.get_width() for b in pred.patches],
                               model.predict(x, verbose=0)[0], rtol=1e-6)
    assert "computed from h at t=3" in pred.get_xlabel()  # sample 0: steps 4, 5 are padding
    # return_sequences=False: the used h outlined, every other unmasked step hatched
    hidden = next(ax for ax in fig.axes if ax.get_title(loc="left").startswith("hidden state"))
    gids = [(p.get_gid(), p.get_x() + 0.5) for p in hidden.patches if p.get_gid()]
    assert ("used h", 3.0) in gids
    assert sorted(x for g, x in gids if g == "unused h") == [0.0, 1.0, 2.0]
    assert "only h at t=3" in hidden.get_title(loc="left")
    units = plots.plot_units(second, sample=0)
    assert [a.get_gid() for a in units.axes[0].patches if a.get_gid()] == ["unused h"]
    # return_sequences=True: every h leaves the layer, nothing is marked unused
    one = plots.plot_gates(inspect.trace(model, x, layer="lstm"), sample=0)
    assert not [p for ax in one.axes for p in ax.patches if p.get_gid() == "unused h"]


def test_units_and_gradient_flow(case, tmp_path):
    model, x, tr = case
    fig = plots.plot_units(tr, sample=0, units=[0, 3], path=tmp_path / "u.png")
    assert "cell 0" in texts(fig) and "cell 3" in texts(fig)
    flow = inspect.gradient_flow(model, x, np.ones((3, 1), "float32"),
                                 loss="binary_crossentropy", layer="lstm_1")
    fig = plots.plot_gradient_flow(flow, tmp_path / "g.png")
    text = texts(fig)
    # the curves say what they measure: which gradient, which norm, which loss
    assert "|dL/dh_t|  (hidden state)" in text and "|dL/dc_t|  (cell state)" in text
    assert "|dL/dz_f,t|  (forget gate pre-activation)" in text
    ax = fig.axes[0]
    assert "norm over the batch (B = 3)\nand the 3 units" in ax.get_ylabel()
    assert "Gradient flow through lstm_1" in text and "L = binary_crossentropy" in text
    curve = next(line for line in ax.lines if line.get_label().startswith("|dL/dc_t|"))
    expected = np.sqrt((flow.states["cell"] ** 2).sum(axis=(0, 2)))  # over batch and units
    drawn = np.asarray(curve.get_ydata())
    np.testing.assert_allclose(drawn[expected > 0], expected[expected > 0], rtol=1e-6)
    assert os.path.getsize(tmp_path / "g.png") > 10_000


def test_cell_diagram_has_this_models_sizes(case, tmp_path):
    model, _, _ = case
    path = tmp_path / "cell.png"
    text = texts(plots.plot_cell(model, path))
    assert path.read_bytes()[:4] == b"\x89PNG"
    for expected in ("c_t = f · c_(t-1) + i · g", "h_t = o · tanh(c_t)", "f · c_(t-1)", "i · g",
                     "f  (σ)\nforget gate", "i  (σ)\ninput gate", "g  (tanh)\ncandidate c~",
                     "o  (σ)\noutput gate", "Inside one cell j of lstm (LSTM(4): 4 such cells",
                     "x_t: D = 2 features", "h_(t-1): all 4 cells'", "(D, 4u) = (2, 16)",
                     "(u, 4u) = (4, 16)", "(4u,)   = (16,)", "i 0-3 | f 4-7 | g 8-11 | o 12-15",
                     "col 4+j", "= 4*4*(2+4+1) = 112", "4 one-cell memory blocks"):
        assert expected in text, expected
    # the second layer reads the first layer's h: its sizes and its input are its own
    second = texts(plots.plot_cell(model, layer="lstm_1"))
    for expected in ("x_t = h_t of lstm: D = 4 values", "(D, 4u) = (4, 12)", "(u, 4u) = (3, 12)",
                     "input: h_t of layer 'lstm' (LSTM, 4 cells)", "= 4*3*(4+3+1) = 96"):
        assert expected in second, expected
    gru = models.Sequential([layers.Input(shape=(4, 2)), layers.GRU(3)])
    with pytest.raises(ValueError, match="plot_cell draws an LSTM cell; 'gru' is GRU"):
        plots.plot_cell(gru)


def test_plot_errors(case, monkeypatch, tmp_path):
    _, _, tr = case
    with pytest.raises(ValueError, match="PNG or SVG"):
        plots.plot_gates(tr, path=tmp_path / "gates.jpg")
    with pytest.raises(IndexError, match="sample=5 is out of range"):
        plots.plot_gates(tr, sample=5)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install unrolled\[plot\]"):
        plots.plot_gates(tr)


def test_lstmvis_export(case, tmp_path):
    model, x, _ = case
    paths = inspect.export_lstmvis(model, x, tmp_path / "vis")
    keep = x.any(-1)
    second = inspect.trace(model, x, layer="lstm_1")
    with h5py.File(paths["states"]) as f:
        assert f["states2"].shape == (int(keep.sum()), 3)
        np.testing.assert_array_equal(f["output2"][...], second.hidden[keep])
        np.testing.assert_array_equal(f["states2"][...], second.cell[keep])
    with h5py.File(paths["words"]) as f:
        ids = f["word_ids"][...]
        np.testing.assert_array_equal(f["sample"][...], np.nonzero(keep)[0])
    with open(paths["dict"]) as f:
        vocab = dict(line.split() for line in f)
    assert len(ids) == keep.sum() and set(ids) == {int(v) for v in vocab.values()}
    with open(paths["config"]) as f:
        config = f.read()
    for line in ("  states: states.hdf5", "  path: word_ids", "  dict_file: dict",
                 "- {type: state, layer: 2, path: states2}"):
        assert line in config
    with pytest.raises(ValueError, match="whitespace"):
        inspect.export_lstmvis(model, x, tmp_path / "v2", tokens=np.full(keep.shape, "a b"))
