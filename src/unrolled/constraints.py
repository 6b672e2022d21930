"""Keras 3 weight constraints (``keras.constraints``): ``MaxNorm``, ``NonNeg``, ...

Use ``recurrent_constraint=unrolled.constraints.MaxNorm(2.0)`` or the name ``"max_norm"``.
"""

from unrolled.layers.constraints import (
    Constraint,
    MaxNorm,
    MinMaxNorm,
    NonNeg,
    UnitNorm,
    deserialize,
    get,
    serialize,
)

max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "deserialize", "get",
           "max_norm", "min_max_norm", "non_neg", "serialize", "unit_norm"]
