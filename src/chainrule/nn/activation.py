r"""Activation functions, as functionals and as modules.

Each docstring gives the function, its derivative, and the range of the derivative, which
is what decides whether gradients survive many layers: backpropagation multiplies one
such factor per layer, so factors below 1 (sigmoid's are at most 1/4) shrink the gradient
geometrically with depth, the vanishing-gradient problem.

``sigmoid``, ``tanh``, ``relu``, ``softplus``, ``softmax`` and ``log_softmax`` are
primitives (chainrule.ops); the others are composed from primitives, so their derivatives
follow from the chain rule with no rule of their own.
"""

from __future__ import annotations

import math

from chainrule import ops
from chainrule.nn.module import Module
from chainrule.ops.inplace import apply_inplace
from chainrule.ops.promotion import float_input
from chainrule.tensor import Tensor

__all__ = [
    "ELU",
    "GELU",
    "LeakyReLU",
    "LogSoftmax",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "elu",
    "gelu",
    "leaky_relu",
    "log_softmax",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
]

sigmoid = ops.sigmoid
tanh = ops.tanh
softmax = ops.softmax
log_softmax = ops.log_softmax


def relu(input, inplace: bool = False):
    """:math:`\\max(x, 0)`; with ``inplace``, written into ``input`` (see
    ``Tensor.relu_``)."""
    if inplace:
        return input.relu_()
    return ops.relu(input)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    return ops.softplus(input, beta, threshold)


def _float(x) -> Tensor:
    return float_input(x)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    r""":math:`x` for :math:`x > 0`, else :math:`a x`. Derivative 1 or :math:`a`; at 0 it
    is :math:`a`, as in PyTorch."""
    if inplace:
        return apply_inplace(input, "leaky_relu_", leaky_relu, negative_slope)
    x = _float(input)
    return ops.where(x > 0, x, x * negative_slope)


def elu(input, alpha: float = 1.0, inplace: bool = False):
    r""":math:`x` for :math:`x > 0`, else :math:`\alpha(e^x - 1)`. Derivative 1, or
    :math:`\alpha e^x`; at 0 it is :math:`\alpha`, as in PyTorch. The negative branch is
    evaluated at :math:`\min(x, 0)`, so a large positive x cannot overflow it (an inf
    there would turn the zero gradient of the unused branch into nan)."""
    if inplace:
        return apply_inplace(input, "elu_", elu, alpha)
    x = _float(input)
    return ops.where(x > 0, x, ops.expm1(ops.clamp(x, max=0.0)) * alpha)


def gelu(input, approximate: str = "none"):
    r""":math:`x\,\Phi(x)`, with :math:`\Phi` the standard normal CDF,
    :math:`\Phi(x) = \tfrac12(1 + \mathrm{erf}(x/\sqrt2))`; ``approximate="tanh"`` uses
    :math:`\tfrac12 x(1 + \tanh(\sqrt{2/\pi}(x + 0.044715x^3)))`."""
    x = _float(input)
    if approximate == "none":
        return x * 0.5 * (1 + ops.erf(x * (1 / math.sqrt(2))))
    if approximate == "tanh":
        return x * 0.5 * (1 + ops.tanh((x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input, inplace: bool = False):
    r""":math:`x\,\sigma(x)` (also called swish)."""
    if inplace:
        return apply_inplace(input, "silu_", silu)
    x = _float(input)
    return x * ops.sigmoid(x)


class Sigmoid(Module):
    r""":math:`\sigma(x) = 1/(1 + e^{-x})`.

    Derivative :math:`\sigma(x)(1 - \sigma(x))`, in :math:`(0, 1/4]`, largest at 0. Each
    sigmoid layer multiplies the backward signal by at most 1/4: ten layers, at most
    :math:`4^{-10} \approx 10^{-6}`.
    """

    def forward(self, x):
        return sigmoid(x)


class Tanh(Module):
    r""":math:`\tanh x`. Derivative :math:`1 - \tanh^2 x`, in :math:`(0, 1]`, 1 only at 0:
    zero-centred and four times steeper than sigmoid, but it still saturates."""

    def forward(self, x):
        return tanh(x)


class ReLU(Module):
    r""":math:`\max(x, 0)`. Derivative 1 for :math:`x > 0` and 0 otherwise (0 at the kink):
    no shrinking where active, no gradient at all where not ("dead" units)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return relu(x, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    r""":math:`x` for :math:`x > 0`, else :math:`a x`. Derivative in :math:`\{a, 1\}`
    (:math:`a` at 0): a small slope keeps negative units alive."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, x):
        return leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    r""":math:`x` for :math:`x > 0`, else :math:`\alpha(e^x - 1)`. Derivative 1, or
    :math:`\alpha e^x \in (0, \alpha]` for :math:`x \le 0`: smooth for :math:`\alpha = 1`,
    and negative outputs pull the mean activation toward 0."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, x):
        return elu(x, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    r""":math:`x\,\Phi(x)`. Derivative :math:`\Phi(x) + x\,\varphi(x)`, in about
    :math:`[-0.129, 1.129]` (the extremes at :math:`x = \mp\sqrt2`)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    r""":math:`x\,\sigma(x)`. Derivative :math:`\sigma(x)(1 + x(1 - \sigma(x)))`, in about
    :math:`[-0.100, 1.100]` (extremes near :math:`x = \mp 2.40`)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return silu(x, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Softplus(Module):
    r""":math:`\frac1\beta\ln(1 + e^{\beta x})`, linear above ``threshold``. Derivative
    :math:`\sigma(\beta x) \in (0, 1)`: a ReLU whose gradient never dies."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


def _need_dim(name: str, dim):
    if dim is None:
        raise ValueError(f"{name}: give the dimension to normalise over, e.g. {name}(dim=1)")
    return dim


class Softmax(Module):
    r""":math:`y_i = e^{x_i}/\sum_k e^{x_k}` along ``dim``. Jacobian
    :math:`\partial y_i/\partial x_j = y_i(\delta_{ij} - y_j)`; the diagonal lies in
    :math:`(0, 1/4]`, as for sigmoid (its two-class case)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return softmax(x, _need_dim("Softmax", self.dim))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    r""":math:`y_i = x_i - \log\sum_k e^{x_k}` along ``dim``. Jacobian
    :math:`\delta_{ij} - \mathrm{softmax}(x)_j`, entries in :math:`(-1, 1)`; it never
    saturates the way softmax followed by log would."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return log_softmax(x, _need_dim("LogSoftmax", self.dim))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
