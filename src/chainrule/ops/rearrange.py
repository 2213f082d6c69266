r"""Rearranging a tensor: ``flip roll repeat tile`` (copies) and ``split chunk unbind``
(views).

``flip`` is a primitive (its backward is a flip); the rest are compositions:

* ``roll`` joins two slices with ``cat`` (its backward slices the gradient back);
* ``repeat`` and ``tile`` interleave size-1 dimensions, ``expand`` them and ``reshape``,
  so the backward sums each copy's gradient back onto the original;
* ``split``, ``chunk`` and ``unbind`` are basic indexing, so each piece is a view of the
  input, as in PyTorch: writing into a piece changes the input, and autograd follows
  (``ops/inplace.py``). Each piece's gradient goes back into its own region.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from chainrule._backend import xp
from chainrule.autograd.views import make_view
from chainrule.errors import ShapeError
from chainrule.ops._common import along, normalize_dim
from chainrule.ops.indexing import GetItem
from chainrule.ops.op import Op
from chainrule.ops.shape import _shape_arg, cat, expand, flatten, reshape
from chainrule.tensor import Tensor, as_tensor

__all__ = ["chunk", "flip", "repeat", "roll", "split", "tile", "unbind"]


class Flip(Op):
    r"""Forward: the elements in reverse order along ``dims`` (a copy, as PyTorch's).

    Backward: :math:`\bar x = \mathrm{flip}(\bar y)` along the same dims.
    """

    def forward(self, x, axes):
        self.axes = axes
        return xp.flip(x, axes).copy()

    def backward(self, lib, g):
        return lib.flip(g, self.axes), None


def flip(input, dims) -> Tensor:
    """Reverse the order of the elements along each dimension in ``dims`` (a sequence)."""
    x = as_tensor(input)
    if not isinstance(dims, Sequence):
        raise TypeError(f"flip(): dims must be a tuple of ints, not {type(dims).__name__}")
    axes = tuple(normalize_dim(d, x._array.ndim, "flip") for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"flip(): dims {tuple(dims)} name a dimension more than once")
    if x._array.ndim == 0 or not axes:
        return x.clone()
    return Flip.apply(x, axes)


def roll(input, shifts, dims=None) -> Tensor:
    """Shift the elements along ``dims`` by ``shifts``, wrapping around the end; without
    ``dims``, the flattened tensor is rolled and the shape restored."""
    x = as_tensor(input)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise ValueError(
                f"roll(): shifts and dimensions must align: {len(shifts)} shifts, no dims"
            )
        return reshape(roll(flatten(x), shifts, 0), tuple(x.shape))
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise ValueError(
            f"roll(): shifts and dimensions must align: {len(shifts)} shifts, {len(dims)} dims"
        )
    if x._array.ndim == 0:
        raise IndexError(f"roll(): dimension {dims[0]} given, but the tensor has no dimensions")
    out = x
    for s, d in zip(shifts, dims):
        axis = normalize_dim(d, x._array.ndim, "roll")
        n = x._array.shape[axis]
        s = s % n if n else 0
        if s:
            out = cat(
                [out[along(axis, slice(n - s, None))], out[along(axis, slice(0, n - s))]], axis
            )
    return out if out is not x else x.clone()


def repeat(input, *sizes) -> Tensor:
    """``Tensor.repeat``: the tensor copied ``sizes[i]`` times along dimension i; extra
    leading sizes add dimensions (``sizes`` may not be shorter than the shape)."""
    x = as_tensor(input)
    sizes = _shape_arg(sizes, "repeat")
    shape = tuple(x._array.shape)
    if len(sizes) < len(shape):
        raise ShapeError(
            f"repeat: number of dimensions of repeat dims {sizes} can not be smaller than "
            f"the number of dimensions of the tensor, {shape}"
        )
    if any(s < 0 for s in sizes):
        raise ValueError(f"repeat: the repeats must be non-negative, got {sizes}")
    shape = (1,) * (len(sizes) - len(shape)) + shape
    ones = tuple(v for n in shape for v in (1, n))  # (1, n0, 1, n1, ...)
    stretched = tuple(v for r, n in zip(sizes, shape) for v in (r, n))
    out = reshape(expand(reshape(x, ones), stretched), tuple(r * n for r, n in zip(sizes, shape)))
    if np.may_share_memory(out._array, x._array):
        out = out.clone()  # repeat always copies
    return out


def tile(input, dims) -> Tensor:
    """``repeat`` that accepts fewer sizes than dimensions (1s are prepended)."""
    x = as_tensor(input)
    dims = _shape_arg((dims,) if isinstance(dims, int) else tuple(dims), "tile")
    dims = (1,) * (x._array.ndim - len(dims)) + dims
    return repeat(x, dims)


def split(tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of consecutive pieces along ``dim``: pieces of ``split_size`` (the last may be
    smaller), or of the sizes in a list, which must add up to the dimension's size."""
    x = as_tensor(tensor)
    if x._array.ndim == 0:
        raise ShapeError("split expects at least a 1-dimensional tensor")
    axis = normalize_dim(dim, x._array.ndim, "split")
    n = x._array.shape[axis]
    if isinstance(split_size_or_sections, int | np.integer):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n):
            raise ValueError(
                f"split: split_size can only be 0 if dimension size is 0, but got "
                f"split_size {size} for a dimension of size {n}"
            )
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ValueError(
                f"split: split_sizes must be non-negative and sum exactly to {n} (the size of "
                f"dimension {axis}), but got {sizes}"
            )
    bounds = np.cumsum([0, *sizes]).tolist()
    return tuple(
        _piece(x, along(axis, slice(lo, hi)), f"Output {i} of Split")
        for i, (lo, hi) in enumerate(itertools.pairwise(bounds))
    )


def _piece(x: Tensor, index: tuple, name: str) -> Tensor:
    """``x[index]`` (basic indexing), a view marked as one of several pieces."""
    parts = (*index, Ellipsis)
    return make_view(GetItem.apply(x, parts, False), x, (GetItem, (parts, False)), name)


def chunk(input, chunks: int, dim: int = 0) -> tuple:
    """``chunks`` views of (nearly) equal size along ``dim``: each ``ceil(n / chunks)``
    long, the last shorter; fewer pieces when the size does not allow that many."""
    x = as_tensor(input)
    if chunks <= 0:
        raise ValueError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if x._array.ndim == 0:
        raise ShapeError("chunk expects at least a 1-dimensional tensor")
    n = x._array.shape[normalize_dim(dim, x._array.ndim, "chunk")]
    if n == 0:
        return split(x, [0] * chunks, dim)
    return split(x, math.ceil(n / chunks), dim)


def unbind(input, dim: int = 0) -> tuple:
    """The slices along ``dim``, each a view with that dimension removed."""
    x = as_tensor(input)
    if x._array.ndim == 0:
        raise IndexError("unbind: dimension specified as 0 but the tensor has no dimensions")
    axis = normalize_dim(dim, x._array.ndim, "unbind")
    n = x._array.shape[axis]
    return tuple(_piece(x, along(axis, i), f"Output {i} of Unbind") for i in range(n))
