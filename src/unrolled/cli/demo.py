"""``unrolled demo``: the seed model on real data, end to end, with an explanation."""

from __future__ import annotations

import time

import numpy as np

EXPLANATION = """\
What is LSTM({u})?
  One recurrent layer of {u} memory cells, each a one-cell "memory block" (Hochreiter &
  Schmidhuber 1997: a block is a group of cells sharing gates): {u} blocks with one cell each,
  not one block with {u} cells. Each cell j has its own input gate i, forget gate f, output gate
  o and candidate c~, and its own slot h[j], c[j] in the hidden and cell state vectors (both of
  size {u}). All {u} cells live in three arrays whose column groups are the gates [i | f | c~ | o]:
    kernel            {kernel}   input features -> 4 x {u} gate pre-activations
    recurrent_kernel  {rk}  previous h     -> 4 x {u} gate pre-activations
    bias              {bias}     one bias per gate per cell (forget block starts at 1.0)
  Column k*{u} + j belongs to gate k of cell j. Parameters: 4*u*(D+u+1) = 4*{u}*({d}+{u}+1)
  = {params:,}. The same weights are applied at each of the {t} time steps; masked (padded)
  steps leave h and c unchanged, so the prediction reads h at each sequence's last real step."""


def add_parser(sub) -> None:
    """Register ``unrolled demo``."""
    p = sub.add_parser(
        "demo",
        help="train the seed model (Masking -> LSTM(16) -> Dense(2) -> sigmoid) on real data",
        description=(
            "Train Masking -> LSTM(16) -> Dense(2) -> sigmoid with binary cross-entropy and "
            "Adam on the bundled ItalyPowerDemand dataset (UCR archive), print the model "
            "summary, the test accuracy and what LSTM(16) means, with its weight shapes."
        ),
    )
    from unrolled.cli.checks import positive_int

    p.add_argument("--epochs", type=positive_int, default=60, help="training epochs (default 60)")
    p.add_argument("--batch-size", type=positive_int, default=16,
                   help="batch size (default 16)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--plots", metavar="DIR", default=None,
                   help="after training, write the architecture, gate heatmaps and gradient "
                        "flow pictures (PNG) to DIR (needs matplotlib)")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                   help="0 silent, 1 progress bar, 2 one line per epoch (as Keras)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Train and report; returns the exit code."""
    from unrolled import datasets, utils
    from unrolled.cli.checks import package, writable_dir
    from unrolled.layers import LSTM, Activation, Dense, Masking
    from unrolled.models import Sequential

    if getattr(args, "plots", None):  # checked before training, not after it
        writable_dir(args.plots, "--plots")
        package("matplotlib", "--plots")
    start = time.perf_counter()
    utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = datasets.load("ItalyPowerDemand", one_hot=True)
    n, t, d = x_train.shape
    print(f"ItalyPowerDemand (UCR archive): {n} training and {len(x_test)} test days, "
          f"{t} hourly readings each, 2 classes (winter vs summer months).\n")

    model = Sequential()
    model.add(Masking(mask_value=0.0, input_shape=(t, d)))
    model.add(LSTM(16, return_sequences=False))
    model.add(Dense(units=2))
    model.add(Activation("sigmoid"))
    # categorical_accuracy is what Keras 3 picks for "accuracy" on a 2-column output; naming
    # it avoids the (deliberate) warning that explains that choice.
    model.compile(loss="binary_crossentropy", optimizer="adam",
                  metrics=["categorical_accuracy"])
    model.summary()
    from unrolled.cli.progress import keras_epoch_lines

    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
              verbose=1 if args.verbose == 1 else 0,
              callbacks=[keras_epoch_lines()] if args.verbose == 2 else [])
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    pred = np.argmax(model.predict(x_test, verbose=0), axis=1)
    print(f"\nTest accuracy: {acc:.4f} ({int((pred == y_test.argmax(1)).sum())}/{len(x_test)} "
          f"days), test loss {loss:.4f}.")
    lstm = model.layers[1]
    u = lstm.units
    print()
    print(EXPLANATION.format(u=u, d=d, t=t, kernel=str(lstm.cell.kernel.shape),
                             rk=str(lstm.cell.recurrent_kernel.shape),
                             bias=str(lstm.cell.bias.shape), params=lstm.count_params()))
    if getattr(args, "plots", None):
        for path in write_plots(model, x_test, y_test, args.plots):
            print(f"wrote {path}")
    print(f"\nDone in {time.perf_counter() - start:.1f} s.")
    return 0


def write_plots(model, x, y, directory) -> list[str]:
    """Write the architecture, gate heatmaps and gradient flow of ``model`` on ``x[:32]``."""
    import os

    from unrolled import inspect
    from unrolled.inspect import plots

    os.makedirs(directory, exist_ok=True)
    paths = [os.path.join(directory, name) for name in (
        "architecture.png", "gates_sample0.png", "units_sample0.png", "gradient_flow.png")]
    x, y = x[:32], y[:32]
    tr = inspect.trace(model, x)
    plots.plot_architecture(model, paths[0])
    plots.plot_gates(tr, 0, paths[1])
    plots.plot_units(tr, 0, path=paths[2])
    plots.plot_gradient_flow(inspect.gradient_flow(model, x, y), paths[3])
    return paths
