"""Argument handling shared by the op families: dims, dtype promotion, clear errors."""

from __future__ import annotations

import numpy as np

from chainrule import dtypes as _dt
from chainrule._backend import ndarray
from chainrule.errors import ShapeError
from chainrule.tensor import Tensor, as_tensor

__all__ = [
    "broadcast_error",
    "float_input",
    "normalize_dim",
    "normalize_dims",
    "prepare",
    "shape_of",
]

_PY_NUMBERS = (int, float)


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


def _fits(scalar, t: Tensor) -> bool:
    """Whether a Python number combines with ``t`` without changing its dtype."""
    kind = t._array.dtype.kind
    if type(scalar) is float:
        return kind == "f"
    return type(scalar) is int and kind in "fiu"


def prepare(a, b):
    """Bring two operands to the dtype PyTorch would compute in.

    The common cases (same dtype, or a Python number that fits) return at once. Otherwise
    non-tensors become constant tensors and every tensor is cast (differentiably) to the
    result dtype. Python numbers stay Python numbers: they never change a dtype.
    """
    ta = isinstance(a, Tensor)
    tb = isinstance(b, Tensor)
    if ta and tb:
        if a._array.dtype == b._array.dtype:
            return a, b
    elif ta and type(b) in _PY_NUMBERS:
        if _fits(b, a):
            return a, b
    elif tb and type(a) in _PY_NUMBERS and _fits(a, b):
        return a, b
    a = a if ta or type(a) in (int, float, bool) else as_tensor(a)
    b = b if tb or type(b) in (int, float, bool) else as_tensor(b)
    dt = _dt.result_type(a, b)
    return _cast_to(a, dt), _cast_to(b, dt)


def _cast_to(x, dt):
    if isinstance(x, Tensor):
        if x._array.dtype != dt:
            from chainrule.ops.shape import cast

            return cast(x, dt)
        return x
    if isinstance(x, bool) and dt.kind != "b":
        return int(x) if dt.kind in "iu" else float(x)
    if isinstance(x, int) and dt.kind == "f":
        return float(x)
    return x


def float_input(x, op: str) -> Tensor:
    """``x`` as a floating tensor: integer and bool tensors become the default dtype, as
    PyTorch does for ``exp``, ``log``, ``sqrt`` and friends."""
    if not isinstance(x, Tensor):
        x = as_tensor(x)
    if x._array.dtype.kind != "f":
        from chainrule.ops.shape import cast

        x = cast(x, _dt.get_default_dtype())
    return x


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
