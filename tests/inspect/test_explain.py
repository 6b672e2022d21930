"""explain() and gate_weights(): the numbers in the text are the model's weights (oracle: the
weight arrays themselves, parsed back out of the text)."""

import re

import numpy as np
import pytest
from inspect_helpers import randomize

from unrolled import inspect, layers, models


def _section(text, name):
    start = text.index(f": {name} (")
    end = text.find("\nLayer ", start)
    return text[start:] if end < 0 else text[start:end]


def _model(kind, units, d, t, **kwargs):
    model = models.Sequential([layers.Input(shape=(t, d)), layers.Masking(0.0),
                               getattr(layers, kind)(units, **kwargs), layers.Dense(2)])
    return model


@pytest.mark.parametrize("kind, units, d, t", [("LSTM", 16, 1, 24), ("LSTM", 10, 30, 5),
                                               ("LSTM", 20, 3, 7), ("GRU", 5, 4, 9),
                                               ("SimpleRNN", 6, 2, 3)])
def test_numbers_in_explain_are_the_weights(kind, units, d, t):
    model = _model(kind, units, d, t)
    layer = model.layers[1]
    text = _section(inspect.explain(model), layer.name)
    assert f"{kind}({units}) is ONE layer of {units} memory cells" in text
    assert f"D = {d} feature(s)" in text and f"T = {t} time steps" in text
    for w in layer.weights:  # shapes as printed == the weight arrays' shapes
        shape = re.search(rf"^\s+{w.name}\s+(\([0-9, ]*\))", text, re.M).group(1)
        assert eval(shape) == w.shape  # noqa: S307 - a tuple literal we printed
    formula, total = re.search(r"Parameters: .*= (\S+) = ([\d,]+)\.", text).groups()
    assert int(total.replace(",", "")) == layer.count_params()
    assert eval(formula) == layer.count_params()  # noqa: S307
    # the column grid: parse it and compare with gate_weights and the bias itself
    cells = [int(v) for v in re.search(r"cell j:(.*)", text).group(1).split() if v != "..."]
    gates = inspect.weights.gate_names(layer)
    rows = re.findall(r"\[(\d+)-(\d+)\]\s+column:(.*)", text)
    assert len(rows) == len(gates)
    for gate, (lo, hi, cols) in zip(gates, rows, strict=False):
        cols = [int(v) for v in cols.split() if v != "..."]
        np.testing.assert_array_equal(inspect.weights.gate_columns(layer, gate),
                                      np.arange(int(lo), int(hi) + 1))
        for j, col in zip(cells, cols, strict=False):
            assert inspect.gate_weights(layer, gate, unit=j).columns.tolist() == [col]
    if kind == "LSTM":  # unit_forget_bias: exactly the columns named as the forget block are 1
        lo, hi, _ = rows[1]
        bias = layer.cell.bias.numpy()
        assert np.all(bias[int(lo):int(hi) + 1] == 1.0)
        assert np.all(np.delete(bias, np.arange(int(lo), int(hi) + 1)) == 0.0)


def test_seed_model_is_said_plainly():
    model = models.Sequential()
    model.add(layers.Masking(mask_value=0.0, input_shape=(24, 1)))
    model.add(layers.LSTM(16))
    model.add(layers.Dense(2))
    model.add(layers.Activation("sigmoid"))
    text = model.explain()
    assert text == inspect.explain(model)
    assert "LSTM(16) is ONE layer of 16 memory cells" in text
    assert "each of the 16 cells has its own input gate, forget gate" in text.lower()
    for shape in ("(1, 64)", "(16, 64)", "(64,)"):
        assert shape in text
    assert "4*16*(1+16+1) = 1,152" in text and "1,186 parameters" in text
    assert "carried over unchanged" in text  # masking
    assert "at steps t = 0, 1, ..., 23 (numbered from 0" in text  # never 1..24
    # "memory block" in the historical sense, and the classic question answered
    assert ("Memory block (Hochreiter & Schmidhuber 1997): a group of memory cells that share "
            "one input gate and one output gate") in text
    assert "each unit is one cell with its own gates" in text
    assert 'LSTM(16) is 16 cells = 16 one-cell memory blocks: "16 blocks with one cell each", ' \
        'not "one block with 16 cells"' in text
    assert "not 16 separate blocks" not in text
    assert "t = 23 when nothing is masked" in text


def test_stacked_layers_say_what_they_read():
    model = models.Sequential([layers.Input(shape=(6, 2)), layers.Masking(0.0),
                               layers.LSTM(4, return_sequences=True), layers.Dropout(0.2),
                               layers.LSTM(3), layers.Dense(1)])
    first, second = model.layers[1], model.layers[3]
    text = inspect.explain(model)
    one, two = _section(text, first.name), _section(text, second.name)
    assert "D = 2 feature(s) per time step" in one
    assert "It reads the model's input x (through 'masking')" in one
    assert "D = 4 values per time step" in two
    assert (f"It reads h_t of layer {first.name!r} (LSTM, 4 cells), its hidden state at every "
            "step (through 'dropout')") in two


def test_gate_weights_slice_the_arrays():
    layer = _model("LSTM", 4, 3, 5).layers[1]
    kernel, rec, bias = layer.get_weights()
    for k, gate in enumerate(["input", "f", "candidate", "output_gate"]):
        w = inspect.gate_weights(layer, gate, unit=2)
        np.testing.assert_array_equal(w.kernel, kernel[:, k * 4 + 2])
        np.testing.assert_array_equal(w.recurrent_kernel, rec[:, k * 4 + 2])
        assert w.bias == bias[k * 4 + 2]
    full = inspect.gate_weights(layer, "forget")
    np.testing.assert_array_equal(full.kernel, kernel[:, 4:8])
    table = inspect.weight_table(layer)
    rows = re.findall(r"^forget gate f\s+(\d+)\s+(\d+)\s+(\S+)", table, re.M)
    assert [(int(j), int(c), float(b)) for j, c, b in rows] == [(j, 4 + j, 1.0) for j in range(4)]


def test_gru_gate_weights_use_the_input_bias():
    model = _model("GRU", 3, 2, 4)
    randomize(model)
    layer = model.layers[1]
    bias = layer.cell.bias.numpy()
    assert inspect.gate_weights(layer, "reset", unit=1).bias == bias[0, 3 + 1]


def test_errors():
    layer = _model("LSTM", 4, 3, 5).layers[1]
    with pytest.raises(ValueError, match="Unknown gate 'update'.*forget_gate"):
        inspect.gate_weights(layer, "update")
    with pytest.raises(IndexError, match="4 cells"):
        inspect.gate_weights(layer, "forget", unit=4)
    with pytest.raises(ValueError, match="Expected an LSTM"):
        inspect.gate_weights(layers.Dense(2), "forget")
    dense = models.Sequential([layers.Input(shape=(4, 2)), layers.Dense(3)])
    with pytest.raises(ValueError, match="no recurrent layer"):
        inspect.explain(dense)
    with pytest.raises(ValueError, match="built model"):
        inspect.explain(models.Sequential([layers.LSTM(2)]))
