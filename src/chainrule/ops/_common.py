"""Argument handling shared by the op families: dims, shapes, clear errors. (Dtype
promotion is in ``promotion.py``.)"""

from __future__ import annotations

import numpy as np

from chainrule._backend import ndarray
from chainrule.errors import ShapeError

__all__ = [
    "along",
    "broadcast_error",
    "normalize_dim",
    "normalize_dims",
    "shape_of",
]


def shape_of(x) -> tuple:
    """The shape of an array operand; () for a Python scalar."""
    return x.shape if type(x) is ndarray else np.shape(x)


def normalize_dim(dim, ndim: int, op: str) -> int:
    """A dimension index in [-ndim, ndim) turned into [0, ndim)."""
    if not isinstance(dim, int | np.integer) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an integer, got {type(dim).__name__} {dim!r}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], "
            f"but got {dim})"
        )
    return int(dim) % n if ndim else 0


def along(axis: int, part) -> tuple:
    """An index that applies ``part`` (a slice, an integer, an index array) to dimension
    ``axis`` and takes every element of the dimensions before it."""
    return (slice(None),) * axis + (part,)


def normalize_dims(dim, ndim: int, op: str):
    """``dim`` (None, an int, or a sequence) as a sorted tuple of axes, or None for all."""
    if dim is None:
        return None
    if isinstance(dim, int | np.integer):
        return (normalize_dim(dim, ndim, op),) if ndim else None
    if not isinstance(dim, list | tuple):
        raise TypeError(
            f"{op}: dim must be an integer or a tuple of integers, got {type(dim).__name__} {dim!r}"
        )
    dims = tuple(normalize_dim(d, ndim, op) for d in dim)
    if not dims:
        return None  # PyTorch reads an empty dim list as "all dimensions"
    if len(set(dims)) != len(dims):
        raise ValueError(f"{op}: dim {tuple(dim)} names a dimension more than once")
    return tuple(sorted(set(dims))) if ndim else None


def broadcast_error(op: str, *shapes) -> ShapeError:
    """A ShapeError naming the first dimension where ``shapes`` cannot be broadcast."""
    shapes = [tuple(s) for s in shapes]
    ndim = max(len(s) for s in shapes)
    for k in range(1, ndim + 1):
        sizes = {s[-k] for s in shapes if len(s) >= k}
        if len(sizes - {1}) > 1:
            a, b = sorted(sizes - {1})[:2]
            return ShapeError(
                f"{op}: shapes {' and '.join(map(str, shapes))} cannot be broadcast together: "
                f"dimension {ndim - k} (counting from the left of the longer shape) has sizes "
                f"{a} and {b}, and neither is 1"
            )
    return ShapeError(f"{op}: shapes {' and '.join(map(str, shapes))} cannot be broadcast together")
