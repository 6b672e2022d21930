"""The base `Model`: weights, summary and the stateless forward pass used by training."""

from __future__ import annotations

from unrolled.layers.base import Layer, set_weight_values, shape_str
from unrolled.layers.variables import StatelessScope
from unrolled.training.trainer import Trainer


class Model(Layer, Trainer):
    """A layer graph with Keras's training API (`Sequential` is the one available today)."""

    def _forward_layers(self, x, training: bool):
        raise NotImplementedError

    def _stateless_forward(self, tv, ntv, x, training: bool, rng):
        """Pure forward: weight arrays in, ``(y_pred, output_mask, new_non_trainable)`` out."""
        mapping = [*zip(self.trainable_weights, tv), *zip(self.non_trainable_weights, ntv)]
        with StatelessScope(mapping, rng=rng) as scope:
            y, mask = self._forward_layers(x, training)
        return y, mask, [scope.get(v) for v in self.non_trainable_weights]

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


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"
