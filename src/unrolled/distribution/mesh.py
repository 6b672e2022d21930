"""Devices, meshes and layouts: Keras 3's `keras.distribution` objects on `jax.sharding`.

`DeviceMesh` is a `jax.sharding.Mesh` with Keras's constructor, `TensorLayout` a
`jax.sharding.NamedSharding` (one mesh axis name or `None` per tensor dimension), and `LayoutMap`
maps variable paths (regular expressions, e.g. ``".*lstm_cell/kernel"``) to layouts.
"""

from __future__ import annotations

import collections.abc
import math
import re
from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def list_devices(device_type: str | None = None) -> list[str]:
    """Return all the available devices based on the device type.

    In a multi-process setting the global devices (of every process) are returned.

    Args:
        device_type: string, one of `"cpu"`, `"gpu"` or `"tpu"`. Defaults to `"gpu"` or `"tpu"`
            if available, otherwise `"cpu"`.

    Returns:
        List of strings formatted as `"device_type:id"`, e.g. `"cpu:0"`.

    Example:
        >>> from unrolled import distribution
        >>> distribution.list_devices("cpu")[0]
        'cpu:0'

    """
    devices = jax.devices(device_type.lower() if device_type else None)
    return [f"{d.platform}:{d.id}" for d in devices]


def get_device_count(device_type: str | None = None) -> int:
    """Return the number of available devices of `device_type` (default as `list_devices`)."""
    return jax.device_count(device_type.lower() if device_type else None)


def _to_jax_device(device) -> jax.Device:
    if isinstance(device, jax.Device):
        return device
    name = str(device)
    platform, _, index = name.partition(":")
    for d in jax.devices(platform):
        if d.id == int(index or 0):
            return d
    raise ValueError(
        f"Device not found: {name!r}. Available: {list_devices(platform)}; pass names from "
        "`unrolled.distribution.list_devices()`."
    )


class DeviceMesh:
    """A cluster of computation devices for distributed computation (a `jax.sharding.Mesh`).

    Args:
        shape: tuple of integers, the shape of the mesh, e.g. `(8,)` for data parallelism only or
            `(4, 2)` for data and model parallelism.
        axis_names: list of strings, one name per mesh axis (e.g. `("batch", "model")`); layouts
            refer to these names.
        devices: optional list of devices (names from `list_devices()` or `jax.Device`s).
            Defaults to all the devices of `list_devices()`.

    Example:
        >>> from unrolled import distribution
        >>> mesh = distribution.DeviceMesh((1,), ["batch"], devices=["cpu:0"])
        >>> mesh.shape, mesh.axis_names
        ((1,), ['batch'])

    """

    def __init__(self, shape: Sequence[int], axis_names: Sequence[str], devices=None):
        if not shape or not axis_names:
            raise ValueError(
                f"Shape and axis_names cannot be empty. Received: shape={shape}, "
                f"axis_names={axis_names}; e.g. DeviceMesh((4,), ['batch'])."
            )
        if len(shape) != len(axis_names):
            raise ValueError(
                f"Shape and axis_names should have same size. Received: shape={shape}, "
                f"axis_names={axis_names}; name every mesh axis once."
            )
        if any(not isinstance(n, (int, np.integer)) or n < 1 for n in shape):
            raise ValueError(f"Mesh shape entries must be positive integers; received {shape}.")
        if len(set(axis_names)) != len(axis_names):
            raise ValueError(f"Mesh axis names must be distinct; received {list(axis_names)}.")
        devices = np.array(list_devices() if devices is None else devices, dtype=object)
        if math.prod(shape) != devices.size:
            raise ValueError(
                f"Shape does not match the number of devices. Received: shape={tuple(shape)} "
                f"({math.prod(shape)} devices) for {devices.size} devices; make the product of "
                "the shape equal the number of devices (see list_devices())."
            )
        self._shape = tuple(int(n) for n in shape)
        self._axis_names = list(axis_names)
        self._devices = np.reshape(devices, self._shape)
        self._backend_mesh = None

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the mesh."""
        return self._shape

    @property
    def axis_names(self) -> list[str]:
        """The name of each mesh axis."""
        return self._axis_names

    @property
    def devices(self) -> np.ndarray:
        """The devices, as an array of the mesh's shape."""
        return self._devices

    @property
    def backend_mesh(self) -> Mesh:
        """The `jax.sharding.Mesh` of this mesh."""
        if self._backend_mesh is None:
            jax_devices = [_to_jax_device(d) for d in self._devices.flat]
            grid = np.empty(len(jax_devices), dtype=object)
            grid[:] = jax_devices
            self._backend_mesh = Mesh(grid.reshape(self._shape), tuple(self._axis_names))
        return self._backend_mesh

    def axis_size(self, name: str) -> int:
        """Return the number of devices along mesh axis `name`."""
        if name not in self._axis_names:
            raise ValueError(f"Unknown mesh axis {name!r}; this mesh has {self._axis_names}.")
        return self._shape[self._axis_names.index(name)]

    def __repr__(self) -> str:
        return f"<DeviceMesh shape={self.shape}, axis_names={self.axis_names}>"


class TensorLayout:
    """A layout to apply to a tensor (a `jax.sharding.NamedSharding`).

    Args:
        axes: one entry per tensor dimension: a mesh axis name to split that dimension over, or
            `None` to keep it whole on every device.
        device_mesh: optional `DeviceMesh`; a `LayoutMap` fills it in when the layout is added.

    Example:
        >>> from unrolled import distribution
        >>> mesh = distribution.DeviceMesh((1,), ["model"], devices=["cpu:0"])
        >>> distribution.TensorLayout((None, "model"), mesh).axes
        (None, 'model')

    """

    def __init__(self, axes: Sequence[str | None], device_mesh: DeviceMesh | None = None):
        self._axes = tuple(axes)
        self._device_mesh = device_mesh
        self._validate_axes()

    @property
    def axes(self) -> tuple[str | None, ...]:
        """One mesh axis name (or `None`) per tensor dimension."""
        return self._axes

    @property
    def device_mesh(self) -> DeviceMesh | None:
        """The `DeviceMesh` of the layout (set once)."""
        return self._device_mesh

    @device_mesh.setter
    def device_mesh(self, device_mesh: DeviceMesh) -> None:
        if self._device_mesh is not None:
            raise ValueError(f"Cannot override device mesh value. Existing value is "
                             f"{self._device_mesh}.")
        self._device_mesh = device_mesh
        self._validate_axes()

    @property
    def backend_layout(self) -> NamedSharding:
        """The `jax.sharding.NamedSharding` of this layout."""
        if self._device_mesh is None:
            raise ValueError("Cannot create sharding when device mesh is not set for "
                             "TensorLayout; pass device_mesh= or add it to a LayoutMap.")
        return NamedSharding(self._device_mesh.backend_mesh, PartitionSpec(*self._axes))

    def _validate_axes(self) -> None:
        if self._device_mesh is None:
            return
        unknown = {a for a in self._axes if a is not None} - set(self._device_mesh.axis_names)
        if unknown:
            raise ValueError(
                f"Invalid axis names for Layout: {sorted(unknown)}. Valid axis names: "
                f"{self._device_mesh.axis_names} (or None for an unsplit dimension)."
            )

    def check_shape(self, shape: Sequence[int], what: str = "tensor") -> None:
        """Raise a `ValueError` unless this layout fits a tensor of `shape`."""
        if len(self._axes) != len(shape):
            raise ValueError(
                f"Layout {self._axes} has {len(self._axes)} entries but {what} has shape "
                f"{tuple(shape)}; give one axis name or None per dimension."
            )
        for dim, (axis, size) in enumerate(zip(self._axes, shape, strict=True)):
            parts = self._device_mesh.axis_size(axis) if axis and self._device_mesh else 1
            if size % parts:
                raise ValueError(
                    f"Cannot split dimension {dim} (size {size}) of {what} over mesh axis "
                    f"{axis!r} of {parts} devices; choose a size divisible by {parts} or a mesh "
                    "with fewer devices on that axis."
                )

    def __repr__(self) -> str:
        return f"<TensorLayout axes={self.axes}, device_mesh={self.device_mesh}>"


class LayoutMap(collections.abc.MutableMapping):
    """A dict-like object mapping variable paths (regular expressions) to `TensorLayout`s.

    A key is first looked up exactly, then every key is tried as a regular expression with
    `re.fullmatch`; a path matching several keys is an error, and no match gives `None`
    (the variable is replicated). Tuples of axis names are accepted as values.

    Args:
        device_mesh: the `DeviceMesh` of the layouts.

    Example:
        >>> from unrolled import distribution
        >>> mesh = distribution.DeviceMesh((1, 1), ["batch", "model"], devices=["cpu:0"])
        >>> layout_map = distribution.LayoutMap(mesh)
        >>> layout_map[".*lstm_cell/kernel"] = (None, "model")
        >>> layout_map["sequential/lstm/lstm_cell/kernel"].axes
        (None, 'model')

    """

    def __init__(self, device_mesh: DeviceMesh):
        self._layout_map: dict[str, TensorLayout] = collections.OrderedDict()
        self._device_mesh = device_mesh

    def __getitem__(self, key: str) -> TensorLayout | None:
        if key in self._layout_map:
            return self._layout_map[key]
        matches = [p for p in self._layout_map if re.fullmatch(p, key)]
        if len(matches) > 1:
            raise ValueError(
                f"Path '{key}' matches multiple layout specification keys: {matches}. Make "
                "sure each variable path matches at most one key in the LayoutMap."
            )
        return self._layout_map[matches[0]] if matches else None

    def __setitem__(self, key: str, layout) -> None:
        if key in self._layout_map:
            raise ValueError(f"{key} already exist in the LayoutMap with value "
                             f"{self._layout_map[key]}. Do not use duplicated keys.")
        if isinstance(layout, (tuple, list)):
            layout = TensorLayout(axes=layout)
        if not isinstance(layout, TensorLayout):
            raise ValueError(f"{layout} should be a TensorLayout type, got {type(layout)}.")
        if layout.device_mesh is None and self._device_mesh is not None:
            layout.device_mesh = self._device_mesh
        self._layout_map[key] = layout

    def __delitem__(self, key: str) -> None:
        self._layout_map.pop(key)

    def __len__(self) -> int:
        return len(self._layout_map)

    def __iter__(self):
        return iter(self._layout_map)

    @property
    def device_mesh(self) -> DeviceMesh:
        """The `DeviceMesh` of every layout in the map."""
        return self._device_mesh
