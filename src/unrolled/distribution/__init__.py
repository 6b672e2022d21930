"""Keras 3's distribution API (`keras.distribution`) on `jax.sharding` and `jax.distributed`.

Keras's names: `list_devices`, `get_device_count`, `initialize`, `DeviceMesh`, `TensorLayout`,
`LayoutMap`, `DataParallel`, `ModelParallel`, `distribute_tensor`, `distribution`,
`set_distribution` (and `Distribution.scope()`). The placement functions below them are what
the training loop calls (see docs/distribution.md). Imports JAX and NumPy only.
"""

from unrolled.distribution.mesh import (
    DeviceMesh,
    LayoutMap,
    TensorLayout,
    get_device_count,
    list_devices,
)
from unrolled.distribution.placement import (
    data_sharding,
    dataset_shard,
    distribute_variables,
    global_batch_from_arrays,
    global_max,
    local_rows,
    make_global_batch,
    on_process_zero,
    process_rows,
    replicated,
    state_shardings,
    to_numpy,
    variable_shardings,
)
from unrolled.distribution.strategies import (
    DataParallel,
    Distribution,
    ModelParallel,
    distribute_tensor,
    distribution,
    initialize,
    set_distribution,
)

__all__ = [
    "DataParallel",
    "DeviceMesh",
    "Distribution",
    "LayoutMap",
    "ModelParallel",
    "TensorLayout",
    "data_sharding",
    "dataset_shard",
    "distribute_tensor",
    "distribute_variables",
    "distribution",
    "get_device_count",
    "global_batch_from_arrays",
    "global_max",
    "initialize",
    "list_devices",
    "local_rows",
    "make_global_batch",
    "on_process_zero",
    "process_rows",
    "replicated",
    "set_distribution",
    "state_shardings",
    "to_numpy",
    "variable_shardings",
]
