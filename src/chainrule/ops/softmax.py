r"""The numerically stable trio: ``logsumexp``, ``softmax``, ``log_softmax``.

All three subtract the maximum :math:`m` before exponentiating, using
:math:`\log\sum_i e^{x_i} = m + \log\sum_i e^{x_i - m}`: every exponent is then at most 0,
so nothing overflows, and the largest term is exactly 1, so the sum never underflows to 0.
Each is a primitive with its own derivative, which is both faster and more accurate than
the composition of ``exp``, ``sum`` and ``log``.
"""

from __future__ import annotations

from chainrule._backend import xp
from chainrule._numpy_names import numpy_names
from chainrule.ops._common import normalize_dim, normalize_dims
from chainrule.ops.op import Op
from chainrule.ops.promotion import float_input
from chainrule.ops.reduction import kept_dims

__all__ = ["exponentials", "log_softmax", "logsumexp", "softmax"]


def exponentials(x, axes):
    """The one softmax forward that logsumexp, softmax, log_softmax and the fused
    cross-entropy share: ``s = x - m`` (``m`` the maximum over ``axes``), ``e = exp(s)``
    and ``total``, the sum of ``e`` over ``axes``; so the softmax is ``e / total`` and the
    log of the sum of ``exp(x)`` is ``log(total) + m``. An infinite maximum is replaced by
    0, so that rows of -inf (or holding +inf) give -inf (or +inf) rather than nan."""
    m = xp.max(x, axis=axes, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    s = x - m
    e = xp.exp(s)
    return s, m, e, xp.add.reduce(e, axis=axes, keepdims=True)


class Logsumexp(Op):
    r"""Forward: :math:`y = \log \sum_i e^{x_i}` over dims, computed as
    :math:`m + \log\sum_i e^{x_i - m}`.

    Backward: :math:`\bar x_i = \bar y\, e^{x_i - y}` (the softmax of x times the gradient).
    """

    def forward(self, x, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        _, m, _, total = exponentials(x, axes)
        out = xp.log(total) + m
        if not keepdim:
            out = out.squeeze(axis=axes)
        self.save(x, out)
        return out

    def backward(self, lib, g, x, out):
        g, out = kept_dims(lib, self.in_shape, self.axes, self.keepdim, g, out)
        return g * lib.exp(x - out), None, None


class Softmax(Op):
    r"""Forward: :math:`y_i = e^{x_i} / \sum_k e^{x_k}` along ``dim``.

    Backward: with the Jacobian :math:`\partial y_i/\partial x_j = y_i(\delta_{ij} - y_j)`,
    :math:`\bar x = y \odot (\bar y - \sum_k \bar y_k y_k)`.
    """

    def forward(self, x, axis):
        self.axis = axis
        _, _, e, total = exponentials(x, axis)
        out = e / total
        self.save(out)
        return out

    def backward(self, lib, g, out):
        return out * (g - lib.sum(g * out, self.axis, True)), None


class LogSoftmax(Op):
    r"""Forward: :math:`y_i = x_i - \log\sum_k e^{x_k}` along ``dim``.

    Backward: :math:`\bar x = \bar y - e^{y} \sum_k \bar y_k`. With a one-hot target and
    the negative log-likelihood on top, this is the famous :math:`\mathrm{softmax}(x) - t`.
    """

    op_name = "log_softmax"

    def forward(self, x, axis):
        self.axis = axis
        s, _, _, total = exponentials(x, axis)
        out = s - xp.log(total)
        self.save(out)
        return out

    def backward(self, lib, g, out):
        return g - lib.exp(out) * lib.sum(g, self.axis, True), None


@numpy_names
def logsumexp(input, dim=None, keepdim: bool = False):
    """:math:`\\log\\sum\\exp` over ``dim`` (all dimensions when None), without overflow."""
    x = float_input(input)
    axes = normalize_dims(dim, x._array.ndim, "logsumexp")
    if x._array.size == 0 and axes is None:
        raise ValueError(f"logsumexp: cannot reduce an empty tensor of shape {tuple(x.shape)}")
    return Logsumexp.apply(x, axes, bool(keepdim))


def softmax(input, dim: int):
    """Softmax along ``dim``: exponentiate and normalise to sum 1."""
    x = float_input(input)
    return Softmax.apply(x, _axis(dim, x, "softmax"))


def log_softmax(input, dim: int):
    """Log of the softmax along ``dim``, computed directly (never log of a rounded 0)."""
    x = float_input(input)
    return LogSoftmax.apply(x, _axis(dim, x, "log_softmax"))


def _axis(dim, x, op):
    axis = normalize_dim(dim, x._array.ndim, op)
    return (axis,) if x._array.ndim else None
