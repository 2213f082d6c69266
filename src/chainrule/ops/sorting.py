r"""Ordering values: ``sort``, ``argsort``, ``topk`` and ``unique``.

``sort`` and ``topk`` return ``(values, indices)``: the indices come from a stable sort
of the values (not differentiable), and the values are read at those indices
(:class:`~chainrule.ops.indexing.GetItem`), so each value's gradient goes back to the
element it came from: :math:`\bar x_{\pi(k)} = \bar y_k`, zero for elements ``topk``
left out.

Conventions:

* Ties keep their input order (a stable sort), ascending or descending: this is
  PyTorch's ``stable=True``, which chainrule always gives. (PyTorch's default is free
  to order ties otherwise, and its ``topk`` names no rule for ties; chainrule's ``topk``
  takes the tied elements that come first.)
* NaN sorts above every number, as in PyTorch: last ascending, first descending, and
  the "largest" for ``topk``.
* ``unique`` is not differentiable (PyTorch records it but cannot differentiate it
  either) and always sorts; NaNs are never equal, so each is its own unique value.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from chainrule import dtypes as _dt
from chainrule._backend import xp
from chainrule._recording import refuse_capture
from chainrule.ops._common import normalize_dim
from chainrule.ops._out import write_out
from chainrule.ops.indexing import GetItem
from chainrule.tensor import Tensor, _make, as_tensor

__all__ = ["argsort", "sort", "topk", "unique"]

SortResult = namedtuple("sort", ["values", "indices"])
TopKResult = namedtuple("topk", ["values", "indices"])


def _stable_order(a, axis: int, descending: bool):
    """Indices that sort ``a`` along ``axis``, ties in input order, NaN as the largest."""
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable")
    # Sorting the reversed array ascending and reversing the result puts the largest
    # first, NaN first, and ties back in input order.
    n = a.shape[axis]
    order = xp.argsort(xp.flip(a, axis), axis=axis, kind="stable")
    return n - 1 - xp.flip(order, axis)


def _take(x: Tensor, order, axis: int) -> Tensor:
    """``x`` read at ``order`` along ``axis`` (each position once: no accumulation)."""
    grid = list(np.ix_(*(np.arange(s) for s in order.shape)))
    grid[axis] = order
    return GetItem.apply(x, tuple(xp.asarray(g) for g in grid), False)


def argsort(input, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (int64; stable: see the module)."""
    x = as_tensor(input)
    a = x._array
    if a.ndim == 0:
        normalize_dim(dim, 0, "argsort")
        return _make(xp.zeros((), dtype=_dt.int64), None, False)
    axis = normalize_dim(dim, a.ndim, "argsort")
    order = _stable_order(a, axis, bool(descending)).astype(_dt.int64)
    return _make(order, None, False)


def sort(input, dim: int = -1, descending: bool = False, *, stable: bool = False, out=None):
    """``(values, indices)``: ``input`` sorted along ``dim``, and where each value was."""
    x = as_tensor(input)
    order = argsort(x, dim, descending)
    if x._array.ndim == 0:
        values = x.clone()
    else:
        values = _take(x, order._array, normalize_dim(dim, x._array.ndim, "sort"))
    return write_out("sort", SortResult(values, order), out)


def topk(input, k: int, dim=None, largest: bool = True, sorted: bool = True, *, out=None):
    """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) elements
    along ``dim`` (the last by default), largest first (smallest first)."""
    x = as_tensor(input)
    a = x._array
    dim = -1 if dim is None else dim
    n = a.shape[normalize_dim(dim, a.ndim, "topk")] if a.ndim else 1
    if not isinstance(k, int) or not 0 <= k <= n:
        raise IndexError(f"topk: selected index k out of range: k={k} for a dimension of size {n}")
    if a.ndim == 0:
        return write_out("topk", TopKResult(x.clone(), argsort(x)), out)
    axis = normalize_dim(dim, a.ndim, "topk")
    order = _stable_order(a, axis, bool(largest))
    order = order[(slice(None),) * axis + (slice(0, k),)].astype(_dt.int64)
    result = TopKResult(_take(x, order, axis), _make(order, None, False))
    return write_out("topk", result, out)


def unique(
    input,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim=None,
):
    """The distinct values of ``input`` (sorted), or, with ``dim``, its distinct slices
    along ``dim``. ``return_inverse``: also where each element (slice) of the input went
    in the result; ``return_counts``: also how often each one occurs."""
    refuse_capture("unique makes a result whose shape depends on the values of its input")
    a = as_tensor(input)._array
    if dim is None:
        values, inverse, counts = xp.unique(
            a.reshape(-1), return_inverse=True, return_counts=True, equal_nan=False
        )
        inverse = inverse.reshape(a.shape)
    else:
        axis = normalize_dim(dim, a.ndim, "unique")
        values, inverse, counts = xp.unique(
            a, return_inverse=True, return_counts=True, axis=axis, equal_nan=False
        )
        inverse = inverse.reshape(-1)
    out = [_make(xp.asarray(values), None, False)]
    if return_inverse:
        out.append(_make(xp.asarray(inverse, dtype=_dt.int64), None, False))
    if return_counts:
        out.append(_make(xp.asarray(counts, dtype=_dt.int64), None, False))
    return out[0] if len(out) == 1 else tuple(out)
