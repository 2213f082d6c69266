r"""Normalisation as one primitive: standardise over some axes, then scale and shift.
Batch normalisation standardises each channel over the batch (and the spatial axes),
layer normalisation each sample over its trailing axes; both are :class:`Normalize`.

The derivative is the one learners come for, so it is derived in full below and the
backward rule is that formula.
"""

from __future__ import annotations

import math

from chainrule._backend import xp
from chainrule._recording import replayable
from chainrule.ops.op import Op
from chainrule.tensor import as_tensor

__all__ = ["batch_statistics", "normalize"]


class Normalize(Op):
    r"""Standardise over ``axes``, then scale by :math:`\gamma` and shift by :math:`\beta`.

    Forward: over the :math:`N` elements :math:`x_1 \dots x_N` that share one statistic
    (one channel of a batch, for batch norm):

    .. math::

        \mu = \frac1N \sum_i x_i, \quad \sigma^2 = \frac1N \sum_i (x_i - \mu)^2, \quad
        s = \frac{1}{\sqrt{\sigma^2 + \epsilon}}, \quad
        \hat x_i = (x_i - \mu)\, s, \quad y_i = \gamma \hat x_i + \beta .

    The caller passes :math:`\mu` and :math:`\sigma^2` in (``mean``, ``var``): computed
    from x over ``axes`` (``from_batch``, training), or fixed statistics that do not
    depend on x (batch norm in evaluation, from its running estimates).

    Backward: with :math:`\bar g_i = \gamma \bar y_i` (the gradient reaching
    :math:`\hat x_i`), :math:`\bar x_i = s(\bar g_i - \frac1N\sum_j \bar g_j - \hat x_i
    \frac1N\sum_j \bar g_j \hat x_j)`, :math:`\bar\gamma = \sum \bar y \hat x`,
    :math:`\bar\beta = \sum \bar y` (each sum over every element the parameter touched);
    with fixed statistics :math:`\bar x_i = s\,\bar g_i`.

    Derivation. From :math:`\partial\sigma^2/\partial x_i = \frac2N(x_i - \mu)` and
    :math:`\partial s/\partial x_i = -s^3 (x_i - \mu)/N`:

    .. math::

        \frac{\partial \hat x_j}{\partial x_i}
            = s\Big(\delta_{ij} - \frac1N - \frac{\hat x_i \hat x_j}{N}\Big), \qquad
        \bar x_i = \sum_j \bar g_j \frac{\partial \hat x_j}{\partial x_i}
            = s\Big(\bar g_i - \frac1N\sum_j \bar g_j
              - \hat x_i \frac1N \sum_j \bar g_j \hat x_j\Big),

    which for one :math:`\gamma` shared by the :math:`N` elements (batch norm) is
    :math:`\bar x_i = \frac{\gamma s}{N}\big(N \bar y_i - \sum_j \bar y_j - \hat x_i
    \sum_j \bar y_j \hat x_j\big)`. With fixed statistics :math:`\mu` and :math:`s` do
    not depend on x, and the two sums vanish.

    ``weight`` and ``bias`` arrive shaped to broadcast against ``x`` (``(1, C, 1, 1)``
    for batch norm, the normalised shape for layer norm), or None.
    """

    def forward(self, x, weight, bias, mean, var, axes, eps, from_batch):
        self.axes, self.eps, self.fixed = axes, eps, not from_batch
        self.shapes = (
            None if weight is None else weight.shape,
            None if bias is None else bias.shape,
        )
        self.count = math.prod(x.shape[a] for a in axes)
        inv_std = 1 / xp.sqrt(var + eps)
        out = (x - mean) * inv_std
        if weight is not None:
            out *= weight
        if bias is not None:
            out += bias
        self.save(x, weight, mean, inv_std)
        return out

    def backward(self, lib, g, x, weight, mean, inv_std):
        nx, nw, nb = self.needs_input_grad[:3]
        axes, n = self.axes, self.count
        if lib.differentiable and not self.fixed:
            # The statistics depend on x: recompute them from x, so that a second
            # derivative sees that dependence too.
            mean = lib.sum(x, axes, True) / n
            d = x - mean
            inv_std = 1 / (lib.sum(d * d, axes, True) / n + self.eps) ** 0.5
        xhat = (x - mean) * inv_std
        gx = gw = gb = None
        if nx:
            gy = g if weight is None else g * weight  # the gradient reaching x-hat
            if self.fixed:
                gx = gy * inv_std
            else:
                mean_gy = lib.sum(gy, axes, True) / n
                mean_gy_xhat = lib.sum(gy * xhat, axes, True) / n
                gx = inv_std * (gy - mean_gy - xhat * mean_gy_xhat)
        if nw:
            gw = lib.sum_to(g * xhat, self.shapes[0])
        if nb:
            gb = lib.sum_to(g, self.shapes[1])
        return gx, gw, gb, None, None, None, None, None


@replayable
def batch_statistics(x, axes: tuple):
    """The mean and the biased variance of the array ``x`` over ``axes`` (kept as size-1
    dimensions): what :class:`Normalize` standardises with in training."""
    n = math.prod(x.shape[a] for a in axes)
    mean = xp.add.reduce(x, axis=axes, keepdims=True) / n
    d = x - mean
    return mean, xp.add.reduce(d * d, axis=axes, keepdims=True) / n


def normalize(
    input, axes, weight=None, bias=None, eps: float = 1e-5, mean=None, var=None, fixed=False
):
    """``(input - mean) / sqrt(var + eps) * weight + bias`` over ``axes``. ``mean`` and
    ``var`` (arrays broadcastable against the input): the input's own statistics over
    ``axes`` (computed here when not given), or, with ``fixed``, statistics that do not
    depend on the input (running estimates). ``weight`` and ``bias`` broadcast against
    the input."""
    x = as_tensor(input)
    axes = tuple(axes)
    if mean is None:
        mean, var = batch_statistics(x._array, axes)
    return Normalize.apply(x, weight, bias, mean, var, axes, float(eps), not fixed)
