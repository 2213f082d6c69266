"""Dtypes, the default floating dtype, and PyTorch's type-promotion rule.

chainrule's dtypes are NumPy dtype objects, so ``t.dtype == cr.float32`` and
``t.dtype == np.float32`` are both true for a float32 tensor.

Promotion follows PyTorch, not NumPy. Operands fall into three tiers: tensors with at
least one dimension, zero-dimensional tensors, and Python scalars. A lower tier changes
the result only when its category (bool < integer < floating) is higher than every
operand of the tiers above it. So ``float32 tensor + 2.5`` stays float32, an integer
tensor plus ``2.5`` becomes the default float dtype, and a float64 zero-dimensional
tensor added to a float32 matrix gives float32.
"""

from __future__ import annotations

import builtins

import numpy as np

__all__ = [
    "bool",
    "float16",
    "float32",
    "float64",
    "get_default_dtype",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_floating",
    "promote_types",
    "result_type",
    "set_default_dtype",
    "to_dtype",
    "uint8",
]

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool = np.dtype("bool")

_default = float32


def get_default_dtype() -> np.dtype:
    """The dtype given to Python floats and to factories without ``dtype`` (float32)."""
    return _default


def set_default_dtype(dtype) -> None:
    """Set the default floating dtype; only float32 and float64 are accepted."""
    global _default
    d = to_dtype(dtype)
    if d not in (float32, float64):
        raise TypeError(f"set_default_dtype: only float32 or float64 can be the default, got {d}")
    _default = d


def to_dtype(dtype) -> np.dtype:
    """Normalise a dtype given as a dtype, a NumPy type or a name (``"float32"``)."""
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"not a dtype: {dtype!r}") from None


def is_floating(dtype) -> builtins.bool:
    return dtype.kind == "f"


def _category(dtype) -> int:
    return {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}[dtype.kind]


def promote_types(a, b) -> np.dtype:
    """PyTorch's pairwise promotion: the higher category wins outright (int32 with float16
    gives float16); within a category the wider type wins, as in NumPy."""
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def _combine(higher, lower):
    # A lower tier only matters when it brings a higher category.
    if higher is None:
        return lower
    if lower is None:
        return higher
    if _category(lower) > _category(higher):
        return promote_types(higher, lower)
    return higher


def _scalar_dtype(x) -> np.dtype:
    if isinstance(x, builtins.bool):
        return bool
    if isinstance(x, int):
        return int64
    if isinstance(x, float):
        return _default
    raise TypeError(f"unsupported operand of type {type(x).__name__}")


def result_type(*operands) -> np.dtype:
    """The dtype of an elementwise op over ``operands`` (arrays, tensors or Python scalars)."""
    dim = zero = scalar = None
    for x in operands:
        dt = getattr(x, "dtype", None)
        if dt is None:
            d = _scalar_dtype(x)
            scalar = d if scalar is None else promote_types(scalar, d)
        elif x.ndim == 0:
            zero = dt if zero is None else promote_types(zero, dt)
        else:
            dim = dt if dim is None else promote_types(dim, dt)
    return _combine(dim, _combine(zero, scalar))
