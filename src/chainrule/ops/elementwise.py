r"""Elementwise functions of one tensor, each with its derivative and its convention at kinks.

Functions defined only on the reals (``exp``, ``log``, ``sqrt``, the trigonometric and
hyperbolic ones, ``sigmoid``) turn integer input into the default float dtype, as PyTorch
does; ``abs``, ``neg``, ``relu`` and ``clamp`` keep the input dtype.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import chainrule.ops.kernels as kernels
from chainrule._backend import xp
from chainrule.ops._out import write_out
from chainrule.ops.op import Op
from chainrule.ops.promotion import float_input
from chainrule.tensor import as_tensor

__all__ = [
    "abs",
    "clamp",
    "clip",
    "cos",
    "erf",
    "exp",
    "expm1",
    "log",
    "log1p",
    "relu",
    "sigmoid",
    "sin",
    "softplus",
    "sqrt",
    "tanh",
]


class Exp(Op):
    r"""Forward: :math:`y = e^x`. Backward: :math:`\bar x = \bar y\, y`.

    Overflows to inf above about 88.7 (float32) or 709.8 (float64).
    """

    def forward(self, x):
        out = xp.exp(x)
        self.save(out)
        return out

    def backward(self, lib, g, out):
        return g * out


class Expm1(Op):
    r"""Forward: :math:`y = e^x - 1`, accurate for small :math:`|x|` (where
    ``exp(x) - 1`` would lose every digit). Backward: :math:`\bar x = \bar y\,(y + 1)`."""

    def forward(self, x):
        out = xp.expm1(x)
        self.save(out)
        return out

    def backward(self, lib, g, out):
        return g * (out + 1)


class Log1p(Op):
    r"""Forward: :math:`y = \ln(1 + x)`, accurate for small :math:`|x|`.
    Backward: :math:`\bar x = \bar y / (1 + x)`. Conventions: -inf at -1, nan below."""

    def forward(self, x):
        self.save(x)
        return xp.log1p(x)

    def backward(self, lib, g, x):
        return g / (1 + x)


class Erf(Op):
    r"""Forward: the error function :math:`y = \frac{2}{\sqrt\pi}\int_0^x e^{-t^2}dt`
    (SciPy's, accurate to float64 rounding). Backward:
    :math:`\bar x = \bar y\, \frac{2}{\sqrt\pi} e^{-x^2}`, at most :math:`2/\sqrt\pi`."""

    def forward(self, x):
        from scipy.special import erf

        self.save(x)
        return erf(x)

    def backward(self, lib, g, x):
        return g * (2 / math.sqrt(math.pi)) * lib.exp(-(x * x))


class Softplus(Op):
    r"""Forward: :math:`y = \frac1\beta \ln(1 + e^{\beta x})`, and :math:`y = x` where
    :math:`\beta x` exceeds ``threshold`` (PyTorch's switch to the linear function).

    Backward: :math:`\bar x = \bar y\, \sigma(\beta x)` (1 above the threshold). The
    derivative lies in (0, 1): softplus is a smooth ReLU whose gradient never dies.

    Numerics: computed as :math:`(\ln(1 + e^{-|\beta x|}) + \max(\beta x, 0))/\beta`,
    which never overflows.
    """

    def forward(self, x, beta, threshold):
        self.beta, self.threshold = beta, threshold
        self.save(x)
        bx = x * beta
        smooth = (xp.log1p(xp.exp(-xp.abs(bx))) + xp.maximum(bx, 0)) / beta
        return xp.where(bx > threshold, x, smooth)

    def backward(self, lib, g, x):
        bx = x * self.beta
        return lib.where(bx > self.threshold, g, g * lib.sigmoid(bx)), None, None


class Log(Op):
    r"""Forward: :math:`y = \ln x`. Backward: :math:`\bar x = \bar y / x`.

    Conventions: :math:`\ln 0 = -\infty` with gradient :math:`+\infty \cdot \bar y`;
    negative input gives nan.
    """

    def forward(self, x):
        self.save(x)
        return xp.log(x)

    def backward(self, lib, g, x):
        return g / x


class Sqrt(Op):
    r"""Forward: :math:`y = \sqrt{x}`. Backward: :math:`\bar x = \bar y / (2y)`.

    Conventions: at :math:`x = 0` the gradient is :math:`+\infty` (PyTorch's value);
    negative input gives nan.
    """

    def forward(self, x):
        out = xp.sqrt(x)
        self.save(out)
        return out

    def backward(self, lib, g, out):
        return g / (2 * out)


class Abs(Op):
    r"""Forward: :math:`y = |x|`. Backward: :math:`\bar x = \bar y\, \mathrm{sign}(x)`.

    Convention at the kink: the gradient at :math:`x = 0` is 0 (sign(0) = 0), as in PyTorch.
    """

    def forward(self, x):
        self.save(x)
        return xp.abs(x)

    def backward(self, lib, g, x):
        return g * lib.sign(x)


class Sin(Op):
    r"""Forward: :math:`y = \sin x`. Backward: :math:`\bar x = \bar y \cos x`.

    Conventions: :math:`\pm\infty` and nan give nan, with a nan gradient (as in PyTorch).
    """

    def forward(self, x):
        self.save(x)
        return xp.sin(x)

    def backward(self, lib, g, x):
        return g * lib.cos(x)


class Cos(Op):
    r"""Forward: :math:`y = \cos x`. Backward: :math:`\bar x = -\bar y \sin x`.

    Conventions: as :class:`Sin`'s, an infinite or nan input gives nan and a nan gradient.
    """

    def forward(self, x):
        self.save(x)
        return xp.cos(x)

    def backward(self, lib, g, x):
        return -g * lib.sin(x)


class Tanh(Op):
    r"""Forward: :math:`y = \tanh x`. Backward: :math:`\bar x = \bar y (1 - y^2)`.

    The derivative lies in (0, 1] and is 1 only at 0: deep tanh stacks shrink gradients
    less than sigmoid ones, but still saturate for large :math:`|x|`.
    """

    def forward(self, x):
        out = xp.tanh(x)
        self.save(out)
        return out

    def backward(self, lib, g, out):
        return g * (1 - out * out)


class Sigmoid(Op):
    r"""Forward: :math:`y = \sigma(x) = 1 / (1 + e^{-x})`.

    Backward: :math:`\bar x = \bar y\, y (1 - y)`.

    The derivative :math:`y(1-y)` is at most 1/4 (at :math:`x = 0`): one factor of at
    most 1/4 per layer is why gradients vanish through deep sigmoid networks.

    Numerics: computed as :math:`1/(1+e^{-|x|})` for :math:`x \ge 0` and
    :math:`e^{-|x|}/(1+e^{-|x|})` otherwise, so :math:`e^{\cdot}` never overflows and tiny
    outputs keep their relative precision.
    """

    def forward(self, x):
        out = kernels.sigmoid(x)
        self.save(out)
        return out

    def backward(self, lib, g, out):
        return g * out * (1 - out)


class Relu(Op):
    r"""Forward: :math:`y = \max(x, 0)`. Backward: :math:`\bar x = \bar y\,[x > 0]`.

    Conventions (PyTorch's): the gradient at the kink :math:`x = 0` is 0. A NaN input
    stays NaN and lets its gradient through (the mask is "not :math:`y \le 0`"); -0.0
    stays -0.0 (every x that is not below 0 is kept).
    """

    reuses_grad = True  # the backward may write into the incoming gradient (see Node)

    def forward(self, x):
        out = kernels.relu(x)
        self.save(out)
        return out

    def backward(self, lib, g, out):
        return lib.threshold_grad(g, out, self.grad_owned)


class Clamp(Op):
    r"""Forward: :math:`y = \min(\max(x, lo), hi)`.

    Backward: :math:`\bar x = \bar y\,[lo \le x \le hi]`.

    Conventions (PyTorch's): the gradient passes at the bounds themselves (:math:`x = lo`
    or :math:`x = hi`); if :math:`lo > hi` every output is :math:`hi` and every gradient 0.
    NaN input stays NaN with gradient 0.
    """

    def forward(self, x, lo, hi):
        self.bounds = (lo, hi)
        self.save(x)
        out = x
        if lo is not None:
            out = xp.maximum(out, lo)
        if hi is not None:
            out = xp.minimum(out, hi)
        return out

    def backward(self, lib, g, x):
        lo, hi = self.bounds
        if lo is None:
            inside = x <= hi
        elif hi is None:
            inside = x >= lo
        else:
            inside = (x >= lo) & (x <= hi)
        return lib.where(inside, g, 0.0), None, None


def _on_floats(op: type[Op], doc: str) -> Callable:
    """The function of ``op`` (named as it, in lower case): ``op`` applied to its input as a
    floating tensor (an integer input becomes the default float dtype, as in PyTorch)."""

    name = op.__name__.lower()

    def function(input, *, out=None):
        return write_out(name, op.apply(float_input(input)), out, exact=False)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


exp = _on_floats(Exp, r"""Elementwise :math:`e^x`.""")
expm1 = _on_floats(Expm1, r"""Elementwise :math:`e^x - 1`, accurate near 0.""")
log1p = _on_floats(Log1p, r"""Elementwise :math:`\ln(1 + x)`, accurate near 0.""")
erf = _on_floats(Erf, """The error function.""")
log = _on_floats(Log, """Elementwise natural logarithm.""")
sqrt = _on_floats(Sqrt, """Elementwise square root.""")
sin = _on_floats(Sin, """Elementwise sine.""")
cos = _on_floats(Cos, """Elementwise cosine.""")
tanh = _on_floats(Tanh, """Elementwise hyperbolic tangent.""")
sigmoid = _on_floats(Sigmoid, """The logistic function, computed without overflow.""")


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    r""":math:`\ln(1 + e^{\beta x})/\beta`, linear above ``threshold`` (as in PyTorch)."""
    if beta == 0:
        raise ValueError("softplus: beta must be non-zero")
    return Softplus.apply(float_input(input), float(beta), float(threshold))


def abs(input, *, out=None):
    """Elementwise absolute value."""
    return write_out("abs", Abs.apply(as_tensor(input)), out)


def relu(input):
    r"""Rectified linear unit, :math:`\max(x, 0)`."""
    return Relu.apply(as_tensor(input))


def clamp(input, min=None, max=None, *, out=None):
    """Limit values to [min, max]; either bound may be None (not both)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    for name, bound in (("min", min), ("max", max)):
        if bound is not None and not isinstance(bound, int | float):
            raise TypeError(f"clamp: {name} must be a number or None, got {type(bound).__name__}")
    x = as_tensor(input)
    if x._array.dtype.kind != "f" and any(isinstance(b, float) for b in (min, max)):
        x = float_input(x)
    return write_out("clamp", Clamp.apply(x, min, max), out)


clip = clamp
