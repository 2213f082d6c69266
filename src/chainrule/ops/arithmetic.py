r"""Arithmetic: ``+ - * / **`` and negation, with broadcasting.

Broadcasting is NumPy's (and PyTorch's): shapes are aligned on the right, and a dimension
of size 1, or a missing leading one, is stretched. The backward of a stretch is a sum, so
each rule ends with ``lib.sum_to(grad, input_shape)``.
"""

from __future__ import annotations

from chainrule import dtypes as _dt
from chainrule._backend import xp
from chainrule.ops._common import broadcast_error, shape_of
from chainrule.ops._out import write_out as _write_out
from chainrule.ops.op import Op
from chainrule.ops.promotion import prepare
from chainrule.tensor import Tensor, as_tensor

__all__ = ["add", "div", "mul", "neg", "pow", "sub"]


class _Binary(Op):
    """Elementwise op of two broadcast operands; remembers their shapes for sum_to."""

    def explain(self, err, args):
        if isinstance(err, ValueError) and "broadcast" in str(err):
            return broadcast_error(self.op_name, *(shape_of(getattr(a, "_array", a)) for a in args))
        return super().explain(err, args)


class Add(_Binary):
    r"""Forward: :math:`y = a + b`.

    Backward: :math:`\bar a = \mathrm{sum\_to}(\bar y)`, :math:`\bar b = \mathrm{sum\_to}(\bar y)`.
    """

    def forward(self, a, b):
        self.shapes = (shape_of(a), shape_of(b))
        return a + b

    def backward(self, lib, g):
        na, nb = self.needs_input_grad
        return (
            lib.sum_to(g, self.shapes[0]) if na else None,
            lib.sum_to(g, self.shapes[1]) if nb else None,
        )


class Sub(_Binary):
    r"""Forward: :math:`y = a - b`. Backward: :math:`\bar a = \bar y`, :math:`\bar b = -\bar y`
    (each summed back to its input's shape)."""

    def forward(self, a, b):
        self.shapes = (shape_of(a), shape_of(b))
        return a - b

    def backward(self, lib, g):
        na, nb = self.needs_input_grad
        return (
            lib.sum_to(g, self.shapes[0]) if na else None,
            lib.sum_to(-g, self.shapes[1]) if nb else None,
        )


class Mul(_Binary):
    r"""Forward: :math:`y = a b`.

    Backward: :math:`\bar a = \bar y\, b`, :math:`\bar b = \bar y\, a`.

    Each input is saved only when the other's gradient needs it, as PyTorch saves them
    (so changing, in place, an input that no gradient reads is not an error).
    """

    def forward(self, a, b):
        self.shapes = (shape_of(a), shape_of(b))
        na, nb = self.needs_input_grad
        self.save(a if nb else None, b if na else None)
        return a * b

    def backward(self, lib, g, a, b):
        na, nb = self.needs_input_grad
        return (
            lib.sum_to(g * b, self.shapes[0]) if na else None,
            lib.sum_to(g * a, self.shapes[1]) if nb else None,
        )


class Div(_Binary):
    r"""Forward: :math:`y = a / b`.

    Backward: :math:`\bar a = \bar y / b`, :math:`\bar b = -\bar y\, a / b^2`.

    Conventions: division by zero gives ±inf or nan, as in IEEE arithmetic and PyTorch.
    ``a`` is saved only when :math:`\bar b` is needed, as PyTorch saves it.
    """

    def forward(self, a, b):
        self.shapes = (shape_of(a), shape_of(b))
        self.save(a if self.needs_input_grad[1] else None, b)
        return a / b

    def backward(self, lib, g, a, b):
        na, nb = self.needs_input_grad
        return (
            lib.sum_to(g / b, self.shapes[0]) if na else None,
            lib.sum_to(-g * a / (b * b), self.shapes[1]) if nb else None,
        )


class Pow(_Binary):
    r"""Forward: :math:`y = a^b`.

    Backward: :math:`\bar a = \bar y\, b\, a^{b-1}`, :math:`\bar b = \bar y\, a^b \ln a`.

    Conventions (PyTorch's): where :math:`b = 0` the gradient for ``a`` is 0, even at
    :math:`a = 0`; where :math:`a = 0` and :math:`b \ge 0` the gradient for ``b`` is 0
    (the limit of :math:`a^b \ln a`), not nan. A negative base with a fractional exponent
    gives nan, forward and backward. :math:`\sqrt{}`-like exponents at 0 give inf.
    """

    def forward(self, a, b):
        self.shapes = (shape_of(a), shape_of(b))
        out = a**b
        self.save(a, b, out if self.needs_input_grad[1] else None)  # y only for b's gradient
        return out

    def backward(self, lib, g, a, b, out):
        na, nb = self.needs_input_grad
        ga = gb = None
        if na:
            if isinstance(b, int | float):
                ga = g * 0 if b == 0 else g * b * a ** (b - 1)
            else:
                ga = lib.where(b == 0, 0.0, g * b * a ** (b - 1))
            ga = lib.sum_to(ga, self.shapes[0])
        if nb:
            gb = lib.sum_to(
                g * lib.where((a == 0) & (b >= 0), 0.0, out * lib.log(a)), self.shapes[1]
            )
        return ga, gb


class Neg(Op):
    r"""Forward: :math:`y = -x`. Backward: :math:`\bar x = -\bar y`."""

    def forward(self, x):
        return -x

    def backward(self, lib, g):
        return -g


def add(input, other, *, alpha=1, out=None):
    """``input + alpha * other``, broadcast."""
    return _scaled("add", Add, input, other, alpha, out)


def sub(input, other, *, alpha=1, out=None):
    """``input - alpha * other``, broadcast."""
    return _scaled("sub", Sub, input, other, alpha, out)


def _scaled(name: str, op: type[Op], input, other, alpha, out):
    """``op`` (Add or Sub) of ``input`` and ``alpha * other``, into ``out`` if given."""
    if alpha != 1:
        _check_alpha(name, input, other, alpha)
    a, b = prepare(input, other if alpha == 1 else other * alpha)
    if out is not None:
        return _write_out(name, op.apply(a, b), out, exact=False)
    return op.apply(a, b)


def _check_alpha(name: str, input, other, alpha) -> None:
    """PyTorch refuses a fractional ``alpha`` when both operands are integers."""
    kinds = {
        x._array.dtype.kind if isinstance(x, Tensor) else type(x).__name__ for x in (input, other)
    }
    if isinstance(alpha, float) and kinds <= {"b", "i", "u", "int", "bool"}:
        raise TypeError(
            f"{name}(): for integral input tensors, argument alpha must not be a floating "
            "point number"
        )


def mul(input, other, *, out=None):
    """``input * other``, broadcast."""
    a, b = prepare(input, other)
    if out is not None:
        return _write_out("mul", Mul.apply(a, b), out, exact=False)
    return Mul.apply(a, b)


def div(input, other, *, out=None):
    """True division ``input / other``, broadcast; integer operands give the default float."""
    a, b = prepare(input, other)
    if _result_kind(a, b) != "f":
        a, b = _to_default_float(a), _to_default_float(b)
    if out is not None:
        return _write_out("div", Div.apply(a, b), out, exact=False)
    return Div.apply(a, b)


def pow(input, exponent, *, out=None):
    """``input ** exponent``, broadcast."""
    a, b = prepare(input, exponent)
    if not isinstance(a, Tensor):
        # A number raised to a tensor: the base becomes a constant array of the result
        # dtype, so the exponent's rule (which takes log(a)) sees an array.
        a = xp.asarray(a, dtype=b._array.dtype)
    if out is not None:
        return _write_out("pow", Pow.apply(a, b), out, exact=False)
    return Pow.apply(a, b)


def neg(input, *, out=None):
    """``-input``."""
    return _write_out("neg", Neg.apply(as_tensor(input)), out)


def _result_kind(a, b) -> str:
    for x in (a, b):
        if isinstance(x, Tensor):
            return x._array.dtype.kind
    return "f" if isinstance(a, float) or isinstance(b, float) else "i"


def _to_default_float(x):
    if isinstance(x, Tensor):
        from chainrule.ops.shape import cast

        return cast(x, _dt.get_default_dtype())
    return float(x)
