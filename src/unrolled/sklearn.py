"""scikit-learn estimators for sequence models, in scikeras's conventions.

`LSTMClassifier` and `LSTMRegressor` follow scikit-learn's estimator API (``fit``, ``predict``,
``predict_proba``, ``score``, ``get_params``/``set_params``), so they work in ``Pipeline``,
``cross_val_score`` and ``GridSearchCV``; and scikeras's (``model=``, routed parameters,
``history_``, ``warm_start``). ``X`` may be:

* a list of ``(T_i, F)`` (or ``(T_i,)``) arrays of different lengths: padded at the end with
  ``mask_value`` and masked, so every sequence is read up to its own last step;
* a 3D array ``(N, T, F)`` (already padded with ``mask_value`` where needed);
* a 2D array ``(N, T)``: ``N`` univariate sequences of ``T`` steps (one feature per step),
  which is how scikit-learn's tabular tools and checks hand data over.

The model. ``model=None`` builds ``Input((None, F)) -> Masking(mask_value) -> LSTM(units) ->
Dense(outputs) -> softmax`` (classifier) or linear (regressor). ``model`` may instead be an
unrolled model (its architecture is copied, with fresh weights, at each fit) or a function
returning one; the function receives the routed ``model__NAME`` parameters and, where its
signature names them, ``n_features_in_``, ``n_outputs_``, ``n_classes_`` and ``meta`` (a dict
of all three). Routed parameters: ``model__*`` (the model function, or ``units`` of the
default), ``optimizer__*`` (Adam's keywords, e.g. ``optimizer__clipnorm``), ``fit__*`` and
``predict__*`` (passed to ``Model.fit`` / ``Model.predict``).

Randomness. ``random_state`` (an int, or ``None`` for fresh entropy) seeds weights, shuffling and
dropout through a generator local to the estimator: NumPy's and Python's global generators are
never touched. Outputs are float64, as scikit-learn expects.

Example:
    >>> import numpy as np
    >>> from unrolled.sklearn import LSTMClassifier
    >>> X = [np.sin(np.arange(n) / 3.0)[:, None] * s for n, s in [(9, 1), (6, -1)] * 4]
    >>> y = ["up", "down"] * 4
    >>> clf = LSTMClassifier(units=4, epochs=2, random_state=0).fit(X, y)
    >>> clf.classes_.tolist(), clf.predict_proba(X).shape, clf.history_["loss"][:1] != []
    (['down', 'up'], (8, 2), True)

"""

from __future__ import annotations

import contextlib
import inspect
from collections import defaultdict

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.class_weight import compute_class_weight
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import (
        check_array,
        check_is_fitted,
        column_or_1d,
        validate_data,
    )
except ImportError as exc:  # pragma: no cover - exercised without scikit-learn only
    raise ImportError("unrolled.sklearn needs scikit-learn 1.6 or newer: pip install "
                      "'unrolled[sklearn]' (or pip install 'scikit-learn>=1.6').") from exc

ROUTES = ("model", "optimizer", "fit", "predict")


@contextlib.contextmanager
def _local_seed(seed: int):
    """Seed unrolled's own generator for a block and restore it: no global RNG is touched."""
    from unrolled.layers import random as unrolled_random

    saved = unrolled_random._state["rng"]  # unrolled's key source; not NumPy's global state
    unrolled_random._state["rng"] = np.random.default_rng(seed)
    try:
        yield
    finally:
        unrolled_random._state["rng"] = saved


def _is_ragged_list(X) -> bool:
    if not isinstance(X, (list, tuple)) or not X:
        return False
    arrays = [np.asarray(x) for x in X]
    return any(a.ndim == 2 for a in arrays) or len({a.shape for a in arrays}) > 1


class _LSTMEstimator(BaseEstimator):
    """Shared parameters, input handling, routing and training."""

    _activation = "linear"
    _loss = "mean_squared_error"

    def __init__(self, model=None, *, units: int = 16, epochs: int = 30, batch_size: int = 32,
                 learning_rate: float = 0.001, loss=None, metrics=None, mask_value: float = 0.0,
                 callbacks=None, validation_split: float = 0.0, shuffle: bool = True,
                 warm_start: bool = False, random_state: int | None = None, verbose: int = 0,
                 **kwargs):
        self.model = model
        self.units = units
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.loss = loss
        self.metrics = metrics
        self.mask_value = mask_value
        self.callbacks = callbacks
        self.validation_split = validation_split
        self.shuffle = shuffle
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        for key, value in kwargs.items():  # checked in fit, as scikit-learn asks
            setattr(self, key, value)

    # ---------------------------------------------------------------- parameters
    def get_params(self, deep: bool = True) -> dict:
        """Return the constructor parameters and the routed ``route__name`` ones."""
        params = super().get_params(deep=False)
        params.update({k: v for k, v in vars(self).items()
                       if "__" in k and k.split("__")[0] in ROUTES})
        return params

    def set_params(self, **params):
        """Set parameters, routed ones (``model__units=8``) included; returns ``self``.

        As in ``__init__``, a name that is neither a parameter nor routed is refused by `fit`.
        """
        known = set(super().get_params(deep=False))
        for key, value in params.items():  # unknown names are refused at fit, as in __init__
            if key in known:
                super().set_params(**{key: value})
            else:
                setattr(self, key, value)
        return self

    def _check_keywords(self) -> None:
        names = set(super().get_params(deep=False))
        for key in vars(self):
            if key.startswith("_") or key.endswith("_") or key in names:
                continue
            if "__" not in key or key.split("__")[0] not in ROUTES:
                raise TypeError(f"{type(self).__name__} got an unexpected parameter {key!r}; "
                                f"routed parameters start with one of {ROUTES} and '__' "
                                "(e.g. model__units=8, optimizer__clipnorm=1.0).")

    def _routed(self, route: str) -> dict:
        prefix = route + "__"
        return {k[len(prefix):]: v for k, v in self.get_params().items() if k.startswith(prefix)}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------------ inputs
    def _sequences(self, X, reset: bool) -> np.ndarray:
        """Return float32 ``(N, T, F)`` from any accepted form of ``X`` (see module doc)."""
        if _is_ragged_list(X) or (hasattr(X, "ndim") and X.ndim == 3) or (
                isinstance(X, (list, tuple)) and X and np.asarray(X[0]).ndim == 2):
            x = self._pad(X)
            if reset:
                self.n_features_in_ = x.shape[-1]
                self._tabular = False
        else:
            x = validate_data(self, X, reset=reset, dtype=np.float32)[:, :, None]  # (N, T, 1)
            if reset:
                self._tabular = True
        if not reset:
            features = x.shape[-1]
            expected = 1 if self._tabular else self.n_features_in_
            if features != expected:
                raise ValueError(
                    f"X has {features} features per time step, but {type(self).__name__} was "
                    f"fitted with {expected}. Pass sequences shaped (T, {expected})."
                )
        return x

    def _pad(self, X) -> np.ndarray:
        seqs = [np.asarray(s, dtype=np.float32) for s in X]
        seqs = [s[:, None] if s.ndim == 1 else s for s in seqs]  # (T_i, F)
        if not seqs:
            raise ValueError("X holds no sequences; expected at least one (T, F) array.")
        shapes = {s.shape[1:] for s in seqs}
        if any(s.ndim != 2 for s in seqs) or len(shapes) != 1:
            raise ValueError(
                f"Every sequence must be a (T_i, F) array with the same F; found shapes "
                f"{sorted({s.shape for s in seqs})[:5]}."
            )
        for i, s in enumerate(seqs):
            if not np.all(np.isfinite(s)):
                raise ValueError(f"Input contains NaN or infinity (sequence {i}); clean or "
                                 "impute the values first.")
            if len(s) == 0:
                raise ValueError(f"Sequence {i} has no time steps; drop it or give it one.")
        longest = max(len(s) for s in seqs)
        out = np.full((len(seqs), longest, seqs[0].shape[1]), self.mask_value, np.float32)
        for i, s in enumerate(seqs):
            out[i, :len(s)] = s
        return out

    def _targets(self, y, n: int) -> np.ndarray:
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None.")
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        if len(y) != n:
            raise ValueError(f"X holds {n} sequences but y has {len(y)} entries; give one "
                             "target per sequence.")
        return y

    # ------------------------------------------------------------------- model
    def _meta(self, features: int, outputs: int) -> dict:
        meta = {"n_features_in_": features, "n_outputs_": outputs}
        if hasattr(self, "classes_"):
            meta["n_classes_"] = len(self.classes_)
        return meta

    def _default_model(self, features: int, outputs: int, units: int | None = None):
        from unrolled import layers, models

        units = self.units if units is None else units
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"units must be a positive integer; got {units!r}.")
        stack = [layers.Input(shape=(None, features)), layers.Masking(self.mask_value),
                 layers.LSTM(int(units)), layers.Dense(outputs)]
        if self._activation != "linear":
            stack.append(layers.Activation(self._activation))
        return models.Sequential(stack)

    def _make_model(self, features: int, outputs: int):
        from unrolled import optimizers

        routed, meta = self._routed("model"), self._meta(features, outputs)
        if self.model is None:
            model = self._default_model(features, outputs, **routed)
        elif callable(self.model) and not hasattr(self.model, "get_config"):
            params = inspect.signature(self.model).parameters
            extra = {k: v for k, v in {**meta, "meta": meta}.items() if k in params}
            model = self.model(**routed, **extra)
        else:
            from unrolled.io.serialization import deserialize_model, serialize_model

            model = deserialize_model(serialize_model(self.model))  # fresh weights
        if not hasattr(model, "fit") or not hasattr(model, "predict"):
            raise TypeError(f"model must be an unrolled model or a function returning one; "
                            f"got {type(model).__name__}.")
        optimizer = optimizers.Adam(learning_rate=self.learning_rate,
                                    **self._routed("optimizer"))
        model.compile(optimizer=optimizer, loss=self.loss or self._loss, metrics=self.metrics)
        return model

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.default_rng().integers(0, 2**31 - 1))  # fresh OS entropy
        if isinstance(self.random_state, np.random.RandomState):
            raise TypeError("random_state must be an int or None here (a RandomState would "
                            "be advanced, which scikit-learn's cloning cannot undo).")
        return int(self.random_state)

    def _fit_model(self, x: np.ndarray, y: np.ndarray, outputs: int, sample_weight=None):
        self._check_keywords()
        epochs = int(self.epochs)
        if epochs < 1:
            raise ValueError(f"epochs must be 1 or more; got {self.epochs!r}.")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, np.float32).reshape(-1)
            if len(sample_weight) != len(x):
                raise ValueError(f"sample_weight has {len(sample_weight)} entries for "
                                 f"{len(x)} sequences.")
            if not np.any(sample_weight > 0):
                raise ValueError("sample_weight is zero (or negative) everywhere: nothing to "
                                 "learn from; give some samples a positive weight.")
        with _local_seed(self._seed()):
            reuse = (self.warm_start and getattr(self, "model_", None) is not None
                     and getattr(self, "_fitted_shape", None) == (x.shape[-1], outputs))
            if not reuse:
                self.model_ = self._make_model(x.shape[-1], outputs)
                self.history_ = defaultdict(list)
            self._fitted_shape = (x.shape[-1], outputs)
            history = self.model_.fit(
                x, y, batch_size=int(self.batch_size), epochs=epochs, verbose=self.verbose,
                callbacks=list(self.callbacks or []), validation_split=self.validation_split,
                shuffle=self.shuffle, sample_weight=sample_weight, **self._routed("fit"))
        for key, values in history.history.items():
            self.history_[key] += [float(v) for v in values]
        return self

    def _raw_predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        x = self._sequences(X, reset=False)
        out = self.model_.predict(x, batch_size=int(self.batch_size), verbose=0,
                                  **self._routed("predict"))
        return np.asarray(out, dtype=np.float64)

    # ---------------------------------------------------------------- pickling
    def __getstate__(self):
        state = dict(self.__dict__)
        model = state.pop("model_", None)
        if model is not None:  # compiled JAX functions do not pickle: keep config and weights
            from unrolled.io.serialization import serialize_model

            state["_model_state"] = (serialize_model(model), model.get_weights())
        return state

    def __setstate__(self, state):
        saved = state.pop("_model_state", None)
        self.__dict__.update(state)
        if saved is not None:
            from unrolled.io.serialization import deserialize_model

            config, weights = saved
            self.model_ = deserialize_model(config)
            self.model_.set_weights(weights)


class LSTMClassifier(ClassifierMixin, _LSTMEstimator):
    """Sequence classifier; by default ``Masking -> LSTM(units) -> Dense(n_classes) -> softmax``.

    Trained with Adam on categorical cross-entropy; labels may be any hashable values.

    Args:
        model: ``None`` (the default stack), an unrolled model, or a function returning one
            (see the module docstring for what it receives).
        units: LSTM memory cells of the default model (``model__units`` overrides it).
        epochs: training epochs per ``fit`` (also with ``warm_start``).
        batch_size: samples per step.
        learning_rate: Adam's learning rate (``optimizer__*`` adds Adam's other keywords).
        loss: the loss (default categorical cross-entropy on one-hot labels).
        metrics: Keras metrics to record in ``history_``.
        mask_value: padding value (steps whose features all equal it are skipped).
        callbacks: unrolled callbacks passed to ``Model.fit``.
        validation_split: fraction of the last samples held out each epoch.
        shuffle: shuffle the samples each epoch.
        warm_start: a second ``fit`` continues training the fitted model (same features and
            classes) instead of starting afresh.
        class_weight: ``None``, ``"balanced"`` or ``{label: weight}``.
        random_state: seed for weights, shuffling and dropout (``None``: fresh each fit).
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.
        **kwargs: routed parameters, ``model__*``, ``optimizer__*``, ``fit__*``, ``predict__*``.

    Attributes:
        classes_: the sorted class labels.
        model_: the trained unrolled model.
        history_: ``{"loss": [...], ...}`` per epoch, accumulated over warm-started fits.
        n_features_in_: features per step (time steps, for 2D tabular input).

    Example:
        >>> from unrolled import datasets
        >>> from unrolled.sklearn import LSTMClassifier
        >>> (x, y), _ = datasets.load("ItalyPowerDemand")
        >>> LSTMClassifier(units=4, epochs=1, random_state=0).fit(x, y).predict(x[:3]).shape
        (3,)

    """

    _activation = "softmax"
    _loss = "categorical_crossentropy"

    def __init__(self, model=None, *, units: int = 16, epochs: int = 30, batch_size: int = 32,
                 learning_rate: float = 0.001, loss=None, metrics=None, mask_value: float = 0.0,
                 callbacks=None, validation_split: float = 0.0, shuffle: bool = True,
                 warm_start: bool = False, class_weight=None, random_state: int | None = None,
                 verbose: int = 0, **kwargs):
        super().__init__(model, units=units, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, loss=loss, metrics=metrics,
                         mask_value=mask_value, callbacks=callbacks,
                         validation_split=validation_split, shuffle=shuffle,
                         warm_start=warm_start, random_state=random_state, verbose=verbose,
                         **kwargs)
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None):
        """Train on sequences ``X`` and labels ``y`` (optionally weighted); returns ``self``."""
        x = self._sequences(X, reset=True)
        y = column_or_1d(self._targets(y, len(x)), warn=True)
        check_classification_targets(y)
        classes, index = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"The classifier needs at least 2 classes in y; got 1 class "
                             f"({classes[0]!r}).")
        if self.warm_start and hasattr(self, "classes_") and not np.array_equal(
                classes, self.classes_):
            self.model_ = None  # other classes: start afresh
        self.classes_ = classes
        if self.class_weight is not None:
            weights = compute_class_weight(self.class_weight, classes=classes, y=y)
            per_sample = weights[index]
            sample_weight = per_sample if sample_weight is None else (
                per_sample * np.asarray(sample_weight, np.float64))
        onehot = np.eye(len(classes), dtype=np.float32)[index]  # (N, classes)
        return self._fit_model(x, onehot, len(classes), sample_weight)

    def predict_proba(self, X) -> np.ndarray:
        """Return class probabilities ``(N, n_classes)`` (float64) in the order of ``classes_``."""
        return self._raw_predict(X)

    def predict(self, X) -> np.ndarray:
        """Return the most probable class label of each sequence."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class LSTMRegressor(RegressorMixin, _LSTMEstimator):
    """Sequence regressor; by default ``Masking -> LSTM(units) -> Dense(n_targets)``, MSE.

    Args:
        model, units, epochs, batch_size, learning_rate, loss, metrics, mask_value, callbacks,
            validation_split, shuffle, warm_start, random_state, verbose, **kwargs: as
            `LSTMClassifier` (the default loss is mean squared error).

    Attributes:
        model_: the trained unrolled model.
        history_: ``{"loss": [...], ...}`` per epoch.
        n_features_in_: features per step (time steps, for 2D tabular input).

    Example:
        >>> import numpy as np
        >>> from unrolled.sklearn import LSTMRegressor
        >>> X = np.random.default_rng(0).normal(size=(8, 5, 2))
        >>> LSTMRegressor(units=3, epochs=1, random_state=0).fit(X, X.sum((1, 2))).predict(X).dtype
        dtype('float64')

    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Train on ``X`` and targets ``y`` ``(N,)`` or ``(N, k)``; returns ``self``."""
        x = self._sequences(X, reset=True)
        y = self._targets(y, len(x)).astype(np.float32)
        self._y_1d = y.ndim == 1
        y2 = y.reshape(len(y), -1)  # (N, k)
        return self._fit_model(x, y2, y2.shape[1], sample_weight)

    def predict(self, X) -> np.ndarray:
        """Return the predicted targets (float64), ``(N,)`` or ``(N, k)`` as ``y`` was."""
        out = self._raw_predict(X)
        return out[:, 0] if self._y_1d else out
