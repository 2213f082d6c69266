r"""The structure of matrices: ``diagonal`` (a view), ``diag``, ``trace``, ``tril``,
``triu``.

The diagonal with offset :math:`k` of a matrix holds the elements :math:`x_{i, i+k}`
(:math:`k > 0` above the main diagonal, :math:`k < 0` below). ``diagonal`` is a
primitive because it is a view that in-place writes go through; the others are
compositions: ``trace`` sums the diagonal, ``diag`` reads it or writes a vector into
zeros along it, and ``tril``/``triu`` zero one triangle with a constant mask, so the
gradient is the output's gradient with the same triangle zeroed.
"""

from __future__ import annotations

from chainrule._backend import xp
from chainrule.autograd.views import make_view
from chainrule.errors import ShapeError
from chainrule.ops._common import normalize_dim
from chainrule.ops._out import write_out
from chainrule.ops.indexing import add_at
from chainrule.ops.op import Op
from chainrule.ops.reduction import sum as _sum
from chainrule.ops.selection import masked_fill
from chainrule.tensor import Tensor, as_tensor

__all__ = ["diag", "diagonal", "trace", "tril", "triu"]


def _diagonal_index(shape: tuple, offset: int, d1: int, d2: int) -> tuple:
    """The positions in an array of ``shape`` of its diagonal (as ``xp.diagonal`` lays it
    out: the other dimensions in order, the diagonal last), one integer array per
    dimension, broadcasting to the diagonal's shape."""
    r0, c0 = max(-offset, 0), max(offset, 0)
    length = max(0, min(shape[d1] - r0, shape[d2] - c0))
    rest = [d for d in range(len(shape)) if d not in (d1, d2)]
    nout = len(rest) + 1
    index = [None] * len(shape)
    for pos, d in enumerate(rest):
        index[d] = xp.arange(shape[d]).reshape([-1 if p == pos else 1 for p in range(nout)])
    k = xp.arange(length).reshape([1] * (nout - 1) + [-1])
    index[d1], index[d2] = k + r0, k + c0
    return tuple(index)


class Diagonal(Op):
    r"""Forward: :math:`y_{\ldots, k} = x_{\ldots, r_0 + k, \ldots, c_0 + k, \ldots}`, the
    diagonal with offset :math:`c_0 - r_0` over ``dim1`` and ``dim2``, which are removed
    and replaced by a last dimension (a view of :math:`x`, as in PyTorch).

    Backward: :math:`\bar x` is 0 off the diagonal and :math:`\bar y` on it.
    """

    def forward(self, x, offset, d1, d2):
        self.in_shape = x.shape
        self.index = _diagonal_index(x.shape, offset, d1, d2)
        view = xp.diagonal(x, offset, d1, d2)
        if x.flags.writeable:
            view.flags.writeable = True  # NumPy hands out a read-only one; PyTorch's is not
        return view

    def backward(self, lib, g):
        return lib.index_add(self.in_shape, self.index, g, False), None, None, None


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A view of the diagonal with ``offset`` over dimensions ``dim1`` and ``dim2``,
    which become the last dimension of the result."""
    x = as_tensor(input)
    ndim = x._array.ndim
    if ndim < 2:
        raise IndexError(f"diagonal: needs a tensor of at least 2 dimensions, got shape {x.shape}")
    d1 = normalize_dim(dim1, ndim, "diagonal")
    d2 = normalize_dim(dim2, ndim, "diagonal")
    if d1 == d2:
        raise ValueError(f"diagonal: dimensions cannot be identical {dim1}, {dim2}")
    step = (Diagonal, (int(offset), d1, d2))
    return make_view(Diagonal.apply(x, int(offset), d1, d2), x, step)


_diagonal_view = diagonal  # (diag's argument named ``diagonal`` hides the function there)


def diag(input, diagonal: int = 0, *, out=None) -> Tensor:
    """A 1-D tensor -> the square matrix with it on diagonal ``diagonal`` (zeros
    elsewhere); a 2-D tensor -> its diagonal ``diagonal``, as a new 1-D tensor."""
    x = as_tensor(input)
    if x._array.ndim == 2:
        return write_out("diag", _diagonal_view(x, diagonal).clone(), out)
    if x._array.ndim != 1:
        raise ShapeError(f"diag(): supports 1D or 2D tensors, got {x._array.ndim}D")
    n = x._array.shape[0] + abs(diagonal)
    index = _diagonal_index((n, n), diagonal, 0, 1)
    return write_out("diag", add_at((n, n), index, x, accumulate=False), out)


def trace(input) -> Tensor:
    """The sum of the main diagonal of a 2-D tensor (integers sum to int64)."""
    x = as_tensor(input)
    if x._array.ndim != 2:
        raise ShapeError(f"trace: expected a matrix, but got a tensor with dim {x._array.ndim}")
    return _sum(diagonal(x))


def _triangle(name: str, input, k: int, lower: bool, out) -> Tensor:
    x = as_tensor(input)
    if x._array.ndim < 2:
        raise ShapeError(f"{name}: input tensor must have at least 2 dimensions, got {x.shape}")
    n, m = x._array.shape[-2:]
    keep = xp.tri(n, m, k, dtype=bool) if lower else ~xp.tri(n, m, k - 1, dtype=bool)
    return write_out(name, masked_fill(x, ~keep, 0), out)


def tril(input, diagonal: int = 0, *, out=None) -> Tensor:
    """The lower triangle: elements above diagonal ``diagonal`` set to 0 (over the last
    two dimensions)."""
    return _triangle("tril", input, diagonal, True, out)


def triu(input, diagonal: int = 0, *, out=None) -> Tensor:
    """The upper triangle: elements below diagonal ``diagonal`` set to 0."""
    return _triangle("triu", input, diagonal, False, out)
