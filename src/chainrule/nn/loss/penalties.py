"""Structural-risk penalties on the weights: L1 (lasso), L2 (ridge) and the L0 count."""

from __future__ import annotations

from chainrule import dtypes as _dt
from chainrule._backend import xp
from chainrule.nn.loss._common import metric
from chainrule.tensor import Tensor, as_tensor

__all__ = [
    "l0_count",
    "l1_penalty",
    "l2_penalty",
]


def _params(params) -> list:
    return [params] if isinstance(params, Tensor) else list(params)


def l1_penalty(params):
    r"""Lasso penalty :math:`\sum_i |w_i|` over every tensor in ``params``. Gradient
    :math:`\mathrm{sign}(w_i)` (0 at 0): a constant pull toward 0, which makes weights exactly 0."""
    total = None
    for p in _params(params):
        term = p.abs().sum()
        total = term if total is None else total + term
    return total if total is not None else as_tensor(0.0)


def l2_penalty(params):
    r"""Ridge penalty :math:`\tfrac12\sum_i w_i^2`. Gradient :math:`w_i`: a pull
    proportional to the weight (weight decay), which shrinks weights but rarely zeroes them."""
    total = None
    for p in _params(params):
        term = (p * p).sum()
        total = term if total is None else total + term
    return total * 0.5 if total is not None else as_tensor(0.0)


def l0_count(params, tol: float = 0.0):
    r"""The L0 "norm": the number of weights with :math:`|w_i| > \mathrm{tol}`. A count, not
    differentiable (the result never requires grad); :func:`l1_penalty` is its convex surrogate."""
    count = sum(int((xp.abs(p._array) > tol).sum()) for p in _params(params))
    return metric(
        xp.asarray(count, dtype=_dt.int64),
        "l0_count is a count and has no gradient; use l1_penalty, its convex surrogate",
    )
