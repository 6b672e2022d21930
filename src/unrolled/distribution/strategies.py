"""Distribution strategies (Keras 3's `DataParallel`, `ModelParallel`) and the global setting."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

import jax
import numpy as np

from unrolled.distribution.mesh import DeviceMesh, LayoutMap, TensorLayout, list_devices

DEFAULT_BATCH_DIM_NAME = "batch"
_GLOBAL = {"distribution": None}


class Distribution:
    """Base class of the strategies: where variables and input batches live.

    Args:
        device_mesh: a `DeviceMesh`.
        batch_dim_name: the mesh axis that the batch dimension of inputs is split over.
        auto_shard_dataset: in a multi-process setting, make each process read only its shard
            of a streaming source. Set to `False` when the source is already per process.

    """

    def __init__(self, device_mesh: DeviceMesh, batch_dim_name: str | None = None,
                 auto_shard_dataset: bool = True):
        self._device_mesh = device_mesh
        self._batch_dim_name = batch_dim_name
        self._auto_shard_dataset = auto_shard_dataset
        self._num_processes = jax.process_count()
        self._process_id = jax.process_index()
        self._is_multi_process = self._num_processes > 1

    @property
    def device_mesh(self) -> DeviceMesh:
        """The `DeviceMesh` of the distribution."""
        return self._device_mesh

    @property
    def batch_dim_name(self) -> str | None:
        """The mesh axis that input batches are split over."""
        return self._batch_dim_name

    @property
    def auto_shard_dataset(self) -> bool:
        """Whether each process reads only its shard of a stream."""
        return self._auto_shard_dataset

    @auto_shard_dataset.setter
    def auto_shard_dataset(self, value: bool) -> None:
        self._auto_shard_dataset = value

    @property
    def num_processes(self) -> int:
        """Total number of processes in the cluster."""
        return self._num_processes

    @property
    def num_model_replicas(self) -> int:
        """Number of model replicas (devices along the batch axis)."""
        raise NotImplementedError

    @property
    def data_shard_id(self) -> int:
        """ID of the data shard that the current process reads."""
        replicas = self.num_model_replicas
        if replicas >= self._num_processes:
            return self._process_id
        return self._process_id // (self._num_processes // replicas)

    def get_data_layout(self, data_shape) -> TensorLayout:
        """Return the `TensorLayout` of an input batch: split along the batch axis."""
        axes = [None] * len(data_shape)
        axes[0] = self._batch_dim_name
        return TensorLayout(axes, self._device_mesh)

    def get_variable_layout(self, variable) -> TensorLayout:
        """Return the `TensorLayout` of a variable (anything with `.path` and `.shape`)."""
        raise NotImplementedError

    def get_tensor_layout(self, path: str) -> TensorLayout | None:
        """Return the `TensorLayout` of an intermediate tensor named `path`, or `None`."""
        raise NotImplementedError

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Context manager making this distribution the current one."""
        original = distribution()
        set_distribution(self)
        try:
            yield
        finally:
            set_distribution(original)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} device_mesh={self._device_mesh}>"


class DataParallel(Distribution):
    """Distribution for data parallelism: variables replicated, every batch split.

    Give a 1D `device_mesh` or a list of `devices` (not both); with neither, every device of
    `list_devices()` forms a 1D mesh with axis `"batch"`. XLA reduces the gradients over the
    replicas (an all-reduce inserted by the compiler), so training equals one device on the
    same global batches.

    Args:
        device_mesh: optional `DeviceMesh`; its first axis is the data-parallel axis.
        devices: optional list of devices.
        auto_shard_dataset: see `Distribution`.

    Example:
        >>> from unrolled import distribution
        >>> dp = distribution.DataParallel(devices=["cpu:0"])
        >>> dp.batch_dim_name, dp.num_model_replicas
        ('batch', 1)

    """

    def __init__(self, device_mesh: DeviceMesh | None = None, devices=None,
                 auto_shard_dataset: bool = True):
        if device_mesh is not None:
            if not isinstance(device_mesh, DeviceMesh):
                raise ValueError(
                    "Expect `mesh` to be an instance of `DeviceMesh`. Received: "
                    f"mesh={device_mesh} (of type {type(device_mesh)})"
                )
            if device_mesh.devices.ndim != 1:
                warnings.warn(
                    f"Expect the input mesh to be 1D, but received mesh.devices.ndim="
                    f"{device_mesh.devices.ndim}. The first axis will be used for "
                    "data-parallel sharding.",
                    stacklevel=2,
                )
            super().__init__(device_mesh, device_mesh.axis_names[0], auto_shard_dataset)
            return
        devices = np.array(list_devices() if devices is None else devices, dtype=object)
        mesh = DeviceMesh(devices.shape, [DEFAULT_BATCH_DIM_NAME], devices)
        super().__init__(mesh, DEFAULT_BATCH_DIM_NAME, auto_shard_dataset)

    @property
    def num_model_replicas(self) -> int:
        """Number of model replicas (devices along the batch axis)."""
        return self._device_mesh.devices.size

    def get_variable_layout(self, variable) -> TensorLayout:
        """Return the variable's `TensorLayout` (see `Distribution`)."""
        layout = getattr(variable, "_layout", None)
        if layout is not None:
            return layout
        return TensorLayout([None] * len(variable.shape), self._device_mesh)

    def get_tensor_layout(self, path: str) -> None:
        """Return `None`: data parallelism keeps intermediate layouts."""
        return None


class ModelParallel(Distribution):
    """Distribution that shards variables by a `LayoutMap`, and batches over `batch_dim_name`.

    Variables whose path matches no key of the layout map are replicated. With a mesh of shape
    `(2, 4)` and axes `("batch", "model")`, each batch is split in 2 and each sharded kernel in 4.

    Args:
        layout_map: `LayoutMap` from variable paths to layouts; its mesh is the distribution's.
        batch_dim_name: mesh axis to split input batches over; defaults to the first axis.
        auto_shard_dataset: see `Distribution`.

    Example:
        >>> from unrolled import distribution
        >>> mesh = distribution.DeviceMesh((1, 1), ["batch", "model"], devices=["cpu:0"])
        >>> layout_map = distribution.LayoutMap(mesh)
        >>> layout_map[".*lstm_cell/kernel"] = (None, "model")
        >>> mp = distribution.ModelParallel(layout_map=layout_map, batch_dim_name="batch")
        >>> mp.num_model_replicas
        1

    """

    def __init__(self, *, layout_map: LayoutMap | None = None, batch_dim_name: str | None = None,
                 auto_shard_dataset: bool = True, **kwargs):
        kwargs.pop("device_mesh", None)
        if kwargs:
            raise TypeError(f"Unexpected keyword arguments: {sorted(kwargs)}.")
        if layout_map is None:
            raise ValueError("You must specify a layout_map argument.")
        if not isinstance(layout_map, LayoutMap):
            raise ValueError(
                f"Argument `layout_map` must be a `LayoutMap` instance. Received: "
                f"layout_map={layout_map}"
            )
        mesh = layout_map.device_mesh
        batch_dim_name = batch_dim_name or mesh.axis_names[0]
        if batch_dim_name not in mesh.axis_names:
            raise ValueError(f"batch_dim_name {batch_dim_name!r} is not an axis of the mesh "
                             f"{mesh.axis_names}; pass one of them.")
        super().__init__(mesh, batch_dim_name, auto_shard_dataset)
        self._layout_map = layout_map
        if (self._is_multi_process and self.num_processes > self.num_model_replicas
                and self.num_processes % self.num_model_replicas):
            raise ValueError(
                "If `num_processes` is greater than `num_model_replicas`, `num_processes` must "
                f"be divisible by `num_model_replicas`. Got num_processes={self.num_processes}, "
                f"num_model_replicas={self.num_model_replicas}."
            )

    @property
    def num_model_replicas(self) -> int:
        """Number of model replicas (devices along the batch axis)."""
        return self._device_mesh.axis_size(self._batch_dim_name)

    def get_variable_layout(self, variable) -> TensorLayout:
        """Return the variable's `TensorLayout` (see `Distribution`)."""
        layout = getattr(variable, "_layout", None)
        if layout is None:
            layout = self._layout_map[variable.path]
        if layout is None:
            layout = TensorLayout([None] * len(variable.shape), self._device_mesh)
        return layout

    def get_tensor_layout(self, path: str) -> TensorLayout | None:
        """Return the layout map's entry for `path`, or `None`."""
        return self._layout_map[path]


def distribution() -> Distribution | None:
    """Retrieve the current distribution from the global context (`None` when unset)."""
    return _GLOBAL["distribution"]


def set_distribution(value: Distribution | None) -> None:
    """Set the distribution as the global distribution setting.

    Args:
        value: a `Distribution` instance, or `None` for one device.

    """
    if value is not None and not isinstance(value, Distribution):
        raise ValueError(f"Expected a Distribution (DataParallel, ModelParallel) or None; "
                         f"received {value!r}.")
    _GLOBAL["distribution"] = value


def distribute_tensor(tensor, layout):
    """Change the layout of a tensor: `device_put` eagerly, a sharding constraint under `jit`.

    Args:
        tensor: a `jax.Array` (or NumPy array) to lay out.
        layout: a `TensorLayout` or a `jax.sharding.Sharding`.

    Returns:
        the tensor with the given layout.

    """
    sharding = layout.backend_layout if isinstance(layout, TensorLayout) else layout
    if isinstance(tensor, jax.core.Tracer):
        return jax.lax.with_sharding_constraint(tensor, sharding)
    return jax.device_put(tensor, sharding)


def initialize(job_addresses: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
    """Initialize the distribution system for a multi-host / multi-process setting.

    Call it first in every process, before any computation. Calls `jax.distributed.initialize`
    with the first address of `job_addresses` as the coordinator (process 0's host and port).
    Unset arguments are read from the environment variables `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
    `KERAS_DISTRIBUTION_NUM_PROCESSES` and `KERAS_DISTRIBUTION_PROCESS_ID`, as Keras; on CPU
    the processes talk through gloo collectives.

    Args:
        job_addresses: comma-separated `host:port` of every process, or only the coordinator's.
        num_processes: number of processes in the cluster.
        process_id: this process's id, from `0` (the coordinator) to `num_processes - 1`.

    Example:
        ```python
        # on every host, with its own process_id:
        distribution.initialize("10.0.0.1:1234", num_processes=2, process_id=0)
        ```

    """
    env = os.environ
    if job_addresses is None:
        job_addresses = env.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    if num_processes is None and "KERAS_DISTRIBUTION_NUM_PROCESSES" in env:
        num_processes = int(env["KERAS_DISTRIBUTION_NUM_PROCESSES"])
    if process_id is None and "KERAS_DISTRIBUTION_PROCESS_ID" in env:
        process_id = int(env["KERAS_DISTRIBUTION_PROCESS_ID"])
    coordinator = job_addresses
    if job_addresses and "," in job_addresses:
        addresses = job_addresses.split(",")
        if num_processes is not None and num_processes != len(addresses):
            raise ValueError(
                f"The provided job_addresses {addresses} has {len(addresses)} jobs, but "
                f"num_processes is {num_processes}; list one address per process."
            )
        coordinator = addresses[0]
    if process_id is not None and num_processes is not None and not (
            0 <= process_id < num_processes):
        raise ValueError(f"process_id must be in [0, {num_processes}); received {process_id}.")
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id)
