r"""Closeness and equality of whole tensors: ``isclose``, ``allclose``, ``equal``.

``isclose`` is PyTorch's (and NumPy's) test, asymmetric in its arguments:

.. math:: |a - b| \le \mathrm{atol} + \mathrm{rtol}\, |b|

Infinities are close only to an infinity of the same sign; NaN is close to nothing,
unless ``equal_nan=True`` makes two NaNs close. Both tensors must have one dtype, as
PyTorch requires (compare a float32 result with a float64 reference after ``.to``).
"""

from __future__ import annotations

from chainrule._backend import xp
from chainrule._recording import refuse_capture
from chainrule.ops._common import broadcast_error
from chainrule.tensor import Tensor, _make

__all__ = ["allclose", "equal", "isclose"]


def _tensors(name: str, input, other) -> tuple:
    for label, t in (("input", input), ("other", other)):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"{name}(): argument '{label}' must be a tensor, not {type(t).__name__}"
            )
    return input._array, other._array


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """Elementwise :math:`|a - b| \\le atol + rtol |b|` (broadcast), as a bool tensor."""
    a, b = _tensors("isclose", input, other)
    if a.dtype != b.dtype:
        raise TypeError(
            f"isclose(): input ({a.dtype}) and other ({b.dtype}) must have the same dtype"
        )
    if rtol < 0 or atol < 0:
        raise ValueError(
            f"isclose(): rtol and atol must be greater than or equal to zero, got "
            f"rtol={rtol}, atol={atol}"
        )
    try:
        if a.dtype.kind == "b":
            close = a == b
        else:
            close = xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    except ValueError:
        raise broadcast_error("isclose", a.shape, b.shape) from None
    return _make(xp.asarray(close), None, False)


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """Whether every element is :func:`isclose` (a Python bool)."""
    refuse_capture("the step reads tensor values into Python (allclose)")
    return bool(isclose(input, other, rtol, atol, equal_nan)._array.all())


def equal(input, other) -> bool:
    """Whether two tensors have the same shape and the same values (NaN equals nothing;
    dtypes may differ, the values are compared)."""
    refuse_capture("the step reads tensor values into Python (equal)")
    a, b = _tensors("equal", input, other)
    return a.shape == b.shape and bool(xp.array_equal(a, b))
