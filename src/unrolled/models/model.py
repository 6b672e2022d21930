"""The base `Model`: weights, summary, and Keras's training API on training's parts.

A model's only contract with `unrolled.training` is `Model._training_spec`: its pure forward
`Model._stateless_forward` and plain data about itself (`training.spec.ModelSpec`). `compile`
builds a `training.Trainer` from the compiled loss, metrics and optimizer; `fit`, `evaluate`
and the other public methods hand it the model and return its results.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp

from unrolled.layers import tracking
from unrolled.layers.base import Layer, _accepted, set_weight_values, shape_str
from unrolled.layers.core import InputLayer, Masking
from unrolled.layers.variables import StatelessScope
from unrolled.models.jax_trainer import JaxTrainerFace
from unrolled.training import optimizers as optimizers_module
from unrolled.training import streaming
from unrolled.training.compile_utils import CompileLoss, CompileMetrics
from unrolled.training.data import num_samples
from unrolled.training.predict import Predictor
from unrolled.training.spec import ModelSpec
from unrolled.training.trainer import Trainer


class Model(JaxTrainerFace, Layer):
    """A layer graph with Keras's training API; ``Model(inputs, outputs)`` is a functional one."""

    compiled = False
    _trainer: Trainer | None = None
    _predictor: Predictor | None = None

    def __new__(cls, *args, **kwargs):
        """Dispatch ``Model(inputs, outputs)`` to the functional model, as Keras does."""
        if args or "inputs" in kwargs or "outputs" in kwargs:
            from unrolled.models.functional import Functional

            if cls is Model:
                return super().__new__(Functional)
            if not issubclass(cls, Functional) and (
                    len(args) == 2 or (len(args) == 1 and "outputs" in kwargs)
                    or ("inputs" in kwargs and "outputs" in kwargs)):
                # a subclass built functionally (Keras's JAX guides: CustomModel(inputs,
                # outputs)) becomes a functional model keeping the subclass's methods
                return super().__new__(_functional_subclass(cls, Functional))
        return super().__new__(cls)

    # ------------------------------------------------------- a subclassed model
    # A user's ``class Net(Model)`` with ``call``: its layers are the tracked attributes, it
    # builds by running ``call`` once, and its forward is ``call`` (one output, no mask).
    @property
    def layers(self) -> list:
        """The layers assigned as attributes (Keras's ``Model.layers`` of a subclassed model)."""
        return tracking.sublayers(self)

    def build(self, input_shape=None) -> None:
        """Build a subclassed model by running its ``call`` once on zeros of ``input_shape``."""
        if self.built:
            return
        if input_shape is None:
            raise ValueError(f"Model {self.name!r} needs an input shape to build, e.g. "
                             "model.build((None, 24, 1)).")
        self._build_shape = input_shape
        self._build_by_run(input_shape)  # inside the name scope `Layer`'s build wrapper opens

    def _forward_layers(self, x, training: bool):
        y = self.call(x, **_accepted(self, {"training": training}))
        return y, (None if not isinstance(y, (list, tuple)) else [None] * len(y))

    def _summary_rows(self):
        return [(layer, layer.__dict__.get("_first_output_shape", ("?",)))
                for layer in self.layers]

    def _input_specs_subclassed(self) -> list:
        shape = self.__dict__.get("_build_shape")
        return [] if shape is None or isinstance(shape, list) else [("input", tuple(shape))]

    # ------------------------------------------------- the contract with training
    def _stateless_forward(self, tv, ntv, x, training: bool, rng, return_losses: bool = False):
        """Run the pure forward: ``(tv, ntv, x, training, rng) -> (y, mask, new ntv)``.

        ``ntv`` holds the non-trainable weights' values, then (where the model has stateful
        RNNs) the states' values; their new values come back in the same places (see
        `training.spec`). With ``return_losses`` a fourth result is the sum of the model's
        losses (`Layer.losses` evaluated on ``tv``), each a scalar: an empty list for none.
        """
        variables = [*self.non_trainable_weights, *_state_variables(self)][: len(ntv)]
        # strict=False: tv and ntv come from the caller and are not length-checked here (the
        # slice above only bounds `variables` by ntv), so keep zip's truncating behaviour.
        mapping = [*zip(self.trainable_weights, tv, strict=False),
                   *zip(variables, ntv, strict=False)]
        if return_losses:
            for layer in [self, *tracking.all_sublayers(self)]:
                layer.__dict__.get("_loss_ids", set()).clear()
        with StatelessScope(mapping, rng=rng, collect_losses=return_losses) as scope, \
                tracking.outer_call(None):
            y, mask = self._forward_layers(x, training)
            added = _added_losses(self.losses) if return_losses else None
            if scope.losses:  # losses added in a call: a function of the batch's rows
                self.__dict__["_row_losses_seen"] = True
        new_ntv = [scope.get(v) for v in variables]
        return (y, mask, new_ntv, added) if return_losses else (y, mask, new_ntv)

    def _training_spec(self) -> ModelSpec:
        """Return what training needs: the pure forward and plain data (`ModelSpec`)."""
        states = _state_variables(self)
        return ModelSpec(
            forward=self._stateless_forward, name=self.name,
            trainable=self.trainable_weights,
            non_trainable=[*self.non_trainable_weights, *states], n_states=len(states),
            inputs=self._input_specs(), multi_input=len(self._input_specs()) > 1,
            output_names=self._output_names(), output_shapes=self._output_shape_list(),
            multi_output=self._has_output_list(), rows_independent=self._rows_are_independent(),
            input_checks=tuple(self._input_checks()), mask_value=self._leading_mask_value(),
            loss_forward=functools.partial(self._stateless_forward, return_losses=True),
            constraints=tuple((i, w.constraint) for i, w in enumerate(self.trainable_weights)
                              if w.constraint is not None),
            row_losses=self._row_losses)

    def _row_losses(self) -> bool:
        """Whether added losses depend on the batch's rows (see `training.spec.ModelSpec`)."""
        return self.__dict__.get("_row_losses_seen", False) or any(
            layer.__dict__.get("activity_regularizer") is not None
            for layer in [self, *tracking.all_sublayers(self)])

    def _input_specs(self) -> list:
        """``(name, batch shape)`` of each input (empty while unknown)."""
        return self._input_specs_subclassed()

    def _input_checks(self) -> list:
        """``(input index, check(array, what))`` pairs run on the host before any step."""
        return []

    def _leading_mask_value(self) -> float | None:
        """Return the mask value of a `Masking` layer taking the (only) input first, or None."""
        first = [la for la in getattr(self, "layers", []) if not isinstance(la, InputLayer)][:1]
        if len(self._input_specs()) > 1 or not first or not isinstance(first[0], Masking):
            return None
        return float(first[0].mask_value)

    def _output_names(self) -> list[str]:
        return ["output_0"]

    def _output_shape_list(self) -> list:
        return [None]  # traced from the data (`training.data.output_shapes`)

    def _has_output_list(self) -> bool:
        return False

    def _rows_are_independent(self) -> bool:
        # Every built-in layer computes each row on its own at inference; a stateful RNN carries
        # rows across batches and a user-defined layer may mix them, so those keep one batch
        # per predict call.
        return not _state_variables(self) and type(self).__module__.startswith("unrolled.") \
            and all(
            type(layer).__module__.startswith("unrolled.") for layer in _walk_layers(self))

    # --------------------------------------------------------------- training API
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True) -> None:
        """Configure training: optimizer, loss and metrics (strings or objects).

        Args:
            optimizer: name (``"adam"``) or `unrolled.optimizers.Optimizer`.
            loss: name (``"binary_crossentropy"``), `unrolled.losses.Loss` or function; with
                several outputs one for all, a list (one per output, None for none) or a dict
                by output name (`unrolled.training.compile_utils`).
            metrics: list of names (``["accuracy"]``), `Metric` objects or functions; with
                several outputs a list with one entry per output or a dict by output name.
            loss_weights: a weight per output (list or dict; a float for one output); the
                training loss is ``sum(loss_weight_k * loss_k)``.
            weighted_metrics: not supported yet (must be None).
            run_eagerly: accepted for Keras compatibility; steps always run compiled.
            steps_per_execution: accepted for Keras compatibility; `fit` dispatches one batch
                per step (its host loop costs ~6% at the smallest benchmark size), `predict`
                groups batches itself (`training.predict.PREDICT_ROWS`).
            jit_compile: accepted for Keras compatibility; steps are always jitted.
            auto_scale_loss: accepted for Keras compatibility (no mixed precision here).

        Raises:
            ValueError: for unknown names or per-output entries that do not fit the outputs.

        """
        if weighted_metrics is not None:
            raise ValueError("weighted_metrics are not supported yet; leave it None (compiled "
                             "`metrics` ignore sample weights, as in Keras).")
        names, multi = self._output_names(), self._has_output_list()
        compiled_loss = CompileLoss(loss, loss_weights, names, multi)
        compiled_metrics = CompileMetrics(metrics, names, multi)
        self._trainer = Trainer(optimizers_module.get(optimizer), compiled_loss, compiled_metrics)
        self.optimizer = self._trainer.optimizer
        self.loss = compiled_loss.model_loss
        self.compiled = True

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns a `History` (Keras semantics).

        Args:
            x: inputs ``(N, T, F)`` (a list or dict by input name for several inputs), or a
                generator, iterable or `PyDataset` of ``(x, y[, sample_weight])`` batches
                (then no ``y``, ``batch_size`` or ``sample_weight``; see
                `unrolled.training.streaming`).
            y: labels fitting the output (a list or dict by output name for several).
            batch_size: samples per step (default 32).
            epochs: index of the last epoch (training runs ``initial_epoch .. epochs-1``).
            verbose: 0 silent, 1 (or "auto") live progress bar, 2 one line per epoch.
            callbacks: list of `Callback`.
            validation_split: fraction of the LAST samples held out (before shuffling).
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``.
            shuffle: reshuffle the training samples every epoch.
            class_weight: ``{class index: weight}``; each sample weighs its class's entry
                (the integer label, or the argmax of a one-hot label), as Keras.
            sample_weight: per-sample weights ``(N,)``.
            initial_epoch: epoch to start at (for resuming).
            steps_per_epoch: batches per epoch from a generator or PyDataset (continuing where
                the last epoch stopped, as Keras); None: one pass. Not with arrays.
            validation_steps: batches of a generator ``validation_data`` per validation.
            validation_batch_size: batch size for validation (default: ``batch_size``).
            validation_freq: validate every N epochs (int) or at these 1-based epochs (list).

        Returns:
            `History` with ``history.history[key]`` lists per epoch.

        Raises:
            ValueError: for NaN/inf inputs or labels that don't fit the output.
            NaNLossError: when the loss becomes NaN or infinite (names epoch and batch).

        """
        if self._has_custom_train_step():  # Keras's JAX `train_step(state, data)` override
            return self._fit_custom(
                x, y, batch_size, epochs, verbose, callbacks, validation_split,
                validation_data, shuffle, class_weight, sample_weight, initial_epoch,
                steps_per_epoch, validation_steps, validation_batch_size, validation_freq)
        return self._compiled_trainer("fit").fit(
            self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
            validation_data, shuffle, class_weight, sample_weight, initial_epoch,
            steps_per_epoch, validation_steps, validation_batch_size, validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Return the loss and metrics on ``(x, y)``.

        A list ``[loss, *metrics]`` (a float with no metrics), or a dict with ``return_dict=True``.
        """
        trainer = self._compiled_trainer("evaluate")
        if streaming.is_stream(x):
            streaming.check_stream_arguments("evaluate", y, batch_size, sample_weight)
            return trainer.results(trainer.evaluate_stream(self, x, steps), return_dict)
        if steps is not None:
            raise ValueError("evaluate: steps applies to a generator, iterable or PyDataset x; "
                             "with arrays leave it None.")
        self._require_built("evaluate")
        logs = trainer.evaluate_logs(self, x, y, sample_weight,
                                     32 if batch_size is None else batch_size)
        return trainer.results(logs, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Return the model's outputs for ``x`` as a NumPy array, batch by batch.

        ``x`` may also be a generator, iterable or `PyDataset` of batches (``x`` alone or
        ``(x, ...)``; ``steps`` batches, or one pass).
        """
        if self._predictor is None:
            self._predictor = Predictor(self._stateless_forward)
        if streaming.is_stream(x):
            streaming.check_stream_arguments("predict", batch_size=batch_size)
            return streaming.predict_stream(self._predictor, self, x, steps)
        if steps is not None:
            raise ValueError("predict: steps applies to a generator, iterable or PyDataset x; "
                             "with arrays leave it None.")
        self._require_built("predict")
        return self._predictor(self._training_spec(), x, batch_size)

    def train_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """One optimizer step on one batch; returns the loss (and metrics) on that batch."""
        trainer = self._compiled_trainer("train_on_batch")
        return trainer.results(trainer.train_on_batch(self, x, y, sample_weight), return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """Loss (and metrics) on one batch, without updating weights."""
        return self.evaluate(x, y, batch_size=num_samples(x), sample_weight=sample_weight,
                             return_dict=return_dict, verbose=0)

    def predict_on_batch(self, x):
        """Return the outputs for one batch."""
        return self.predict(x, batch_size=num_samples(x), verbose=0)

    def compile_counts(self) -> dict[str, int]:
        """Return the number of compiled variants of each step (tests count recompilations)."""
        counts = {"train": 0, "eval": 0} if self._trainer is None else \
            self._trainer.compile_counts()
        counts["predict"] = 0 if self._predictor is None else self._predictor.step._cache_size()
        return counts

    def _compiled_trainer(self, what: str) -> Trainer:
        if not self.compiled or self.loss is None:
            raise RuntimeError(
                f"You must call `model.compile(optimizer=..., loss=...)` before `{what}`."
            )
        return self._trainer

    def _require_built(self, what: str) -> None:
        if not getattr(self, "built", False):
            raise ValueError(
                f"`{what}` was called on a model that has not been built, so its input shape "
                "and weights are unknown. Call `model.build(input_shape)` (e.g. "
                "model.build((None, 24, 1))), start the model with `Input(shape=...)` or "
                "`input_shape=` on the first layer, or call `fit` first."
            )

    # The compiled configuration and optimizer state, as io/ (saving) and callbacks read them.
    @property
    def _metrics(self) -> list | None:
        return None if self._trainer is None else self._trainer.metrics.metrics

    @property
    def _metric_ids(self) -> list:
        return self._trainer.metrics.ids[0]

    @property
    def _output_metric_ids(self) -> list:
        return self._trainer.metrics.ids

    @property
    def _output_losses(self) -> list | None:
        loss = None if self._trainer is None else self._trainer.loss
        return loss.losses if loss is not None and loss.multi_output else None

    @property
    def _loss_weights(self) -> list:
        return self._trainer.loss.weights

    @property
    def _opt_state(self):
        return None if self._trainer is None else self._trainer.opt_state

    @_opt_state.setter
    def _opt_state(self, state) -> None:
        self._trainer.opt_state = state

    def _prepare_optimizer(self) -> None:
        self._trainer.prepare(self._training_spec())

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


_FUNCTIONAL_SUBCLASSES: dict = {}


def _functional_subclass(cls, functional):
    """``cls`` with `Functional` behind it, as Keras injects it for ``cls(inputs, outputs)``."""
    if cls not in _FUNCTIONAL_SUBCLASSES:
        _FUNCTIONAL_SUBCLASSES[cls] = type(cls.__name__, (cls, functional),
                                           {"__module__": cls.__module__,
                                            "__qualname__": cls.__qualname__})
    return _FUNCTIONAL_SUBCLASSES[cls]


def _added_losses(losses) -> list:
    """Return each added loss summed to a float32 scalar, as Keras's trainer aggregates them."""
    return [jnp.sum(jnp.asarray(v, jnp.float32)) for v in losses]


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
