r"""Losses: how a model's error is measured, as functionals and modules.

Every loss takes ``reduction``: ``"none"`` returns the unreduced losses :math:`l_n`,
``"sum"`` returns :math:`\sum_n l_n`, and ``"mean"`` (the default) divides that sum by
the number stated in each docstring: the number of elements, the number of samples, or,
for weighted class-index losses, the total weight of the non-ignored targets, as in
PyTorch. Input and target shapes must agree exactly: where PyTorch only warns and
broadcasts ((N, 1) against (N,)), chainrule raises.

The six families of docs/fundamentals.md §6: 0-1 (``zero_one_loss``, a metric),
absolute (``l1_loss``), squared (``mse_loss``), log (``cross_entropy``, ``nll_loss``,
``binary_cross_entropy*``, ``categorical_cross_entropy``), exponential (``exponential_loss``)
and hinge (``hinge_loss``, ``squared_hinge_loss``, ``multi_margin_loss``, ``perceptron_loss``).
The structural-risk penalties (``l1_penalty``, ``l2_penalty``, ``l0_count``) are here too.
"""

from chainrule.nn.loss import log_losses, margin, metrics, modules, penalties, regression
from chainrule.nn.loss.log_losses import *  # noqa: F403
from chainrule.nn.loss.margin import *  # noqa: F403
from chainrule.nn.loss.metrics import *  # noqa: F403
from chainrule.nn.loss.modules import *  # noqa: F403
from chainrule.nn.loss.penalties import *  # noqa: F403
from chainrule.nn.loss.regression import *  # noqa: F403

# Each family's names, as its module lists them.
__all__ = (
    modules.__all__
    + log_losses.__all__
    + margin.__all__
    + metrics.__all__
    + penalties.__all__
    + regression.__all__
)
