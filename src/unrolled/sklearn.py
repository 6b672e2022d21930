"""scikit-learn estimators around the seed model: ``Masking -> LSTM(units) -> Dense``.

`LSTMClassifier` and `LSTMRegressor` follow scikit-learn's estimator API (``fit``, ``predict``,
``predict_proba``, ``score``, ``get_params``/``set_params``), so they work in ``Pipeline``,
``cross_val_score`` and ``GridSearchCV``. ``X`` may be:

* a list of ``(T_i, F)`` (or ``(T_i,)``) arrays of different lengths: padded at the end with
  ``mask_value`` and masked, so every sequence is read up to its own last step;
* a 3D array ``(N, T, F)`` (already padded with ``mask_value`` where needed);
* a 2D array ``(N, T)``: ``N`` univariate sequences of ``T`` steps (one feature per step),
  which is how scikit-learn's tabular tools and checks hand data over.

A step whose features all equal ``mask_value`` is skipped (Keras ``Masking`` semantics), so pick
a ``mask_value`` that real steps never take entirely.

Example:
    >>> import numpy as np
    >>> from unrolled.sklearn import LSTMClassifier
    >>> X = [np.sin(np.arange(n) / 3.0)[:, None] * s for n, s in [(9, 1), (6, -1)] * 4]
    >>> y = ["up", "down"] * 4
    >>> clf = LSTMClassifier(units=4, epochs=2, random_state=0).fit(X, y)
    >>> clf.classes_.tolist(), clf.predict_proba(X).shape
    (['down', 'up'], (8, 2))

"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data

from unrolled import layers, models, optimizers, utils


def _is_ragged_list(X) -> bool:
    if not isinstance(X, (list, tuple)) or not X:
        return False
    arrays = [np.asarray(x) for x in X]
    return any(a.ndim == 2 for a in arrays) or len({a.shape for a in arrays}) > 1


class _LSTMEstimator(BaseEstimator):
    """Shared parameters, input handling and the Keras-style model."""

    def __init__(self, units: int = 16, epochs: int = 30, batch_size: int = 32,
                 learning_rate: float = 0.001, mask_value: float = 0.0,
                 random_state: int | None = None, verbose: int = 0):
        self.units = units
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.mask_value = mask_value
        self.random_state = random_state
        self.verbose = verbose

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
    def _build(self, features: int, outputs: int, activation: str):
        return models.Sequential([
            layers.Input(shape=(None, features)), layers.Masking(self.mask_value),
            layers.LSTM(int(self.units)), layers.Dense(outputs), layers.Activation(activation),
        ])

    def __getstate__(self):
        state = dict(self.__dict__)
        model = state.pop("model_", None)
        if model is not None:  # compiled JAX functions do not pickle: keep the weights
            dense = model.layers[2]
            state["_model_state"] = (model._input_batch_shape[-1], dense.units,
                                     model.layers[3].get_config()["activation"],
                                     model.get_weights())
        return state

    def __setstate__(self, state):
        saved = state.pop("_model_state", None)
        self.__dict__.update(state)
        if saved is not None:
            features, outputs, activation, weights = saved
            self.model_ = self._build(features, outputs, activation)
            self.model_.set_weights(weights)

    def _fit_model(self, x: np.ndarray, y: np.ndarray, outputs: int, activation: str,
                   loss: str):
        if not isinstance(self.units, (int, np.integer)) or self.units <= 0:
            raise ValueError(f"units must be a positive integer; got {self.units!r}.")
        seed = (int(np.random.randint(0, 2**31 - 1)) if self.random_state is None
                else int(self.random_state))
        utils.set_random_seed(seed)
        model = self._build(x.shape[-1], outputs, activation)
        model.compile(optimizer=optimizers.Adam(learning_rate=self.learning_rate), loss=loss)
        model.fit(x, y, batch_size=int(self.batch_size), epochs=int(self.epochs),
                  verbose=self.verbose)
        self.model_ = model
        return self

    def _raw_predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        x = self._sequences(X, reset=False)
        return self.model_.predict(x, batch_size=int(self.batch_size), verbose=0)


class LSTMClassifier(ClassifierMixin, _LSTMEstimator):
    """Sequence classifier: ``Masking -> LSTM(units) -> Dense(n_classes) -> softmax``.

    Trained with Adam on categorical cross-entropy; labels may be any hashable values.

    Args:
        units: LSTM memory cells.
        epochs: training epochs.
        batch_size: samples per step.
        learning_rate: Adam's learning rate.
        mask_value: padding value (steps whose features all equal it are skipped).
        random_state: seed for weights and shuffling (``None``: a fresh seed each fit).
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.

    Attributes:
        classes_: the sorted class labels.
        model_: the trained unrolled ``Sequential``.
        n_features_in_: features per step (time steps, for 2D tabular input).

    Example:
        >>> from unrolled import datasets
        >>> from unrolled.sklearn import LSTMClassifier
        >>> (x, y), _ = datasets.load("ItalyPowerDemand")
        >>> LSTMClassifier(units=4, epochs=1, random_state=0).fit(x, y).predict(x[:3]).shape
        (3,)

    """

    def fit(self, X, y):
        """Train on sequences ``X`` and labels ``y``; returns ``self``."""
        x = self._sequences(X, reset=True)
        y = column_or_1d(self._targets(y, len(x)), warn=True)
        check_classification_targets(y)
        self.classes_, index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"The classifier needs at least 2 classes in y; got 1 class "
                             f"({self.classes_[0]!r}).")
        onehot = np.eye(len(self.classes_), dtype=np.float32)[index]  # (N, classes)
        return self._fit_model(x, onehot, len(self.classes_), "softmax",
                               "categorical_crossentropy")

    def predict_proba(self, X) -> np.ndarray:
        """Return class probabilities ``(N, n_classes)`` in the order of ``classes_``."""
        return self._raw_predict(X)

    def predict(self, X) -> np.ndarray:
        """Return the most probable class label of each sequence."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class LSTMRegressor(RegressorMixin, _LSTMEstimator):
    """Sequence regressor: ``Masking -> LSTM(units) -> Dense(n_targets)``, mean squared error.

    Args:
        units, epochs, batch_size, learning_rate, mask_value, random_state, verbose: as
            `LSTMClassifier`.

    Attributes:
        model_: the trained unrolled ``Sequential``.
        n_features_in_: features per step (time steps, for 2D tabular input).

    Example:
        >>> import numpy as np
        >>> from unrolled.sklearn import LSTMRegressor
        >>> X = np.random.default_rng(0).normal(size=(8, 5, 2))
        >>> LSTMRegressor(units=3, epochs=1, random_state=0).fit(X, X.sum((1, 2))).predict(X).shape
        (8,)

    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        """Train on sequences ``X`` and targets ``y`` ``(N,)`` or ``(N, k)``; returns ``self``."""
        x = self._sequences(X, reset=True)
        y = self._targets(y, len(x)).astype(np.float32)
        self._y_1d = y.ndim == 1
        y2 = y.reshape(len(y), -1)  # (N, k)
        return self._fit_model(x, y2, y2.shape[1], "linear", "mean_squared_error")

    def predict(self, X) -> np.ndarray:
        """Return the predicted targets, ``(N,)`` or ``(N, k)`` as ``y`` was."""
        out = self._raw_predict(X)
        return out[:, 0] if self._y_1d else out
