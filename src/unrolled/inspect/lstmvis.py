"""Export hidden and cell states for LSTMVis (Strobelt et al., http://lstm.seas.harvard.edu).

LSTMVis reads a project directory holding ``lstm.yml`` (the config), an HDF5 file of states with
one row per token, ``(N_tokens, u)`` datasets named in the config (here ``states<k>`` for the
cell state and ``output<k>`` for the hidden state of recurrent layer ``k``), an HDF5 file with
the token id of each row (dataset ``word_ids``, ``(N_tokens,)``) and a ``.dict`` file mapping
each token to its id, one ``token id`` pair per line. Sequences are concatenated in batch order,
masked (padding) steps left out. Writes HDF5 with h5py (a dependency).
"""

from __future__ import annotations

import os

import numpy as np

from unrolled.inspect._common import check_inputs, kind_of, model_layers
from unrolled.inspect.trace import trace as run_trace


def _tokens(x: np.ndarray, keep: np.ndarray, bins: int) -> list[str]:
    """Default tokens: the first feature's value, rounded to ``bins`` levels across the data."""
    values = x[..., 0][keep]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    step = (hi - lo) / max(bins - 1, 1) or 1.0
    return [f"{lo + round((v - lo) / step) * step:.3g}" for v in values]


def export_lstmvis(model, x, directory, tokens=None, bins: int = 10,
                   name: str = "unrolled model") -> dict[str, str]:
    """Write the states of every LSTM/GRU/SimpleRNN layer of ``model`` on ``x`` for LSTMVis.

    Args:
        model: a `Sequential` model with recurrent layers.
        x: inputs ``(B, T, F)``.
        directory: the LSTMVis project directory to create (files are overwritten).
        tokens: optional ``(B, T)`` strings naming each step (e.g. words); default: the first
            feature's value, rounded to ``bins`` levels. Must not contain whitespace.
        bins: levels of the default tokens.
        name: project name shown by LSTMVis.

    Returns:
        Paths written: ``{"config", "states", "words", "dict"}``.

    Raises:
        ImportError: without h5py. ValueError: without recurrent layers or for bad tokens.

    """
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py ships with the test extra
        raise ImportError("LSTMVis export writes HDF5 and needs h5py: pip install h5py.") from exc
    arr = check_inputs(model, x)
    layers = [lay for lay in model_layers(model) if kind_of(lay) not in (None, "Bidirectional")]
    if not layers:
        raise ValueError("The model has no LSTM, GRU or SimpleRNN layer whose states LSTMVis "
                         "could show (Bidirectional layers are not exported).")
    traces = [run_trace(model, arr, lay) for lay in layers]
    for tr in traces:
        if tr.go_backwards:  # back to input order so rows line up with tokens
            for key in tr.states:
                tr.states[key] = tr.states[key][:, ::-1]
    first = traces[0]
    keep = first.mask[:, ::-1] if first.go_backwards else first.mask
    if tokens is None:
        words = _tokens(arr, keep, bins)
    else:
        tok = np.asarray(tokens, dtype=object)
        if tok.shape != keep.shape:
            raise ValueError(f"tokens must have shape (batch, timesteps) = {keep.shape}; "
                             f"received {tok.shape}.")
        words = [str(w) for w in tok[keep]]
        bad = [w for w in words if not w or any(c.isspace() for c in w)]
        if bad:
            raise ValueError(f"LSTMVis tokens must be non-empty and contain no whitespace; "
                             f"received {bad[:3]!r}.")
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    os.makedirs(directory, exist_ok=True)
    paths = {k: os.path.join(directory, f) for k, f in (
        ("config", "lstm.yml"), ("states", "states.hdf5"), ("words", "words.hdf5"),
        ("dict", "words.dict"))}
    types = []
    with h5py.File(paths["states"], "w") as f:
        for k, tr in enumerate(traces, start=1):
            f.create_dataset(f"output{k}", data=tr.states["hidden"][keep].astype(np.float32))
            types.append(f"    - {{type: output, layer: {k}, path: output{k}}}")
            if "cell" in tr.states:
                f.create_dataset(f"states{k}", data=tr.states["cell"][keep].astype(np.float32))
                types.append(f"    - {{type: state, layer: {k}, path: states{k}}}")
    samples, steps = np.nonzero(keep)
    with h5py.File(paths["words"], "w") as f:
        f.create_dataset("word_ids", data=np.array([vocab[w] for w in words], np.int64))
        f.create_dataset("sample", data=samples.astype(np.int64))
        f.create_dataset("time_step", data=steps.astype(np.int64))
    with open(paths["dict"], "w", encoding="utf-8") as f:
        f.writelines(f"{w} {i}\n" for w, i in vocab.items())
    config = [f"name: {name}", "description: hidden (output) and cell (state) states exported "
              "by unrolled", "", "files:", "  states: states.hdf5", "  words: words.hdf5",
              "  dict: words.dict", "", "word_sequence:", "  file: words", "  path: word_ids",
              "  dict_file: dict", "", "states:", "  file: states", "  types:",
              *types, ""]
    with open(paths["config"], "w", encoding="utf-8") as f:
        f.write("\n".join(config))
    return paths
