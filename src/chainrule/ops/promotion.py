"""Dtype promotion, as PyTorch does it: the dtype a binary op computes in, and the float
dtype that functions defined only on the reals turn integers into."""

from __future__ import annotations

from chainrule import dtypes as _dt
from chainrule.ops.shape import cast
from chainrule.tensor import Tensor, as_tensor

__all__ = ["float_input", "prepare"]

_PY_NUMBERS = (int, float)


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
            return cast(x, dt)
        return x
    if isinstance(x, bool) and dt.kind != "b":
        return int(x) if dt.kind in "iu" else float(x)
    if isinstance(x, int) and dt.kind == "f":
        return float(x)
    return x


def float_input(x) -> Tensor:
    """``x`` as a floating tensor: integer and bool tensors become the default dtype, as
    PyTorch does for ``exp``, ``log``, ``sqrt`` and friends."""
    x = as_tensor(x)
    if x._array.dtype.kind != "f":
        x = cast(x, _dt.get_default_dtype())
    return x
