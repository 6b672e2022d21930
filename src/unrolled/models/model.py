"""The base `Model`: weights, summary and the stateless forward pass used by training."""

from __future__ import annotations

from unrolled.layers.base import Layer, set_weight_values, shape_str
from unrolled.layers.variables import StatelessScope
from unrolled.ops.compile import jit
from unrolled.training.trainer import Trainer


class Model(Layer, Trainer):
    """A layer graph with Keras's training API; ``Model(inputs, outputs)`` is a functional one."""

    def __new__(cls, *args, **kwargs):
        """Dispatch ``Model(inputs, outputs)`` to the functional model, as Keras does."""
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from unrolled.models.functional import Functional

            return super().__new__(Functional)
        return super().__new__(cls)

    def _forward_layers(self, x, training: bool):
        raise NotImplementedError

    def _stateless_forward(self, tv, ntv, x, training: bool, rng):
        """Pure forward: weight arrays in, ``(y_pred, output_mask, new_non_trainable)`` out.

        ``ntv`` may continue past the non-trainable weights with the values of the stateful
        RNN states (`_state_variables`); their new values then come back in the same places.
        """
        variables = [*self.non_trainable_weights, *_state_variables(self)][: len(ntv)]
        # strict=False: tv and ntv come from the caller and are not length-checked here (the
        # slice above only bounds `variables` by ntv), so keep zip's truncating behaviour.
        mapping = [*zip(self.trainable_weights, tv, strict=False),
                   *zip(variables, ntv, strict=False)]
        with StatelessScope(mapping, rng=rng) as scope:
            y, mask = self._forward_layers(x, training)
        return y, mask, [scope.get(v) for v in variables]

    # Stateful RNN states are not weights (as in Keras), so the jitted steps receive them
    # after the non-trainable weights and write their new values back after each batch.
    def _make_train_fn(self):
        return _with_states(self, super()._make_train_fn(), out_index=1)

    def _make_eval_fn(self):
        return _with_states(self, super()._make_eval_fn(), out_index=None)

    def _make_predict_fn(self):
        states = _state_variables(self)
        if not states:
            return super()._make_predict_fn()
        n = len(self.non_trainable_weights)

        def step(tv, ntv, x):
            y_pred, _, new = self._stateless_forward(tv, ntv, x, False, None)
            return y_pred, new[n:]

        return _with_states(self, jit(step), out_index=0)

    def _rows_are_independent(self) -> bool:
        # Every built-in layer computes each row on its own at inference; a stateful RNN carries
        # rows across batches and a user-defined layer may mix them, so those keep one batch
        # per predict call.
        return not _state_variables(self) and all(
            type(layer).__module__.startswith("unrolled.") for layer in _walk_layers(self))

    def set_weights(self, weights) -> None:
        """Set all weights from a list of arrays in `get_weights` order."""
        self._require_built("set_weights")
        set_weight_values(self.weights, weights, f"model {self.name!r}")

    def get_weights(self):
        """Return all weights as NumPy arrays (the order of `weights`)."""
        return [w.numpy() for w in self.weights]

    def count_params(self) -> int:
        """Total number of scalars in the weights."""
        self._require_built("count_params")
        return super().count_params()

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None) -> None:
        """Print a Keras-style table of layers, output shapes and parameter counts."""
        print_fn = print_fn or print
        widths = [33, 24, 15]
        rows = [(f"{layer.name} ({type(layer).__name__})", shape_str(shape),
                 f"{layer.count_params() if layer.built else 0:,}")
                for layer, shape in self._summary_rows()]

        def line(left, mid, right, fill):
            return left + mid.join(fill * w for w in widths) + right

        def cells(values, sep):
            parts = [f" {values[0]:<{widths[0] - 2}} ", f" {values[1]:<{widths[1] - 2}} ",
                     f" {values[2]:>{widths[2] - 2}} "]
            return sep + sep.join(parts) + sep

        out = [f'Model: "{self.name}"', line("┏", "┳", "┓", "━"),
               cells(("Layer (type)", "Output Shape", "Param #"), "┃"),
               line("┡", "╇", "┩", "━")]
        for i, row in enumerate(rows):
            out.append(cells(row, "│"))
            if i < len(rows) - 1:
                out.append(line("├", "┼", "┤", "─"))
        out.append(line("└", "┴", "┘", "─"))
        trainable = sum(int(w.numpy().size) for w in self.trainable_weights)
        non_trainable = sum(int(w.numpy().size) for w in self.non_trainable_weights)
        out += [f" Total params: {trainable + non_trainable:,} "
                f"({_bytes(4 * (trainable + non_trainable))})",
                f" Trainable params: {trainable:,} ({_bytes(4 * trainable)})",
                f" Non-trainable params: {non_trainable:,} ({_bytes(4 * non_trainable)})"]
        print_fn("\n".join(out))

    def explain(self) -> str:
        """Plain-language account of the model's recurrent layers (see `unrolled.inspect`)."""
        from unrolled.inspect import explain  # lazy: inspect sits above models

        return explain(self)

    def save(self, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
        """Save as a Keras 3 ``.keras`` file (config, weights, optimizer state), atomically."""
        from unrolled.io import keras_format  # lazy: io sits above models

        keras_format.save_model(self, filepath, overwrite=overwrite,
                                include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        """Save the weights as a Keras 3 ``.weights.h5`` file, atomically."""
        from unrolled.io import weights_h5

        weights_h5.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch: bool = False) -> None:
        """Load weights from a ``.weights.h5`` file (or a Keras 2 ``.h5``) into this model."""
        from unrolled.io import weights_h5

        weights_h5.load_weights(self, filepath, skip_mismatch=skip_mismatch)


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"


def _walk_layers(model):
    """Yield every layer of ``model`` once, nested ones (wrapped layers, cells) included."""
    seen = set()

    def walk(layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        yield layer
        for sub in [*layer.__dict__.get("_sublayers", ()), *layer.__dict__.get("_layers", ())]:
            yield from walk(sub)

    for layer in getattr(model, "layers", []):
        yield from walk(layer)


def _state_variables(model) -> list:
    """Return the state variables of every stateful RNN in ``model`` (``[]`` for most)."""
    return [v for layer in _walk_layers(model) for v in layer.__dict__.get("_state_vars", ())]


class _StatefulStep:
    """A jitted step that also reads the stateful RNN states and writes their new values back."""

    def __init__(self, model, jitted, out_index):
        self._states, self._jitted, self._out_index = _state_variables(model), jitted, out_index

    def __call__(self, tv, ntv, *args):
        n = len(ntv)
        out = self._jitted(tv, [*ntv, *(v._value for v in self._states)], *args)
        if self._out_index is None:  # evaluate: states are read, not carried (see report)
            return out
        if self._out_index == 0:  # predict: (y_pred, new_states)
            y_pred, new_states = out
        else:  # train: new_ntv (weights, then states) at out_index
            new_ntv = list(out[self._out_index])
            new_states = new_ntv[n:]
        for var, value in zip(self._states, new_states, strict=True):
            var._value = value
        if self._out_index == 0:
            return y_pred
        return (*out[: self._out_index], new_ntv[:n], *out[self._out_index + 1:])

    def _cache_size(self) -> int:
        return self._jitted._cache_size()


def _with_states(model, jitted, out_index):
    return _StatefulStep(model, jitted, out_index) if _state_variables(model) else jitted
