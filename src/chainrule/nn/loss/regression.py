"""Regression losses: squared and absolute errors, and the two that join them (Huber,
smooth L1)."""

from __future__ import annotations

from chainrule import ops
from chainrule.nn.loss._common import matched, reduce

__all__ = [
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "smooth_l1_loss",
]


def mse_loss(input, target, reduction: str = "mean"):
    r"""Squared loss: :math:`l_n = (x_n - y_n)^2`; ``mean`` divides by the number of elements.

    Gradient: :math:`\partial l_n/\partial x_n = 2(x_n - y_n)`. Its minimiser over a set of
    targets is their mean (least squares; the Gaussian-noise choice).
    """
    x, t = matched("mse_loss", input, target, reduction)
    d = x - t
    return reduce(d * d, reduction)


def l1_loss(input, target, reduction: str = "mean"):
    r"""Absolute loss: :math:`l_n = |x_n - y_n|`; ``mean`` divides by the number of elements.

    Gradient: :math:`\mathrm{sign}(x_n - y_n)`, 0 where :math:`x_n = y_n` (PyTorch's
    convention). Its minimiser is the median (the Laplace-noise choice): robust to outliers.
    """
    x, t = matched("l1_loss", input, target, reduction)
    return reduce((x - t).abs(), reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0):
    r"""Huber loss: :math:`l_n = \tfrac12 d_n^2` if :math:`|d_n| < \delta`, else
    :math:`\delta(|d_n| - \tfrac12\delta)`, with :math:`d = x - y`; ``mean`` divides by the
    number of elements.

    Gradient: :math:`d_n` inside, :math:`\delta\,\mathrm{sign}(d_n)` outside (the two agree
    at :math:`|d| = \delta`): squared near the target, absolute (bounded gradient) far away.
    """
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, t = matched("huber_loss", input, target, reduction)
    d = x - t
    a = d.abs()
    return reduce(ops.where(a < delta, d * d * 0.5, (a - 0.5 * delta) * delta), reduction)


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0):
    r"""Smooth L1: :math:`l_n = \tfrac12 d_n^2/\beta` if :math:`|d_n| < \beta`, else
    :math:`|d_n| - \tfrac12\beta`; Huber loss divided by :math:`\beta`, and plain L1 at
    :math:`\beta = 0`. ``mean`` divides by the number of elements.

    Gradient: :math:`d_n/\beta` inside, :math:`\mathrm{sign}(d_n)` outside.
    """
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    x, t = matched("smooth_l1_loss", input, target, reduction)
    d = x - t
    a = d.abs()
    if beta == 0:
        return reduce(a, reduction)
    return reduce(ops.where(a < beta, d * d * (0.5 / beta), a - 0.5 * beta), reduction)
