"""What every peer shares: the configs, the data, the timing protocol and the result record.

Every system trains the same model on the same data::

    Masking(0.0) -> LSTM(U) -> Dense(2) -> sigmoid, binary cross-entropy, Adam(lr=1e-3, eps=1e-7)

on ``N`` sequences of ``T = 100`` steps and ``F`` features, each with a random valid length
(right-padded with zeros, so the padding is masked). Protocol per system: build and compile, train
one batch (time to first trained batch, from the start of model construction), then one warm-up
epoch followed by ``epochs`` timed epochs (train samples/s is the median), then one warm-up and
``epochs`` timed passes of predict over the same ``N`` samples (median). Peak RSS is read after
training (``fit``) and again at the end.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field

T = 100
OUTPUTS = 2


@dataclass(frozen=True)
class Config:
    """One benchmark size: features F, units U, batch B, samples per epoch N."""

    name: str
    features: int
    units: int
    batch: int
    samples: int


CONFIGS = {
    "seed": Config("seed", 1, 16, 32, 2048),
    "medium": Config("medium", 32, 128, 64, 512),
    "large": Config("large", 128, 512, 64, 256),
}


def make_data(cfg: Config, seed: int = 0):
    """Return ``(x (N, T, F) float32, y (N, 2) float32 one-hot, lengths (N,) int64)``.

    Lengths are uniform in ``[T // 10, T]``; the steps past a row's length are exactly 0.0 (the
    Masking value); the valid steps are never all-zero. The label says whether the mean of the
    first feature over the valid steps is positive.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    n, f = max(cfg.samples, CONFIGS[cfg.name].samples), cfg.features  # a smaller N is a prefix
    lengths = rng.integers(T // 10, T + 1, size=n)
    x = rng.normal(0.0, 1.0, (n, T, f)).astype(np.float32)
    x[np.abs(x) < 1e-3] = 1e-3  # a valid step never equals the mask value
    x[np.arange(T)[None, :] >= lengths[:, None]] = 0.0
    label = (x[:, :, 0].sum(axis=1) > 0).astype(np.int64)
    y = np.eye(OUTPUTS, dtype=np.float32)[label]
    return x[: cfg.samples], y[: cfg.samples], lengths[: cfg.samples]


@dataclass
class Result:
    """One system's measurements at one config (times in seconds, rates in samples/s)."""

    system: str
    config: str
    version: str = ""
    samples: int = 0
    train_samples_per_s: float = 0.0
    infer_samples_per_s: float = 0.0
    first_batch_s: float = 0.0
    warmup_epoch_s: float = 0.0
    warmup_predict_s: float = 0.0
    train_epoch_s: list = field(default_factory=list)
    predict_s: list = field(default_factory=list)
    peak_rss_fit_mb: float = 0.0
    peak_rss_mb: float = 0.0
    final_loss: float = float("nan")
    notes: str = ""


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def median_rate(samples: int, seconds: list[float]) -> float:
    """Samples per second of the median timing."""
    return samples / statistics.median(seconds)


class Clock:
    """``with Clock() as c: ...`` then ``c.s`` holds the elapsed wall seconds."""

    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.s = time.perf_counter() - self.t0


def peer_main(run) -> None:
    """Command line shared by the peer modules: ``--config NAME --epochs E --out FILE``.

    ``run(cfg, epochs, options) -> Result``; the result is written as JSON to ``--out`` (stdout
    when omitted).
    """
    p = argparse.ArgumentParser()
    p.add_argument("--config", choices=sorted(CONFIGS), required=True)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--option", action="append", default=[], help="KEY=VALUE passed to the peer")
    p.add_argument("--out", default=None)
    a = p.parse_args()
    cfg = CONFIGS[a.config]
    if a.samples:
        cfg = Config(cfg.name, cfg.features, cfg.units, cfg.batch, a.samples)
    options = dict(o.split("=", 1) for o in a.option)
    result = run(cfg, max(3, a.epochs), options)
    result.peak_rss_mb = peak_rss_mb()
    text = json.dumps(asdict(result), indent=1)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text + "\n")
