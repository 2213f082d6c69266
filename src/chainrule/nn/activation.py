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
from chainrule._backend import xp
from chainrule.autograd.grad_mode import no_grad
from chainrule.dtypes import or_default
from chainrule.nn.layers import layer_input
from chainrule.nn.module import Module, Parameter
from chainrule.ops.inplace import apply_inplace
from chainrule.ops.promotion import float_input
from chainrule.tensor import Tensor, _make, as_tensor, full

__all__ = [
    "ELU",
    "GELU",
    "Hardtanh",
    "LeakyReLU",
    "LogSoftmax",
    "Mish",
    "PReLU",
    "ReLU",
    "ReLU6",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "elu",
    "gelu",
    "hardtanh",
    "leaky_relu",
    "log_softmax",
    "mish",
    "prelu",
    "relu",
    "relu6",
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


class _InplaceActivation(Module):
    """An activation with PyTorch's ``inplace`` flag (``inplace=True`` writes the result
    into the input: see ``ops/inplace.py``). Its repr shows the settings given to
    :meth:`_init`, then ``inplace=True`` when it is set, as PyTorch's does."""

    def __init__(self, inplace: bool = False) -> None:
        self._init(inplace)

    def _init(self, inplace: bool, **settings) -> None:
        """``Module.__init__``, then ``inplace`` and ``settings`` as attributes (the repr
        shows the settings in this order): a subclass's ``__init__`` calls this."""
        super().__init__()
        for name, value in settings.items():
            setattr(self, name, value)
        self._shown = tuple(settings)
        self.inplace = inplace

    def extra_repr(self) -> str:
        shown = [f"{name}={getattr(self, name)}" for name in self._shown]
        return ", ".join([*shown, "inplace=True"] if self.inplace else shown)


class ReLU(_InplaceActivation):
    r""":math:`\max(x, 0)`. Derivative 1 for :math:`x > 0` and 0 otherwise (0 at the kink):
    no shrinking where active, no gradient at all where not ("dead" units)."""

    def forward(self, x):
        return relu(x, self.inplace)


class LeakyReLU(_InplaceActivation):
    r""":math:`x` for :math:`x > 0`, else :math:`a x`. Derivative in :math:`\{a, 1\}`
    (:math:`a` at 0): a small slope keeps negative units alive."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        self._init(inplace, negative_slope=negative_slope)

    def forward(self, x):
        return leaky_relu(x, self.negative_slope, self.inplace)


class ELU(_InplaceActivation):
    r""":math:`x` for :math:`x > 0`, else :math:`\alpha(e^x - 1)`. Derivative 1, or
    :math:`\alpha e^x \in (0, \alpha]` for :math:`x \le 0`: smooth for :math:`\alpha = 1`,
    and negative outputs pull the mean activation toward 0."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        self._init(inplace, alpha=alpha)

    def forward(self, x):
        return elu(x, self.alpha, self.inplace)


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


class SiLU(_InplaceActivation):
    r""":math:`x\,\sigma(x)`. Derivative :math:`\sigma(x)(1 + x(1 - \sigma(x)))`, in about
    :math:`[-0.100, 1.100]` (extremes near :math:`x = \mp 2.40`)."""

    def forward(self, x):
        return silu(x, self.inplace)


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


class _AlongDim(Module):
    """A normalisation along ``dim`` (Softmax, LogSoftmax): ``dim`` must be given by the
    time it runs (PyTorch's implicit choice is deprecated), and the repr shows it."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def _dim(self) -> int:
        if self.dim is None:
            name = type(self).__name__
            raise ValueError(f"{name}: give the dimension to normalise over, e.g. {name}(dim=1)")
        return self.dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    r""":math:`y_i = e^{x_i}/\sum_k e^{x_k}` along ``dim``. Jacobian
    :math:`\partial y_i/\partial x_j = y_i(\delta_{ij} - y_j)`; the diagonal lies in
    :math:`(0, 1/4]`, as for sigmoid (its two-class case)."""

    def forward(self, x):
        return softmax(x, self._dim())


class LogSoftmax(_AlongDim):
    r""":math:`y_i = x_i - \log\sum_k e^{x_k}` along ``dim``. Jacobian
    :math:`\delta_{ij} - \mathrm{softmax}(x)_j`, entries in :math:`(-1, 1)`; it never
    saturates the way softmax followed by log would."""

    def forward(self, x):
        return log_softmax(x, self._dim())


# ----------------------------------------------------------------- PReLU, Hardtanh, Mish
def prelu(input, weight):
    r""":math:`x` for :math:`x > 0`, else :math:`a x`, with a learned slope :math:`a`:
    ``weight`` holds one slope, or one per channel (dimension 1). Derivatives
    :math:`\partial y/\partial x \in \{a, 1\}` (:math:`a` at 0) and
    :math:`\partial y/\partial a = x` where :math:`x \le 0` (so 0 at 0), as in PyTorch."""
    x = _float(input)
    w = weight if isinstance(weight, Tensor) else ops.reshape(_float(weight), (-1,))
    if w.ndim > 1:
        raise ValueError(f"prelu: weight must be a scalar or 1-D, got shape {tuple(w.shape)}")
    k = w._array.size
    channels = x.shape[1] if x.ndim >= 2 else 1
    if k != 1 and k != channels:
        raise ValueError(
            f"prelu: weight has {k} slopes but the input (shape {tuple(x.shape)}) has "
            f"{channels} channels in dimension 1; give 1 slope or one per channel"
        )
    if k != 1:
        w = ops.reshape(w, (k,) + (1,) * (x.ndim - 2))
    elif w.ndim:
        w = ops.reshape(w, ())
    return ops.where(x > 0, x, w * x)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    r""":math:`\min(\max(x, lo), hi)`. Derivative 1 strictly inside :math:`(lo, hi)` and 0
    outside and at the bounds themselves (PyTorch's convention, unlike ``clamp``, whose
    gradient passes at the bounds)."""
    if min_val > max_val:
        raise ValueError(
            f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})"
        )
    if inplace:
        return apply_inplace(input, "hardtanh_", hardtanh, min_val, max_val)
    x = as_tensor(input)
    a = x._array
    inside = _make((a > min_val) & (a < max_val), None, False)
    edge = _make(xp.clip(a, min_val, max_val), None, False)  # constants: no gradient
    return ops.where(inside, x, edge)


def relu6(input, inplace: bool = False):
    r""":math:`\min(\max(x, 0), 6)`: ``hardtanh(x, 0, 6)``, derivative 0 at 0 and 6."""
    return hardtanh(input, 0.0, 6.0, inplace)


def mish(input, inplace: bool = False):
    r""":math:`x \tanh(\mathrm{softplus}(x))`. Derivative :math:`\tanh(s) + x\,\sigma(x)
    (1 - \tanh^2 s)` with :math:`s = \mathrm{softplus}(x)`, from the chain rule."""
    if inplace:
        return apply_inplace(input, "mish_", mish)
    x = _float(input)
    return x * ops.tanh(ops.softplus(x))


class PReLU(Module):
    r""":math:`\max(0, x) + a \min(0, x)` with learned slopes ``weight`` (one, or
    ``num_parameters`` = the number of channels), initialised to ``init``."""

    def __init__(
        self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None
    ) -> None:
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        dt = or_default(dtype)
        self.weight = Parameter(full((num_parameters,), init, dtype=dt))

    def reset_parameters(self) -> None:
        with no_grad():
            self.weight.fill_(self.init)

    def forward(self, x):
        return prelu(layer_input(x, self.weight._array.dtype, self), self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Hardtanh(_InplaceActivation):
    r""":math:`\min(\max(x, lo), hi)`; derivative 1 inside, 0 outside and at the bounds."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        if max_val <= min_val:
            raise ValueError(
                f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})"
            )
        self._init(inplace, min_val=min_val, max_val=max_val)

    def forward(self, x):
        return hardtanh(x, self.min_val, self.max_val, self.inplace)


class ReLU6(Hardtanh):
    r""":math:`\min(\max(x, 0), 6)`, ``Hardtanh(0, 6)``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)
        self._shown = ()  # PyTorch's repr shows only ``inplace`` (the bounds are fixed)


class Mish(_InplaceActivation):
    r""":math:`x \tanh(\mathrm{softplus}(x))`: smooth, non-monotonic (a minimum of about
    -0.31 near x = -1.19), unbounded above."""

    def forward(self, x):
        return mish(x, self.inplace)
