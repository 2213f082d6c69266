r"""Rounding and integer division: ``sign floor ceil round trunc``, ``floor_divide`` (``//``)
and ``remainder`` (``%``).

The first five are step functions: flat between their jumps, so the derivative is 0
wherever it exists. PyTorch defines it as 0 everywhere, at the jumps too, and so does
chainrule: the result requires grad and the input receives a gradient of zeros (not
None), so a step inside a loss silently stops the gradient along that path.

Integer and bool tensors: ``floor``, ``ceil``, ``round`` and ``trunc`` of an integer
tensor are copies (the values are already whole), as in PyTorch, which refuses them on
bool tensors and ``round(decimals=...)`` on integers; ``sign`` keeps the dtype.

Division follows Python's ``//`` and ``%`` (and PyTorch's ``floor_divide`` and
``remainder``): the quotient is rounded towards :math:`-\infty` and the remainder has the
sign of the divisor, :math:`a = b \lfloor a/b \rfloor + (a \bmod b)`. Both are NumPy's
``floor_divide``/``remainder``, which compute them as Python does (from ``fmod``, with
the correction that makes ``1 // 0.1 == 9``), not as ``floor(a / b)``.
"""

from __future__ import annotations

from chainrule._backend import xp
from chainrule._recording import replayable
from chainrule.autograd.grad_mode import STATE
from chainrule.autograd.graph import Node, next_sequence_number
from chainrule.ops._common import broadcast_error, shape_of
from chainrule.ops._out import write_out
from chainrule.ops.arithmetic import _Binary
from chainrule.ops.op import Op
from chainrule.ops.promotion import prepare
from chainrule.tensor import Tensor, _make, as_tensor

__all__ = ["ceil", "floor", "floor_divide", "remainder", "round", "sign", "trunc"]


class _Step(Op):
    r"""Shared rule of the step functions.

    Backward: :math:`\bar x = 0` (the derivative of a step function, 0 at the jumps too,
    as in PyTorch).
    """

    def backward(self, lib, g):
        return lib.zeros_like(g)


class Sign(_Step):
    r"""Forward: :math:`y = \mathrm{sign}(x)`: -1, 0 or 1.

    Backward: :math:`\bar x = 0`.

    Conventions (PyTorch's): :math:`\mathrm{sign}(\pm 0) = +0` and
    :math:`\mathrm{sign}(\mathrm{nan}) = 0`.
    """

    def forward(self, x):
        if x.dtype.kind != "f":
            return x.copy() if x.dtype.kind == "b" else xp.sign(x)
        return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


class Floor(_Step):
    r"""Forward: :math:`y = \lfloor x \rfloor`, the largest whole number :math:`\le x`.

    Backward: :math:`\bar x = 0`.
    """

    def forward(self, x):
        return xp.floor(x)


class Ceil(_Step):
    r"""Forward: :math:`y = \lceil x \rceil`, the smallest whole number :math:`\ge x`.

    Backward: :math:`\bar x = 0`.
    """

    def forward(self, x):
        return xp.ceil(x)


class Trunc(_Step):
    r"""Forward: :math:`y = \mathrm{trunc}(x)`, rounded towards zero.

    Backward: :math:`\bar x = 0`.
    """

    def forward(self, x):
        return xp.trunc(x)


class Round(_Step):
    r"""Forward: :math:`y = \mathrm{rint}(x \cdot 10^d) / 10^d` (``decimals`` :math:`d`;
    for :math:`d < 0`, :math:`\mathrm{rint}(x / 10^{-d}) \cdot 10^{-d}`), in the input's
    dtype.

    Backward: :math:`\bar x = 0`.

    Conventions (PyTorch's): halves round to the even neighbour (0.5 -> 0, 1.5 -> 2,
    2.5 -> 2, -0.5 -> -0), not away from zero.
    """

    def forward(self, x, decimals):
        return xp.round(x, decimals)

    def backward(self, lib, g):
        return lib.zeros_like(g), None


def _step(cls, name: str, input, out, *args):
    x = as_tensor(input)
    kind = x._array.dtype.kind
    if kind == "b" and cls is not Sign:
        raise TypeError(f"{name}: not defined for bool tensors (PyTorch refuses them too)")
    if kind in "iu" and cls is not Sign:
        return write_out(name, x.clone(), out)  # whole numbers already
    return write_out(name, cls.apply(x, *args), out)


def sign(input, *, out=None) -> Tensor:
    """-1, 0 or +1 by the sign of each element (0 for 0 and for nan); gradient 0."""
    return _step(Sign, "sign", input, out)


def floor(input, *, out=None) -> Tensor:
    """Round down to a whole number; gradient 0."""
    return _step(Floor, "floor", input, out)


def ceil(input, *, out=None) -> Tensor:
    """Round up to a whole number; gradient 0."""
    return _step(Ceil, "ceil", input, out)


def trunc(input, *, out=None) -> Tensor:
    """Round towards zero; gradient 0."""
    return _step(Trunc, "trunc", input, out)


def round(input, *, decimals: int = 0, out=None) -> Tensor:
    """Round to ``decimals`` decimal places (negative: to tens, hundreds...), halves to
    even; gradient 0."""
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an integer, got {type(decimals).__name__}")
    x = as_tensor(input)
    if decimals and x._array.dtype.kind != "f":
        raise TypeError(
            f"round: decimals={decimals} needs a floating-point tensor, got {x._array.dtype} "
            "(PyTorch does not round integers to decimals either)"
        )
    return _step(Round, "round", x, out, decimals)


# --------------------------------------------------------------------------- division
class Remainder(_Binary):
    r"""Forward: :math:`y = a \bmod b = a - b \lfloor a / b \rfloor`, with the sign of
    :math:`b` (Python's ``%``; NumPy's ``remainder``, computed without that rounding).

    Backward: :math:`\bar a = \bar y`,
    :math:`\bar b = -\bar y \lfloor a / b \rfloor` (the quotient is piecewise constant, so
    its own derivative is 0, as in PyTorch).

    Conventions: a zero divisor gives nan for floating tensors; for integers it is an
    error, as in PyTorch.
    """

    def forward(self, a, b):
        self.shapes = (shape_of(a), shape_of(b))
        if self.needs_input_grad[1]:
            self.save(xp.floor_divide(a, b))
        return xp.remainder(a, b)

    def backward(self, lib, g, *quotient):
        na, nb = self.needs_input_grad
        return (
            lib.sum_to(g, self.shapes[0]) if na else None,
            lib.sum_to(-g * quotient[0], self.shapes[1]) if nb else None,
        )


class FloorDivideBackward(Node):
    """The graph node of ``floor_divide``, which has no derivative in PyTorch: its
    backward raises, as PyTorch's does, rather than pass a gradient on."""

    def __init__(self, parents: list, out) -> None:
        self._next = parents
        self._seq = next_sequence_number()
        self.shape, self.dtype = out.shape, out.dtype

    @property
    def op_name(self) -> str:
        return "floor_divide"

    def name(self) -> str:
        return "NotImplemented"  # PyTorch's grad_fn has this name

    def backward(self, lib, g, *saved):
        raise RuntimeError(
            "the derivative of floor_divide (//) is not implemented (nor in PyTorch): use "
            "cr.floor(a / b), whose gradient is 0, or .detach() the quotient"
        )


def _operands(name: str, input, other):
    """The two operands in PyTorch's result dtype (at least one a tensor), after refusing
    an integer division by zero, which PyTorch raises for."""
    a, b = prepare(input, other)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a)
    kind = (a if isinstance(a, Tensor) else b)._array.dtype.kind
    if kind in "iub":
        _check_divisor(name, b._array if isinstance(b, Tensor) else b)
    return a, b


@replayable  # a step captured by cr.compile checks each call's divisor
def _check_divisor(name: str, divisor) -> None:
    if not xp.all(xp.asarray(divisor) != 0):
        raise RuntimeError(f"ZeroDivisionError: {name}: integer division by zero")


def floor_divide(input, other, *, out=None) -> Tensor:
    """``input // other``: the quotient rounded towards :math:`-\\infty`, broadcast.

    Not differentiable: with an input that requires grad, the result records a node
    whose backward raises, as PyTorch's does (``floor(a / b)`` has gradient 0)."""
    a, b = _operands("floor_divide", input, other)
    da = a._array if isinstance(a, Tensor) else a
    db = b._array if isinstance(b, Tensor) else b
    try:
        with xp.errstate(divide="ignore", invalid="ignore"):
            values = xp.asarray(xp.floor_divide(da, db))
    except ValueError:
        raise broadcast_error("floor_divide", shape_of(da), shape_of(db)) from None
    parents = [
        (t.grad_fn or t) if isinstance(t, Tensor) and t.requires_grad else None for t in (a, b)
    ]
    if STATE.grad and values.dtype.kind == "f" and any(p is not None for p in parents):
        result = _make(values, FloorDivideBackward(parents, values), True)
    else:
        result = _make(values, None, False)
    return write_out("floor_divide", result, out, exact=False)


def remainder(input, other, *, out=None) -> Tensor:
    """``input % other``: the remainder with the sign of ``other``, broadcast."""
    a, b = _operands("remainder", input, other)
    return write_out("remainder", Remainder.apply(a, b), out, exact=False)
