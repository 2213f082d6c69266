r"""The Kullback-Leibler divergence as a loss: ``kl_div`` and ``KLDivLoss``.

:math:`D_{KL}(P \,\|\, Q) = \sum_i p_i \log(p_i / q_i)` measures how much a distribution
Q (the model's) falls short of P (the target's). PyTorch's convention, kept here: the
*input* is :math:`\log q` (log-probabilities, e.g. from ``log_softmax``) and the *target*
is :math:`p`, or :math:`\log p` with ``log_target=True``. Pointwise,

.. math::

    l_i = p_i (\log p_i - \log q_i) \quad (0 \text{ where } p_i = 0), \qquad
    l_i = e^{\log p_i} (\log p_i - \log q_i) \ \ (\texttt{log\_target}).

Gradient with respect to the input: :math:`\partial l_i / \partial \log q_i = -p_i`.
Composed from ``log``, ``exp`` and arithmetic, so the chain rule gives it.

Reductions: ``"batchmean"`` divides the sum by the batch size (dimension 0), which is
the divergence per sample, the mathematical KL; ``"mean"`` divides by the number of
*elements* (batch times classes), which is not, so it warns as PyTorch does; ``"sum"``
and ``"none"`` as usual. Input and target must have the same shape (chainrule does not
broadcast a prediction against its target).
"""

from __future__ import annotations

import warnings

from chainrule import ops
from chainrule.nn.loss._common import matched
from chainrule.nn.loss._common import reduce as reduce_loss
from chainrule.nn.loss.modules import _Loss
from chainrule.tensor import _make

__all__ = ["KLDivLoss", "kl_div"]

REDUCTIONS = ("mean", "batchmean", "sum", "none")


def _xlogx(p):
    """:math:`p \\log p` with the value 0 at p = 0 (its limit) and NaN for p < 0. The log
    reads 1 where p = 0, so its gradient there is 0 + 0 rather than 0 times -inf."""
    safe = ops.where(p == 0, _make(p._array.dtype.type(1.0), None, False), p)
    return p * ops.log(safe)


def _no_legacy_arguments(name: str, size_average, reduce) -> None:
    if size_average is not None or reduce is not None:
        raise ValueError(
            f"{name}: size_average and reduce are deprecated in PyTorch and not supported; "
            "use reduction='sum', 'mean', 'batchmean' or 'none'"
        )


def kl_div(
    input,
    target,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    log_target: bool = False,
):
    """KL divergence between the target distribution and the input's (see the module
    docstring): ``input`` log-probabilities, ``target`` probabilities (or
    log-probabilities with ``log_target``), of one shape."""
    _no_legacy_arguments("kl_div", size_average, reduce)
    x, t = matched("kl_div", input, target, reduction, REDUCTIONS)
    loss = ops.exp(t) * (t - x) if log_target else _xlogx(t) - t * x
    if reduction == "batchmean":
        total = loss.sum()
        return total / x.shape[0] if x.ndim else total
    if reduction == "mean":
        warnings.warn(
            "kl_div: reduction='mean' divides by the number of elements (batch size times "
            "the number of classes), which is not the KL divergence; reduction='batchmean' "
            "divides by the batch size and gives it",
            UserWarning,
            stacklevel=2,
        )
    return reduce_loss(loss, reduction, max(loss._array.size, 1))


class KLDivLoss(_Loss):
    """Module form of :func:`kl_div`: ``KLDivLoss(reduction="batchmean")(log_q, p)``."""

    _reductions = REDUCTIONS

    def __init__(
        self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False
    ) -> None:
        _no_legacy_arguments("KLDivLoss", size_average, reduce)
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

    def extra_repr(self) -> str:
        parts = [super().extra_repr(), "log_target=True" if self.log_target else ""]
        return ", ".join(p for p in parts if p)
