r"""Ops that choose between values: ``maximum``, ``minimum``, ``where``, and the
comparisons and logical ops that build the masks they choose with (not differentiable)."""

from __future__ import annotations

from chainrule._backend import xp
from chainrule._recording import replayable
from chainrule.ops._common import broadcast_error, shape_of
from chainrule.ops._out import write_out
from chainrule.ops.arithmetic import _Binary
from chainrule.ops.promotion import prepare
from chainrule.tensor import Tensor, _make, as_tensor

__all__ = [
    "eq",
    "ge",
    "gt",
    "isfinite",
    "isnan",
    "le",
    "logical_not",
    "logical_op",
    "lt",
    "masked_fill",
    "maximum",
    "minimum",
    "ne",
    "where",
]


class Maximum(_Binary):
    r"""Forward: :math:`y = \max(a, b)` elementwise.

    Backward: the gradient goes to the larger input. Convention at ties (PyTorch's): where
    :math:`a = b` each input gets half. Where either is NaN the output is NaN and both get
    the full gradient.
    """

    def forward(self, a, b):
        self.shapes = (shape_of(a), shape_of(b))
        self.save(a, b)
        return xp.maximum(a, b)

    def backward(self, lib, g, a, b):
        na, nb = self.needs_input_grad
        half = g * 0.5
        return (
            lib.sum_to(lib.where(a == b, half, lib.where(a < b, 0.0, g)), self.shapes[0])
            if na
            else None,
            lib.sum_to(lib.where(a == b, half, lib.where(a > b, 0.0, g)), self.shapes[1])
            if nb
            else None,
        )


class Minimum(_Binary):
    r"""Forward: :math:`y = \min(a, b)` elementwise.

    Backward: the gradient goes to the smaller input; at ties each input gets half.
    """

    def forward(self, a, b):
        self.shapes = (shape_of(a), shape_of(b))
        self.save(a, b)
        return xp.minimum(a, b)

    def backward(self, lib, g, a, b):
        na, nb = self.needs_input_grad
        half = g * 0.5
        return (
            lib.sum_to(lib.where(a == b, half, lib.where(a > b, 0.0, g)), self.shapes[0])
            if na
            else None,
            lib.sum_to(lib.where(a == b, half, lib.where(a < b, 0.0, g)), self.shapes[1])
            if nb
            else None,
        )


class Where(_Binary):
    r"""Forward: :math:`y = a` where ``cond`` is true, else :math:`b` (all three broadcast).

    Backward: :math:`\bar a = \bar y\,[cond]`, :math:`\bar b = \bar y\,[\lnot cond]`. The
    condition gets no gradient.
    """

    def forward(self, cond, a, b):
        self.shapes = (shape_of(a), shape_of(b))
        self.save(cond)
        return xp.where(cond, a, b)

    def backward(self, lib, g, cond):
        _, na, nb = self.needs_input_grad
        return (
            None,
            lib.sum_to(lib.where(cond, g, 0.0), self.shapes[0]) if na else None,
            lib.sum_to(lib.where(cond, 0.0, g), self.shapes[1]) if nb else None,
        )


def maximum(input, other, *, out=None):
    """Elementwise maximum of two broadcast tensors."""
    a, b = prepare(input, other)
    return write_out("maximum", Maximum.apply(a, b), out, exact=False)


def minimum(input, other, *, out=None):
    """Elementwise minimum of two broadcast tensors."""
    a, b = prepare(input, other)
    return write_out("minimum", Minimum.apply(a, b), out, exact=False)


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other``; the three broadcast together."""
    cond = condition._array if isinstance(condition, Tensor) else xp.asarray(condition)
    if cond.dtype.kind != "b":
        raise TypeError(f"where: the condition must be a bool tensor, got dtype {cond.dtype}")
    a, b = prepare(input, other)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a)
    return Where.apply(cond, a, b)


def masked_fill(input, mask, value):
    """``input`` with ``value`` wherever the bool ``mask`` (broadcast to the input's
    shape) is true; the value is a number or a 0-d tensor, cast to the input's dtype."""
    x = as_tensor(input)
    m = mask._array if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype.kind != "b":
        raise TypeError(f"masked_fill: the mask must be a bool tensor, got dtype {m.dtype}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(
                "masked_fill only supports a 0-dimensional value tensor, but got a tensor "
                f"with {value.ndim} dimension(s)"
            )
        if value.dtype != x.dtype:
            value = value.to(x.dtype)
    else:
        value = as_tensor(xp.asarray(value, dtype=x.dtype))
    return Where.apply(m, value, x)


def _compare(ufunc, name: str, a, b, out=None) -> Tensor:
    a, b = prepare(a, b)
    da = a._array if isinstance(a, Tensor) else a
    db = b._array if isinstance(b, Tensor) else b
    result = _compared(ufunc, name, da, db)
    return result if out is None else write_out(name, result, out, exact=False)


@replayable  # not an op (no gradient), so a step captured by cr.compile calls it again
def _compared(ufunc, name: str, da, db) -> Tensor:
    try:
        result = ufunc(da, db)
    except ValueError:
        raise broadcast_error(name, shape_of(da), shape_of(db)) from None
    return _make(xp.asarray(result), None, False)


def _comparison(ufunc, name: str, symbol: str):
    """The function ``name(input, other, *, out=None)``: elementwise ``symbol``."""

    def compare(input, other, *, out=None) -> Tensor:
        return _compare(ufunc, name, input, other, out)

    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = f"Elementwise ``input {symbol} other`` (a bool tensor), broadcasting."
    return compare


eq = _comparison(xp.equal, "eq", "==")
ne = _comparison(xp.not_equal, "ne", "!=")
lt = _comparison(xp.less, "lt", "<")
le = _comparison(xp.less_equal, "le", "<=")
gt = _comparison(xp.greater, "gt", ">")
ge = _comparison(xp.greater_equal, "ge", ">=")


_LOGICAL = {"and": xp.bitwise_and, "or": xp.bitwise_or, "xor": xp.bitwise_xor}


def logical_op(kind: str, input, other) -> Tensor:
    """``&``, ``|`` and ``^`` on bool (or integer) tensors."""
    a = input._array if isinstance(input, Tensor) else xp.asarray(input)
    b = other._array if isinstance(other, Tensor) else xp.asarray(other)
    for x in (a, b):
        if x.dtype.kind not in "biu":
            raise TypeError(f"'{kind}' needs bool or integer tensors, got dtype {x.dtype}")
    try:
        return _make(xp.asarray(_LOGICAL[kind](a, b)), None, False)
    except ValueError:
        raise broadcast_error(kind, a.shape, b.shape) from None


def logical_not(input) -> Tensor:
    """``~x`` on a bool tensor (bitwise not on an integer one)."""
    a = input._array if isinstance(input, Tensor) else xp.asarray(input)
    if a.dtype.kind not in "biu":
        raise TypeError(f"'~' needs a bool or integer tensor, got dtype {a.dtype}")
    return _make(xp.invert(a), None, False)


def isnan(input) -> Tensor:
    return _make(xp.isnan(as_tensor(input)._array), None, False)


def isfinite(input) -> Tensor:
    return _make(xp.isfinite(as_tensor(input)._array), None, False)
