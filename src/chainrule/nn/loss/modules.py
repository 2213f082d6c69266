"""Every loss as a module (``nn.MSELoss()`` ...), a one-line wrapper of its functional."""

from __future__ import annotations

from chainrule.nn.loss._common import check_reduction
from chainrule.nn.loss.log_losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)
from chainrule.nn.loss.margin import (
    exponential_loss,
    hinge_loss,
    multi_margin_loss,
    perceptron_loss,
    squared_hinge_loss,
)
from chainrule.nn.loss.metrics import zero_one_loss
from chainrule.nn.loss.regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss
from chainrule.nn.module import Module

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "ExponentialLoss",
    "HingeLoss",
    "HuberLoss",
    "L1Loss",
    "MSELoss",
    "MultiMarginLoss",
    "NLLLoss",
    "PerceptronLoss",
    "SmoothL1Loss",
    "SquaredHingeLoss",
    "ZeroOneLoss",
]


class _Loss(Module):
    _reductions = ("mean", "sum", "none")

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(type(self).__name__, reduction, self._reductions)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Module form of :func:`mse_loss`."""

    def forward(self, input, target):
        return mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Module form of :func:`l1_loss`."""

    def forward(self, input, target):
        return l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """Module form of :func:`huber_loss`."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return huber_loss(input, target, self.reduction, self.delta)


class SmoothL1Loss(_Loss):
    """Module form of :func:`smooth_l1_loss`."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return smooth_l1_loss(input, target, self.reduction, self.beta)


class BCELoss(_Loss):
    """Module form of :func:`binary_cross_entropy`."""

    def __init__(self, weight=None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input, target):
        return binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Module form of :func:`binary_cross_entropy_with_logits`."""

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None) -> None:
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):
        return binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )


class CrossEntropyLoss(_Loss):
    """Module form of :func:`cross_entropy` (logits in, class indices or probabilities)."""

    def __init__(
        self,
        weight=None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def forward(self, input, target):
        return cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )


class NLLLoss(_Loss):
    """Module form of :func:`nll_loss` (log-probabilities in)."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input, target):
        return nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MultiMarginLoss(_Loss):
    """Module form of :func:`multi_margin_loss`."""

    def __init__(
        self, p: int = 1, margin: float = 1.0, weight=None, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        self.p, self.margin, self.weight = p, margin, weight

    def forward(self, input, target):
        return multi_margin_loss(input, target, self.p, self.margin, self.weight, self.reduction)


class HingeLoss(_Loss):
    """Module form of :func:`hinge_loss` (targets in {-1, +1})."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input, target):
        return hinge_loss(input, target, self.margin, self.reduction)


class SquaredHingeLoss(_Loss):
    """Module form of :func:`squared_hinge_loss`."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input, target):
        return squared_hinge_loss(input, target, self.margin, self.reduction)


class ExponentialLoss(_Loss):
    """Module form of :func:`exponential_loss`."""

    def forward(self, input, target):
        return exponential_loss(input, target, self.reduction)


class PerceptronLoss(_Loss):
    """Module form of :func:`perceptron_loss`."""

    def forward(self, input, target):
        return perceptron_loss(input, target, self.reduction)


class ZeroOneLoss(_Loss):
    """Module form of :func:`zero_one_loss` (a metric: never differentiable)."""

    def __init__(self, tolerance: float | None = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.tolerance = tolerance

    def forward(self, input, target):
        return zero_one_loss(input, target, self.tolerance, self.reduction)
