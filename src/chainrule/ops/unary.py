r"""More elementwise functions of one tensor: ``log10 log2 rsqrt square clamp_min
clamp_max``.

``log10`` and ``log2`` are primitives for exactness: :math:`\ln x / \ln 10` rounds twice,
so ``log(1000) / log(10)`` is 2.9999999999999996 where ``log10(1000)`` is exactly 3, as
PyTorch gives. The others are compositions: ``rsqrt`` is ``1 / sqrt(x)``, ``square`` is
``x * x``, and the one-sided clamps are :func:`~chainrule.ops.elementwise.clamp`.
"""

from __future__ import annotations

import math

from chainrule._backend import xp
from chainrule.ops._out import write_out
from chainrule.ops.arithmetic import div, mul
from chainrule.ops.elementwise import clamp, sqrt
from chainrule.ops.op import Op
from chainrule.ops.promotion import float_input
from chainrule.tensor import Tensor, as_tensor

__all__ = ["clamp_max", "clamp_min", "log2", "log10", "rsqrt", "square"]


class Log10(Op):
    r"""Forward: :math:`y = \log_{10} x`.

    Backward: :math:`\bar x = \bar y / (x \ln 10)`.

    Conventions: :math:`\log_{10} 0 = -\infty` (gradient :math:`+\infty \cdot \bar y`);
    negative input gives nan.
    """

    def forward(self, x):
        self.save(x)
        return _in_float64(xp.log10, x)

    def backward(self, lib, g, x):
        return g / (x * math.log(10.0))


class Log2(Op):
    r"""Forward: :math:`y = \log_2 x`.

    Backward: :math:`\bar x = \bar y / (x \ln 2)`.

    Conventions: :math:`\log_2 0 = -\infty`; negative input gives nan.
    """

    def forward(self, x):
        self.save(x)
        return _in_float64(xp.log2, x)

    def backward(self, lib, g, x):
        return g / (x * math.log(2.0))


def _in_float64(fn, x):
    """``fn(x)`` computed in float64 and rounded once to x's dtype: NumPy's float32
    log10 is off by an ulp for about half of all inputs (log10(1000) = 3.0000002), the
    float64 one rounded to float32 agrees with PyTorch's to the bit nearly always."""
    if x.dtype.itemsize >= 8:
        return fn(x)
    return fn(x.astype(xp.float64)).astype(x.dtype)


def log10(input, *, out=None) -> Tensor:
    """Elementwise base-10 logarithm (integers become the default float dtype)."""
    return write_out("log10", Log10.apply(float_input(input)), out)


def log2(input, *, out=None) -> Tensor:
    """Elementwise base-2 logarithm (integers become the default float dtype)."""
    return write_out("log2", Log2.apply(float_input(input)), out)


def rsqrt(input, *, out=None) -> Tensor:
    r""":math:`1/\sqrt{x}`, composed, so its gradient is
    :math:`-\tfrac12 \bar y\, x^{-3/2}`: :math:`-\infty` at 0, where the value is
    :math:`+\infty`, as in PyTorch."""
    return write_out("rsqrt", div(1.0, sqrt(float_input(input))), out)


def square(input, *, out=None) -> Tensor:
    r""":math:`x^2` as ``x * x`` (gradient :math:`2x\bar y`); integers stay integers and
    bool becomes int64, as in PyTorch."""
    x = as_tensor(input)
    if x._array.dtype.kind == "b":
        x = x.long()
    return write_out("square", mul(x, x), out)


def clamp_min(input, min) -> Tensor:
    """``clamp(input, min=min)``: values below ``min`` become ``min`` (the gradient
    passes where :math:`x \\ge min`, the bound included, as in :func:`clamp`)."""
    return clamp(input, min=min)


def clamp_max(input, max) -> Tensor:
    """``clamp(input, max=max)``: values above ``max`` become ``max``."""
    return clamp(input, max=max)
