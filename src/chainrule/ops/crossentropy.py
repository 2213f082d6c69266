r"""The log losses' primitives: softmax cross-entropy on logits, fused, and binary
cross-entropy on probabilities. (``nn/loss/`` checks their arguments and builds the
per-sample weights; the arithmetic and the derivatives are here.)"""

from __future__ import annotations

import numpy as np

from chainrule._backend import xp
from chainrule.ops.op import Op
from chainrule.ops.softmax import exponentials

__all__ = ["BinaryCrossEntropy", "SoftmaxCrossEntropy"]

# PyTorch's epsilon is the float32 number nearest 1e-12, in every dtype.
_BCE_EPS = float(np.float32(1e-12))


class SoftmaxCrossEntropy(Op):
    r"""Forward: for sample :math:`n` with class :math:`y_n` (the class axis is 1), with
    :math:`\ell_{n,k} = -\log\mathrm{softmax}(x_n)_k = \log\sum_j e^{x_{n,j}} - x_{n,k}`,

    .. math:: l_n = (1 - \varepsilon)\, c_n\, \ell_{n, y_n}
              + \frac{\varepsilon}{C}\, v_n \sum_k w_k\, \ell_{n,k}

    :math:`c_n = w_{y_n} v_n` is the sample's weight (``coef``; None when every
    :math:`c_n` is 1), :math:`v_n` is 0 for an ignored target and 1 otherwise (``valid``;
    None when none is ignored), :math:`w` the class weights (``class_weight``; None for
    ones) and :math:`\varepsilon` the label smoothing. Reduced by ``none``/``sum``/``mean``;
    the mean divides by :math:`\sum_n c_n`, as PyTorch does for both terms.

    Backward: with :math:`p_n = \mathrm{softmax}(x_n)` and :math:`W = \sum_k w_k`,
    :math:`\bar x_n = \bar l_n\,[(1 - \varepsilon)\,c_n\,(p_n - \mathrm{onehot}(y_n)) +
    \frac{\varepsilon}{C}\,v_n\,(W p_n - w)]` (for ``mean``, :math:`\bar l_n = \bar l /
    \sum c`). Without weights or smoothing this is :math:`a - y`
    (docs/fundamentals.md §3); with smoothing and no weights, :math:`p_n - \tilde y_n` for
    the smoothed target
    :math:`\tilde y = (1 - \varepsilon)\,\mathrm{onehot}(y) + \varepsilon/C`. One primitive
    instead of log_softmax, a gather and weighted means. The forward keeps the softmax it
    computed for an ordinary backward; a differentiable one (``create_graph``) recomputes
    it from the logits, so that it has a graph.

    Conventions (PyTorch's): the target's logit is picked, never summed against a
    one-hot, and an ignored sample's loss is set to 0, not multiplied by 0: a masked class
    (a logit of :math:`-\infty`) times its 0 would be nan. So :math:`-\infty` logits of
    other classes are probability 0, an ignored row is 0 whatever its logits, and a target
    class at :math:`-\infty` costs :math:`+\infty` (with a finite gradient); with label
    smoothing every class enters the second term, so a masked class costs
    :math:`+\infty` there too, as in PyTorch.
    """

    def forward(self, x, target, coef, valid, reduction, smoothing, class_weight):
        self.reduction, self.smoothing = reduction, smoothing
        self.count = target.size if coef is None else xp.add.reduce(coef, axis=None)
        s, _, e, total = exponentials(x, 1)
        lse = xp.log(total)
        nll = lse[:, 0] - _picked(s, target)
        loss = self._reduced(nll, coef, valid)
        if smoothing:
            terms = lse - s  # -log softmax, every class
            if class_weight is not None:
                terms = terms * class_weight.reshape((1, -1) + (1,) * (x.ndim - 2))
            smooth = self._reduced(xp.add.reduce(terms, axis=1), None, valid)
            # (each term reduced on its own first, as PyTorch does: the same overflows)
            loss = loss * (1 - smoothing) + smooth * (smoothing / x.shape[1])
        e /= total  # the softmax
        self.save(x, target, coef, valid, class_weight, e)
        return loss

    def _reduced(self, loss, coef, valid):
        """Per-sample losses weighted by ``coef``, ignored samples set to 0, reduced."""
        if coef is not None:
            loss *= coef
        if valid is not None:
            loss = xp.where(valid, loss, 0).astype(loss.dtype, copy=False)
        if self.reduction == "none":
            return loss
        loss_sum = xp.add.reduce(loss, axis=None)
        return loss_sum if self.reduction == "sum" else loss_sum / self.count

    def backward(self, lib, g, x, target, coef, valid, class_weight, softmax):
        p = lib.softmax(x, 1) if lib.differentiable else softmax
        per_sample = (x.shape[0], 1, *x.shape[2:])  # room for the class axis
        classes = xp.arange(x.shape[1]).reshape((1, -1) + (1,) * (x.ndim - 2))
        onehot = (target[:, None] == classes).astype(x.dtype)
        grad = p - onehot
        if coef is not None:
            grad = grad * coef.reshape(per_sample)
        if self.smoothing:
            eps, c = self.smoothing, x.shape[1]
            if class_weight is None:
                smooth = p * c - 1
            else:
                w = class_weight.reshape((1, -1) + (1,) * (x.ndim - 2))
                smooth = p * float(xp.add.reduce(class_weight)) - w
            if valid is not None:
                smooth = smooth * valid.reshape(per_sample).astype(x.dtype)
            grad = grad * (1 - eps) + smooth * (eps / c)
        if self.reduction == "mean":
            g = g / self.count
        if self.reduction != "none":  # one scale for every sample
            return grad * g, None, None, None, None, None, None
        return grad * lib.reshape(g, per_sample), None, None, None, None, None, None


class BinaryCrossEntropy(Op):
    r"""Forward: :math:`l = -[y \log x + (1 - y)\log(1 - x)]`, each log clamped at -100
    (PyTorch's guard: :math:`\log 0` would be -inf).

    Backward: :math:`\bar x = \bar l\,(x - y)/\max(x(1 - x), 10^{-12})`, PyTorch's formula,
    which stays finite at :math:`x \in \{0, 1\}`. The target gets no gradient.
    """

    def forward(self, x, y):
        self.save(x, y)
        return -(y * xp.maximum(xp.log(x), -100) + (1 - y) * xp.maximum(xp.log1p(-x), -100))

    def backward(self, lib, g, x, y):
        return g * (x - y) / lib.maximum(x * (1 - x), _BCE_EPS), None


def _picked(s, target):
    """``s[n, target[n], ...]``: each sample's entry of its target class. For (N, C) one
    fancy index (``take_along_axis`` builds its index in Python, about 10 µs a call)."""
    if s.ndim == 2:
        return s[xp.arange(s.shape[0]), target]
    return xp.take_along_axis(s, target[:, None], axis=1)[:, 0]
