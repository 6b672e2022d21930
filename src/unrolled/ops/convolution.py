"""N-D convolution (cross-correlation) as ``keras.ops.conv``, and its output lengths.

The kernel is laid out as Keras's: ``(*kernel_size, in_channels // groups, filters)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def conv(
    x: jax.Array,
    kernel: jax.Array,
    strides: tuple[int, ...],
    padding: str = "valid",
    dilation_rate: tuple[int, ...] | None = None,
    data_format: str = "channels_last",
    groups: int = 1,
) -> jax.Array:
    """Convolve ``x`` (``(B, *S, C)`` or ``(B, C, *S)``) with ``kernel``.

    Args:
        x: inputs with ``rank = kernel.ndim - 2`` spatial axes.
        kernel: ``(*k, C // groups, F)``.
        strides: one step per spatial axis.
        padding: ``"valid"``, ``"same"`` (XLA's ``SAME``: extra padding on the right) or
            ``"causal"`` (rank 1 only: ``dilation * (k - 1)`` zeros on the left).
        dilation_rate: spacing of the kernel taps per spatial axis (default 1).
        data_format: ``"channels_last"`` or ``"channels_first"``.
        groups: input channel groups, each with its own ``F // groups`` filters.

    Returns:
        ``(B, *S_out, F)`` (channels_last) or ``(B, F, *S_out)``.

    """
    rank = kernel.ndim - 2
    dilation_rate = dilation_rate or (1,) * rank
    spatial = "DHW"[-rank:] if rank <= 3 else None
    if spatial is None or x.ndim != rank + 2:
        raise ValueError(f"conv expects inputs of rank {rank + 2} for a kernel of rank "
                         f"{kernel.ndim}; received shape {tuple(x.shape)}.")
    lhs = "N" + spatial + "C" if data_format == "channels_last" else "NC" + spatial
    pad = "SAME" if padding == "same" else "VALID"
    if padding == "causal":
        left = dilation_rate[0] * (kernel.shape[0] - 1)
        width = [(0, 0)] * x.ndim
        width[lhs.index(spatial[0])] = (left, 0)
        x = jnp.pad(x, width)  # time axis grows by `left`
    return jax.lax.conv_general_dilated(
        x, kernel, window_strides=tuple(strides), padding=pad, rhs_dilation=tuple(dilation_rate),
        dimension_numbers=(lhs, spatial + "IO", lhs), feature_group_count=groups,
    )  # (B, *S_out, F) or (B, F, *S_out)


def output_length(length: int | None, kernel: int, stride: int, dilation: int,
                  padding: str) -> int | None:
    """Length of one spatial axis after a convolution (``None`` stays ``None``)."""
    if length is None:
        return None
    if padding in ("same", "causal"):
        return -(-length // stride)
    span = dilation * (kernel - 1) + 1
    return max(0, (length - span) // stride + 1)
