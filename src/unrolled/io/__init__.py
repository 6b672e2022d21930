"""Files users already have: Keras 3 ``.keras`` and ``.weights.h5``, Keras 2 ``.h5``.

Every file is written atomically (`unrolled.io.atomic`); a damaged file, or one from another
program, is refused with a `ValueError` naming the file and what is wrong.
"""

from unrolled.io.atomic import atomic_path, atomic_write
from unrolled.io.keras_format import load_model, save_model
from unrolled.io.serialization import UnreadableFileError
from unrolled.io.weights_h5 import load_weights, save_weights

__all__ = ["UnreadableFileError", "atomic_path", "atomic_write", "load_model", "load_weights",
           "save_model", "save_weights"]
