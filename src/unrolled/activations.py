"""Activation functions by Keras 3 name: ``activations.relu``, ``activations.get("tanh")``, ...

Each name is the very function a layer's ``activation="<name>"`` resolves to, so
``Dense(4, activation=activations.relu)`` saves as ``"relu"`` like Keras.

Example:
    >>> import numpy as np
    >>> from unrolled import activations
    >>> activations.relu(np.array([-1.0, 2.0])).tolist()
    [0.0, 2.0]

"""

from unrolled.ops.activations import get, names

globals().update({_name: get(_name) for _name in names()})

__all__ = ["get", "names", *names()]
