r"""Adaptive pooling: the output size is given, and the windows follow from it.

Output row :math:`i` of :math:`OH` pools input rows :math:`[\lfloor iH/OH \rfloor,
\lceil (i+1)H/OH \rceil)` (columns likewise), PyTorch's windows: they cover every row,
may differ in size by one, and overlap where :math:`OH` does not divide :math:`H`. Both
poolings are composed, so their derivatives come from the pieces:

* average: a window's mean is separable, the mean over its rows of the means over its
  columns, so :math:`Y = A_H\, X A_W^\top` with :math:`A_H` (OH, H) holding
  :math:`1/|\text{window}|` on each window's rows: two matrix products, and the
  backward is the transposed products, :math:`\bar X = A_H^\top \bar Y A_W`;
* maximum: the position of each window's maximum is found on the arrays (the first
  maximum in row-major order; a NaN wins, the last one if several, as in PyTorch), and
  the output gathers those positions, so the whole gradient of an output goes to the
  element it came from.

When the output size divides the input size, the windows are the ordinary ones of a
pooling with kernel = stride = H / OH, and that (faster) pooling computes the same.
"""

from __future__ import annotations

import numpy as np

from chainrule._backend import xp
from chainrule.errors import ShapeError
from chainrule.nn.module import Module
from chainrule.ops import conv as _conv
from chainrule.ops.indexing import gather
from chainrule.ops.linalg import matmul
from chainrule.tensor import Tensor, _make, as_tensor

__all__ = [
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
]


def _sizes(op: str, x: Tensor, output_size) -> tuple:
    """The output (OH, OW): ``output_size`` an int or a pair, None keeping the input's."""
    if isinstance(output_size, int) or output_size is None:
        pair = (output_size, output_size)
    else:
        pair = tuple(output_size)
    if len(pair) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    out = tuple(x.shape[-2 + i] if v is None else v for i, v in enumerate(pair))
    if not all(isinstance(v, int | np.integer) and v >= 0 for v in out):
        raise ValueError(f"{op}: output_size must hold non-negative integers, got {output_size!r}")
    return int(out[0]), int(out[1])


def _image(op: str, input) -> tuple:
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise ShapeError(
            f"{op}: expected a 4-D input (N, C, H, W) or a 3-D one (C, H, W), got shape {tuple(x.shape)}"
        )
    if x._array.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x._array.dtype}")
    return x


def windows(size: int, out: int) -> list:
    """PyTorch's adaptive windows: ``out`` (start, end) pairs covering ``range(size)``."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def _averaging(size: int, out: int, dtype) -> np.ndarray:
    """(out, size): row i holds 1/|window i| on window i's positions."""
    a = np.zeros((out, size))
    for i, (start, end) in enumerate(windows(size, out)):
        a[i, start:end] = 1.0 / (end - start)
    return xp.asarray(a.astype(dtype))


def adaptive_avg_pool2d(input, output_size):
    """The mean over each adaptive window (see the module docstring); ``output_size`` an
    int, a pair, or a pair with None (keep that dimension)."""
    x = _image("adaptive_avg_pool2d", input)
    (oh, ow), (h, w) = _sizes("adaptive_avg_pool2d", x, output_size), x.shape[-2:]
    if (oh, ow) == (1, 1):
        return x.mean((-2, -1), keepdim=True)
    if oh and ow and h % oh == 0 and w % ow == 0:
        return _conv.avg_pool2d(x, (h // oh, w // ow))
    dt = x._array.dtype
    rows = _make(_averaging(h, oh, dt), None, False)
    cols = _make(_averaging(w, ow, dt).T.copy(), None, False)
    return matmul(rows, matmul(x, cols))


def _first_max(values, axis: int):
    """Index of the first maximum along ``axis``, or of the last NaN where there is one
    (PyTorch's rule: a NaN beats everything, a later NaN an earlier one)."""
    first = xp.argmax(values, axis=axis)
    nan = xp.isnan(values)
    n = values.shape[axis]
    last_nan = n - 1 - xp.argmax(xp.flip(nan, axis=axis), axis=axis)
    return xp.where(nan.any(axis=axis), last_nan, first)


def _argmax_positions(a, oh: int, ow: int):
    """Flat index (row * W + column) of each adaptive window's maximum: the winning
    column of every row of each column window, then the winning row among them."""
    n, c, h, w = a.shape
    col_index = xp.empty((n, c, h, ow), dtype=np.int64)
    col_value = xp.empty((n, c, h, ow), dtype=a.dtype)
    for j, (start, end) in enumerate(windows(w, ow)):
        k = _first_max(a[..., start:end], 3)
        col_index[..., j] = start + k
        col_value[..., j] = xp.take_along_axis(a[..., start:end], k[..., None], 3)[..., 0]
    flat = xp.empty((n, c, oh, ow), dtype=np.int64)
    for i, (start, end) in enumerate(windows(h, oh)):
        r = _first_max(col_value[:, :, start:end], 2)
        col = xp.take_along_axis(col_index[:, :, start:end], r[:, :, None], 2)[:, :, 0]
        flat[:, :, i] = (start + r) * w + col
    return flat


def adaptive_max_pool2d(input, output_size, return_indices: bool = False):
    """The maximum over each adaptive window; ``return_indices`` also returns, for each
    output, the flat position (row * W + column) of the element it came from."""
    x = _image("adaptive_max_pool2d", input)
    (oh, ow), (h, w) = _sizes("adaptive_max_pool2d", x, output_size), x.shape[-2:]
    if not return_indices and oh and ow and h % oh == 0 and w % ow == 0:
        return _conv.max_pool2d(x, (h // oh, w // ow))
    if h * w == 0:
        raise ShapeError(f"adaptive_max_pool2d: cannot pool an empty input {tuple(x.shape)}")
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    n, c = x.shape[:2]
    flat = _argmax_positions(x._array, oh, ow)
    out = gather(x.reshape(n, c, h * w), 2, flat.reshape(n, c, oh * ow)).reshape(n, c, oh, ow)
    if unbatched:
        out, flat = out.squeeze(0), flat[0]
    return (out, _make(flat, None, False)) if return_indices else out


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (``output_size``: an int, or a pair whose
    None entries keep the input's size), whatever the input size."""

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed output size; ``return_indices`` also returns the positions."""

    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        return adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
