"""The benchmark protocol for any library with the Keras API (unrolled, Keras on a backend)."""

from __future__ import annotations

import time

from benchmarks.common import OUTPUTS, Clock, Config, Result, T, make_data, median_rate, peak_rss_mb


def build(lib, cfg: Config):
    """``Masking -> LSTM(U) -> Dense(2) -> sigmoid`` compiled with BCE and Adam (eps 1e-7)."""
    layers = lib.layers
    model = lib.models.Sequential([
        layers.Input(shape=(T, cfg.features)),
        layers.Masking(mask_value=0.0),
        layers.LSTM(cfg.units),
        layers.Dense(OUTPUTS),
        layers.Activation("sigmoid"),
    ])
    model.compile(loss="binary_crossentropy",
                  optimizer=lib.optimizers.Adam(learning_rate=1e-3, epsilon=1e-7))
    return model


def run(lib, system: str, version: str, cfg: Config, epochs: int) -> Result:
    """Measure ``lib`` with the protocol of `benchmarks.common`."""
    x, y, _ = make_data(cfg)
    res = Result(system=system, config=cfg.name, version=version,
                 samples=cfg.samples)
    t0 = time.perf_counter()
    model = build(lib, cfg)
    model.fit(x[: cfg.batch], y[: cfg.batch], batch_size=cfg.batch, epochs=1, verbose=0,
              shuffle=False)
    res.first_batch_s = time.perf_counter() - t0

    times: list[float] = []

    class EpochTimer(lib.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    hist = model.fit(x, y, batch_size=cfg.batch, epochs=1 + epochs, verbose=0,
                     callbacks=[EpochTimer()])
    res.final_loss = float(hist.history["loss"][-1])
    res.warmup_epoch_s, res.train_epoch_s = times[0], times[1:]
    res.train_samples_per_s = median_rate(cfg.samples, res.train_epoch_s)
    res.peak_rss_fit_mb = peak_rss_mb()

    with Clock() as c:
        model.predict(x, batch_size=cfg.batch, verbose=0)
    res.warmup_predict_s = c.s
    for _ in range(epochs):
        with Clock() as c:
            model.predict(x, batch_size=cfg.batch, verbose=0)
        res.predict_s.append(c.s)
    res.infer_samples_per_s = median_rate(cfg.samples, res.predict_s)
    return res
