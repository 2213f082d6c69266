r"""Margin losses, functions of the margin :math:`t\,y` (target times score): the hinge
family (SVM), the perceptron criterion, the exponential loss (AdaBoost), and the
multi-class hinge."""

from __future__ import annotations

import math

from chainrule import ops
from chainrule._backend import xp
from chainrule.errors import ShapeError
from chainrule.nn.loss._common import (
    check_reduction,
    class_targets,
    plus_minus_one,
    reduce,
    with_batch,
)
from chainrule.ops.promotion import float_input

__all__ = [
    "exponential_loss",
    "hinge_loss",
    "multi_margin_loss",
    "perceptron_loss",
    "squared_hinge_loss",
]


def multi_margin_loss(
    input, target, p: int = 1, margin: float = 1.0, weight=None, reduction: str = "mean"
):
    r"""Multi-class hinge loss (PyTorch's): for sample n with class :math:`y`,

    .. math:: l_n = \frac{1}{C}\sum_{i \ne y} w_y \max(0, \mathrm{margin} - x_{n,y} + x_{n,i})^p

    with ``p`` 1 or 2; ``mean`` divides by N. Gradient: for each active term
    (:math:`\mathrm{margin} - x_y + x_i > 0`, strictly: 0 at the hinge),
    :math:`+p\,w_y z^{p-1}/C` for :math:`x_i` and the same with a minus sign for :math:`x_y`.
    """
    check_reduction("multi_margin_loss", reduction)
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: p must be 1 or 2, got {p}")
    x = float_input(input)
    x, target, unbatched = with_batch(x, target, "multi_margin_loss")
    if x.ndim != 2:
        raise ShapeError(f"multi_margin_loss: expected input (N, C) or (C,), got {tuple(x.shape)}")
    t, _ = class_targets("multi_margin_loss", tuple(x.shape), target, None)
    n, c = x.shape
    picked = ops.gather(x, 1, t[:, None])
    z = (x - picked + margin).relu()
    if p == 2:
        z = z * z
    others = xp.ones((n, c), x._array.dtype)
    others[xp.arange(n), t] = 0
    if weight is not None:
        others = others * float_input(weight)._array[t][:, None]
    loss = (z * others).sum(1) / c
    if reduction == "none":
        return loss.squeeze(0) if unbatched else loss
    return reduce(loss, reduction)


def hinge_loss(input, target, margin: float = 1.0, reduction: str = "mean"):
    r"""Hinge loss (the SVM's): targets :math:`t \in \{-1, +1\}`, scores :math:`y`;
    :math:`l_n = \max(0, \mathrm{margin} - t_n y_n)`; ``mean`` divides by the number of
    elements. No reward for being more than the margin right.

    Gradient: :math:`-t_n` where :math:`t_n y_n < \mathrm{margin}`, else 0 (0 at the hinge
    itself, the ReLU convention).
    """
    y, t = plus_minus_one("hinge_loss", input, target, reduction)
    return reduce((margin - t * y).relu(), reduction)


def squared_hinge_loss(input, target, margin: float = 1.0, reduction: str = "mean"):
    r"""Squared hinge loss: :math:`l_n = \max(0, \mathrm{margin} - t_n y_n)^2`, targets
    in {-1, +1}; ``mean`` divides by the number of elements. Gradient:
    :math:`-2 t_n \max(0, \mathrm{margin} - t_n y_n)`, continuous (0 at the hinge)."""
    y, t = plus_minus_one("squared_hinge_loss", input, target, reduction)
    h = (margin - t * y).relu()
    return reduce(h * h, reduction)


def perceptron_loss(input, target, reduction: str = "mean"):
    r"""Perceptron criterion: :math:`l_n = \max(0, -t_n y_n)`, targets in {-1, +1};
    ``mean`` divides by the number of elements.

    Gradient: :math:`-t_n` where :math:`t_n y_n \le 0`, else 0. Convention at the kink: a
    score of exactly 0 counts as a mistake (as in :func:`zero_one_loss` and the classic
    perceptron rule), so a perceptron started at zero weights still learns.
    """
    y, t = plus_minus_one("perceptron_loss", input, target, reduction)
    m = t * y
    return reduce(ops.where(m <= 0, -m, 0.0), reduction)


def exponential_loss(input, target, reduction: str = "mean"):
    r"""Exponential loss (AdaBoost's): :math:`l_n = e^{-t_n y_n}`, targets in {-1, +1};
    ``mean`` divides by the number of elements. Gradient: :math:`-t_n e^{-t_n y_n}`.

    Numerics: ``sum`` and ``mean`` are computed as :math:`\exp(\mathrm{logsumexp}(-t y) -
    \log N)`, so they overflow only when the result itself exceeds the largest float, not
    when an intermediate sum does; a very wrong score weighs exponentially, which is why
    this loss is sensitive to outliers and label noise.
    """
    y, t = plus_minus_one("exponential_loss", input, target, reduction)
    z = -(t * y)
    if reduction == "none":
        return z.exp()
    lse = z.logsumexp()
    return (lse - math.log(z._array.size)).exp() if reduction == "mean" else lse.exp()
