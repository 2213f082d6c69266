r"""Indexing along one dimension by an index tensor: ``index_select``, ``index_add``,
``scatter``, ``scatter_add``, and ``nonzero``, which finds indices.

All are compositions of the two indexing ops of ``ops/indexing.py``: reading
``x[index]`` (:class:`~chainrule.ops.indexing.GetItem`) and adding values into zeros at
an index (:class:`~chainrule.ops.indexing.IndexAdd`, the backward of reading). So the
gradients are the ones these imply:

* ``index_select(x, d, i)`` reads :math:`y = x[\ldots, i, \ldots]`; the gradient adds
  back at ``i``, once per occurrence of an index.
* ``index_add(x, d, i, s)`` and ``scatter_add(x, d, i, s)`` are
  :math:`y = x + \mathrm{add\_at}(i, \alpha s)`: :math:`\bar x = \bar y` and
  :math:`\bar s = \alpha\,\bar y[i]`.
* ``scatter(x, d, i, s)`` writes :math:`s` at the positions ``i`` names (where an index
  repeats, the last write wins, as on PyTorch's CPU): :math:`\bar x` is :math:`\bar y`
  outside those positions and 0 inside; every element of :math:`s` receives
  :math:`\bar y` at the position it was sent to, overwritten or not, as PyTorch's
  ``gather`` of the gradient gives.
"""

from __future__ import annotations

import numpy as np

from chainrule import dtypes as _dt
from chainrule._backend import xp
from chainrule._recording import refuse_capture, replayable
from chainrule.autograd.grad_mode import STATE
from chainrule.errors import ShapeError
from chainrule.ops._common import along, normalize_dim
from chainrule.ops._out import write_out
from chainrule.ops.arithmetic import _check_alpha
from chainrule.ops.indexing import IndexSelect, add_at, getitem
from chainrule.ops.selection import masked_fill, where
from chainrule.tensor import Tensor, _make, as_tensor

__all__ = ["index_add", "index_select", "nonzero", "scatter", "scatter_add"]


def _index_vector(name: str, index, n: int) -> np.ndarray:
    """A 0-d or 1-D integer index as a 1-D array, every value in [0, n)."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): index must be a tensor, got {type(index).__name__}")
    idx = index._array
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}(): expected an int32 or int64 index, got dtype {idx.dtype}")
    if idx.ndim > 1:
        raise IndexError(f"{name}(): index is supposed to be a vector, got shape {idx.shape}")
    _check_vector(name, idx, n)
    return idx  # 0-d or 1-D: the caller flattens it (the tensor's own array, for a replay)


@replayable  # a check of the index values: a step captured by cr.compile repeats it
def _check_vector(name: str, idx, n: int) -> None:
    idx = idx.reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)][0]
        raise IndexError(f"{name}(): index {bad} is out of bounds for a dimension of size {n}")


def index_select(input, dim: int, index, *, out=None) -> Tensor:
    """The slices of ``input`` along ``dim`` at the positions in ``index`` (a 1-D integer
    tensor; repeats allowed), as a new tensor."""
    x = as_tensor(input)
    if x._array.ndim == 0:
        normalize_dim(dim, 0, "index_select")
        idx = _index_vector("index_select", index, 1)
        if idx.size != 1:
            raise IndexError(
                f"index_select(): index to a 0-d tensor can have only 1 value, got {idx.size}"
            )
        return write_out("index_select", x.clone(), out)
    axis = normalize_dim(dim, x._array.ndim, "index_select")
    idx = _index_vector("index_select", index, x._array.shape[axis])
    return write_out("index_select", IndexSelect.apply(x, idx, axis), out)


def index_add(input, dim: int, index, source, *, alpha=1, out=None) -> Tensor:
    """``input`` with ``alpha * source[..., k, ...]`` added at ``input[..., index[k], ...]``
    along ``dim`` (repeated indices add up), as PyTorch's ``index_add``."""
    x, s = as_tensor(input), as_tensor(source)
    if x._array.dtype != s._array.dtype:
        raise TypeError(
            f"index_add(): self ({x._array.dtype}) and source ({s._array.dtype}) must have "
            "the same dtype"
        )
    if alpha != 1:
        _check_alpha("index_add", x, s, alpha)
    ndim = x._array.ndim
    axis = normalize_dim(dim, ndim, "index_add")
    n = x._array.shape[axis] if ndim else 1
    idx = _index_vector("index_add", index, n).reshape(-1)
    want = list(x._array.shape)
    if ndim:
        want[axis] = idx.size
    if s._array.ndim != ndim or list(s._array.shape) != want:
        raise ShapeError(
            f"index_add(): source must have the shape of self except in dimension {axis}, "
            f"where it has one slice per index ({idx.size}): expected {tuple(want)}, got "
            f"{tuple(s._array.shape)}"
        )
    values = s if alpha == 1 else s * alpha
    if ndim == 0:
        return write_out("index_add", x + values, out)
    return write_out("index_add", x + add_at(x._array.shape, along(axis, idx), values), out)


def _scatter_grid(name: str, x: Tensor, dim: int, index, src) -> tuple:
    """Check ``index`` (and a tensor ``src``) against ``x``, PyTorch's rules, and return
    the full index: for every element of ``index``, its position in ``x``."""
    if not isinstance(index, Tensor) or index._array.dtype.kind not in "iu":
        raise TypeError(f"{name}(): index must be an integer tensor")
    idx = index._array
    ndim = x._array.ndim
    axis = normalize_dim(dim, ndim, name)
    if idx.ndim != ndim or (isinstance(src, Tensor) and src._array.ndim != ndim):
        raise ShapeError(
            f"{name}(): index (shape {tuple(idx.shape)}) and src must have the same number "
            f"of dimensions as self (shape {tuple(x.shape)})"
        )
    for d in range(ndim):
        too_big = d != axis and idx.shape[d] > x._array.shape[d]
        if too_big or (isinstance(src, Tensor) and idx.shape[d] > src._array.shape[d]):
            raise ShapeError(
                f"{name}(): expected index {list(idx.shape)} to be no larger than self "
                f"{list(x.shape)} apart from dimension {axis} and to be no larger than src"
                + (f" {list(src.shape)}" if isinstance(src, Tensor) else "")
            )
    _check_scatter(name, idx, x._array.shape[axis] if ndim else 1, axis)
    if ndim == 0:
        return ()
    grid = list(np.ix_(*(np.arange(k) for k in idx.shape)))
    grid[axis] = idx
    return tuple(xp.asarray(g) for g in grid)


@replayable  # a check of the index values: a step captured by cr.compile repeats it
def _check_scatter(name: str, idx, n: int, axis: int) -> None:
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)][0]
        raise IndexError(f"{name}(): index {bad} is out of bounds for dimension {axis} of size {n}")


def _source(name: str, x: Tensor, index: Tensor, src: Tensor) -> Tensor:
    """The part of ``src`` that ``index`` covers (PyTorch reads only that much)."""
    if src._array.dtype != x._array.dtype:
        raise TypeError(
            f"{name}(): expected self.dtype ({x._array.dtype}) to be equal to src.dtype "
            f"({src._array.dtype})"
        )
    if src._array.shape == index._array.shape:
        return src
    return getitem(src, tuple(slice(0, k) for k in index._array.shape))


def scatter_add(input, dim: int, index, src) -> Tensor:
    """``input`` with each ``src`` element added at the position ``index`` names along
    ``dim`` (``out[i][index[i][j]] += src[i][j]`` for ``dim=1``); repeats add up."""
    x = as_tensor(input)
    src = as_tensor(src)
    grid = _scatter_grid("scatter_add", x, dim, index, src)
    return x + add_at(x._array.shape, grid, _source("scatter_add", x, index, src))


def scatter(input, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:
    """``input`` with ``src`` (a tensor, or a number, also given as ``value=``) written at
    the positions ``index`` names along ``dim``: ``out[i][index[i][j]] = src[i][j]`` for
    ``dim=1``. ``reduce='add'`` or ``'multiply'`` combines instead of overwriting."""
    x = as_tensor(input)
    if (src is None) == (value is None):
        raise TypeError("scatter(): give exactly one of src (a tensor) and value (a number)")
    if not isinstance(src, Tensor):
        src, value = None, src if value is None else value
    if reduce not in (None, "add", "multiply"):
        raise ValueError(f"scatter(): reduce must be 'add' or 'multiply', got {reduce!r}")
    grid = _scatter_grid("scatter", x, dim, index, src)
    if src is None and reduce == "add":
        src = as_tensor(xp.full(index._array.shape, value, dtype=x._array.dtype))
    if reduce == "add":
        return scatter_add(x, dim, index, src)
    if reduce == "multiply":
        return _scatter_multiply(x, index, grid, src, value)
    mask = xp.zeros(x._array.shape, dtype=bool)
    mask[grid] = True
    if src is None:
        return masked_fill(x, mask, value)
    part = _source("scatter", x, index, src)
    return where(mask, add_at(x._array.shape, grid, part, accumulate=False), x)


def _scatter_multiply(x: Tensor, index: Tensor, grid: tuple, src, value) -> Tensor:
    """``scatter(..., reduce='multiply')``: forward only, as PyTorch has no gradient."""
    if STATE.grad and (x.requires_grad or (isinstance(src, Tensor) and src.requires_grad)):
        raise RuntimeError(
            "scatter(reduce='multiply') is not differentiable; compute it under cr.no_grad() "
            "or with detached inputs"
        )
    factors = value if src is None else _source("scatter", x, index, src)._array
    factors = xp.broadcast_to(xp.asarray(factors, dtype=x._array.dtype), index._array.shape)
    out = x._array.copy()
    xp.multiply.at(out, grid, factors)
    return _make(out, None, False)


def nonzero(input, *, out=None, as_tuple: bool = False):
    """The indices of the non-zero elements: an int64 tensor of shape (count, ndim), one
    row per element in row-major order, or with ``as_tuple=True`` one 1-D tensor per
    dimension (what ``x[mask]`` would index with). NaN counts as non-zero."""
    refuse_capture("nonzero makes a result whose shape depends on the values of its input")
    a = as_tensor(input)._array
    if a.ndim == 0:
        found = bool(a != 0)
        if as_tuple:
            return (_make(xp.zeros(int(found), dtype=_dt.int64), None, False),)
        result = _make(xp.zeros((int(found), 0), dtype=_dt.int64), None, False)
        return write_out("nonzero", result, out)
    if as_tuple:
        return tuple(_make(i.astype(_dt.int64), None, False) for i in xp.nonzero(a))
    return write_out("nonzero", _make(xp.argwhere(a).astype(_dt.int64), None, False), out)
