r"""Losses: how the sheet measures error, as functionals and modules.

Every loss takes ``reduction``: ``"none"`` returns the unreduced losses :math:`l_n`,
``"sum"`` returns :math:`\sum_n l_n`, and ``"mean"`` (the default) divides that sum by
the number stated in each docstring: the number of elements, the number of samples, or,
for weighted class-index losses, the total weight of the non-ignored targets, as in
PyTorch. Input and target shapes must agree exactly: where PyTorch only warns and
broadcasts ((N, 1) against (N,)), chainrule raises.

The six families of the sheet: 0-1 (``zero_one_loss``, a metric), absolute (``l1_loss``),
squared (``mse_loss``), log (``cross_entropy``, ``nll_loss``, ``binary_cross_entropy*``,
``categorical_cross_entropy``), exponential (``exponential_loss``) and hinge
(``hinge_loss``, ``squared_hinge_loss``, ``multi_margin_loss``, ``perceptron_loss``).
The structural-risk penalties (``l1_penalty``, ``l2_penalty``, ``l0_count``) are here too.
"""

from chainrule.nn.loss.log_losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    categorical_cross_entropy,
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
from chainrule.nn.loss.modules import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    ExponentialLoss,
    HingeLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    MultiMarginLoss,
    NLLLoss,
    PerceptronLoss,
    SmoothL1Loss,
    SquaredHingeLoss,
    ZeroOneLoss,
)
from chainrule.nn.loss.penalties import l0_count, l1_penalty, l2_penalty
from chainrule.nn.loss.regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss

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
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "cross_entropy",
    "exponential_loss",
    "hinge_loss",
    "huber_loss",
    "l0_count",
    "l1_loss",
    "l1_penalty",
    "l2_penalty",
    "mse_loss",
    "multi_margin_loss",
    "nll_loss",
    "perceptron_loss",
    "smooth_l1_loss",
    "squared_hinge_loss",
    "zero_one_loss",
]
