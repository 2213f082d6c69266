"""The 0-1 loss: the error count, a yardstick for the others rather than a training
objective."""

from __future__ import annotations

from chainrule import dtypes as _dt
from chainrule._backend import xp
from chainrule.nn.loss._common import (
    check_reduction,
    class_targets,
    matched,
    metric,
    plus_minus_one,
)
from chainrule.tensor import as_tensor

__all__ = [
    "zero_one_loss",
]


def zero_one_loss(input, target, tolerance: float | None = None, reduction: str = "mean"):
    r"""0-1 loss, the error count: 1 where the prediction is wrong, 0 where right.

    * scores (N, C) with class indices (N,): wrong where :math:`\arg\max_c y_{n,c} \ne t_n`;
    * scores (N,) with targets in {-1, +1}: wrong where :math:`\mathrm{sign}(y_n) \ne t_n`,
      and a score of 0 counts as wrong;
    * with ``tolerance`` :math:`T` (regression): wrong where :math:`|y_n - t_n| \ge T`.

    ``mean`` is the error rate, ``sum`` the number of errors. Its gradient is 0 almost
    everywhere, so it is a metric, not a training objective: the result never requires
    grad, and ``backward()`` on it raises, pointing to a differentiable surrogate.
    """
    check_reduction("zero_one_loss", reduction)
    y = as_tensor(input)
    if tolerance is not None:
        y, t = matched("zero_one_loss", y, target, reduction)
        wrong = xp.abs(y._array - t._array) >= tolerance
        surrogate = "mse_loss, l1_loss or huber_loss"
    elif y.ndim == 2:
        t, _ = class_targets("zero_one_loss", tuple(y.shape), target, None)
        wrong = xp.argmax(y._array, axis=1) != t
        surrogate = "cross_entropy (log loss) or multi_margin_loss (hinge)"
    else:
        y, t = plus_minus_one("zero_one_loss", y, target, reduction)
        wrong = y._array * t._array <= 0
        surrogate = "hinge_loss, binary_cross_entropy_with_logits (log loss) or perceptron_loss"
    errors = wrong.astype(_dt.get_default_dtype())
    value = errors if reduction == "none" else errors.sum() if reduction == "sum" else errors.mean()
    return metric(
        value,
        "zero_one_loss is not differentiable (its gradient is 0 almost everywhere); train on a "
        f"differentiable surrogate such as {surrogate}, and use zero_one_loss to measure",
    )
